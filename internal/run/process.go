package run

import (
	"github.com/kafka-lite/kafka-lite/internal/protocol"

	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// xfszWrapper is the script that starts a client under RLIMIT_FSIZE: it
// sets SIGXFSZ to ignored (which survives exec) and execs the client, so a
// write past the limit fails with EFBIG instead of killing the client. The
// limit itself is set on the shell's pid with prlimit right after it
// starts, before the client is sent init: it cannot have written to the
// topic yet.
const xfszWrapper = `trap '' XFSZ; exec "$@"`

// process is one client process: one session of a client. It runs in its
// own process group so that signals reach everything it started.
type process struct {
	cmd     *exec.Cmd
	pid     int
	session int      // the client session it runs
	logPath string   // its stderr log file ("" when in memory)
	stdin   *os.File // our write end of its stdin
	stdout  *os.File // our read end of its stdout
	stderr  *stderrLog

	done    chan struct{} // closed when the process has been reaped
	waitErr error         // its exit status, valid after done

	killed atomic.Bool // the harness sent SIGKILL
	paused atomic.Bool

	conn *protocol.Conn // the connection to it, closed when it is reaped

	sigMu     sync.Mutex
	groupGone bool // the group was reaped and swept: never signal it again
	mu        sync.Mutex
	restart   *restartPlan // what to do after a harness kill (nil = end the client)
}

// Signals the faults send.
const (
	sigSTOP = syscall.SIGSTOP
	sigCONT = syscall.SIGCONT
)

// restartPlan says whether and when a killed client comes back.
type restartPlan struct {
	after time.Duration
}

// startProcess starts argv in its own process group with pipes for stdin,
// stdout and stderr. The stderr lines go to log, and so does stdout when
// stdoutToLog is set (a server, which speaks no protocol on it; p.stdout is
// then nil). With fsize > 0 the process runs under RLIMIT_FSIZE = fsize
// with SIGXFSZ ignored.
func startProcess(argv []string, fsize int64, log *stderrLog, stdoutToLog bool) (*process, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command line")
	}
	if fsize > 0 {
		argv = append([]string{"/bin/sh", "-c", xfszWrapper, "sh"}, argv...)
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	outR, outW := (*os.File)(nil), errW
	if !stdoutToLog {
		if outR, outW, err = pipe(); err != nil {
			closeAll()
			return nil, fmt.Errorf("stdout pipe: %w", err)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Setpgid: signals go to the whole group. Pdeathsig: if the harness
	// itself dies, the kernel kills the client.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, err
	}
	_ = inR.Close()
	if !stdoutToLog {
		_ = outW.Close()
	}
	_ = errW.Close()
	p := &process{cmd: cmd, pid: cmd.Process.Pid, stdin: inW, stdout: outR, stderr: log, done: make(chan struct{})}
	go log.readFrom(errR)
	go func() {
		p.waitErr = cmd.Wait()
		// Kill stragglers of the group (a grandchild that outlived its
		// parent) once, now, and never signal the group again: once it is
		// empty its id may be reused by an unrelated process group.
		p.sigMu.Lock()
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		p.groupGone = true
		p.sigMu.Unlock()
		close(p.done)
	}()
	if fsize > 0 {
		lim := unix.Rlimit{Cur: uint64(fsize), Max: uint64(fsize)}
		if err := unix.Prlimit(p.pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
			p.signal(syscall.SIGKILL)
			p.reap(5 * time.Second)
			return nil, fmt.Errorf("set RLIMIT_FSIZE=%d on pid %d: %w", fsize, p.pid, err)
		}
	}
	return p, nil
}

// signal sends sig to the process group.
func (p *process) signal(sig syscall.Signal) {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if !p.groupGone {
		_ = syscall.Kill(-p.pid, sig)
	}
}

// kill sends SIGKILL to the process group on the harness's behalf; it
// returns false when the process had already ended or been killed.
func (p *process) kill(plan *restartPlan) bool {
	if p.exited() || !p.killed.CompareAndSwap(false, true) {
		return false
	}
	p.mu.Lock()
	p.restart = plan
	p.mu.Unlock()
	p.signal(syscall.SIGKILL)
	// A stopped process dies of SIGKILL too, but continue it anyway so
	// nothing stays stopped.
	p.signal(syscall.SIGCONT)
	return true
}

// plan returns the restart plan given with the kill.
func (p *process) plan() *restartPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restart
}

// exited tells whether the process has been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end; it reports whether it
// did.
func (p *process) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// reap kills the process group if it is still running and waits up to
// timeout for it; it closes the pipes. It reports whether the process was
// reaped.
func (p *process) reap(timeout time.Duration) bool {
	if !p.exited() {
		p.killed.Store(true)
		p.signal(syscall.SIGKILL)
		p.signal(syscall.SIGCONT)
	}
	ok := p.wait(timeout)
	_ = p.stdin.Close()
	if p.stdout != nil {
		_ = p.stdout.Close()
	}
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	return ok
}

// exitStatus describes how the process ended, or "" if it has not.
func (p *process) exitStatus() string {
	if !p.exited() {
		return ""
	}
	if p.waitErr == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	return p.waitErr.Error()
}

// procSet is every process a run started, for cleanup on every exit path.
type procSet struct {
	mu    sync.Mutex
	procs map[*process]bool
}

func newProcSet() *procSet { return &procSet{procs: map[*process]bool{}} }

func (s *procSet) add(p *process) {
	s.mu.Lock()
	s.procs[p] = true
	s.mu.Unlock()
}

// killAll kills and reaps every process still running, waiting up to
// timeout for each; it returns the pids that could not be reaped.
func (s *procSet) killAll(timeout time.Duration) []int {
	s.mu.Lock()
	procs := make([]*process, 0, len(s.procs))
	for p := range s.procs {
		procs = append(procs, p)
	}
	s.procs = map[*process]bool{}
	s.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			p.killed.Store(true)
			p.signal(syscall.SIGKILL)
			p.signal(syscall.SIGCONT)
		}
	}
	var stuck []int
	for _, p := range procs {
		if !p.reap(timeout) {
			stuck = append(stuck, p.pid)
		}
	}
	return stuck
}
