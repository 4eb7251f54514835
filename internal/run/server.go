package run

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// Server is an engine server that klcheck starts, stops, and kills for the
// scenario's server faults (target: server). The implementation's clients
// connect to it by themselves (a nats:// URL names the same address).
type Server struct {
	// Argv is the server's command line. Every "{dir}" in it is replaced
	// with the scenario's server state directory, which survives the
	// server's restarts within one scenario and is fresh for each.
	Argv []string `json:"argv"`
	// Addr is the host:port the server listens on; the server is ready
	// when a TCP connection to it succeeds.
	Addr string `json:"addr"`
	// ReadyTimeout bounds each start, until the address accepts
	// connections (default DefaultServerReadyTimeout).
	ReadyTimeout time.Duration `json:"-"`
}

// DefaultServerReadyTimeout is Server.ReadyTimeout's default: room for a
// JVM-based broker to recover its log on a loaded machine.
const DefaultServerReadyTimeout = 60 * time.Second

// readyTimeout returns the bound of one start.
func (s Server) readyTimeout() time.Duration {
	if s.ReadyTimeout > 0 {
		return s.ReadyTimeout
	}
	return DefaultServerReadyTimeout
}

// ServerDirPlaceholder is replaced in Server.Argv by the state directory.
const ServerDirPlaceholder = "{dir}"

// Bounds of the server's lifecycle.
const (
	serverStopTimeout = 10 * time.Second       // SIGTERM, then SIGKILL
	serverReadyPoll   = 20 * time.Millisecond  // between connection attempts
	serverGrace       = 500 * time.Millisecond // wait before a failed client restarts during an outage
)

// serverRole is history.Op.Role for the server's lifecycle entries; the
// checks look only at producers and consumers.
const serverRole = "server"

// serverProc is the running server of one scenario.
type serverProc struct {
	r      *runner
	spec   Server
	argv   []string
	logDir string

	mu   sync.Mutex
	proc *process // the current server process
	n    int      // processes started
	// faultedAt is when the last server fault began; recoveredAt when the
	// server was last ready again after it (zero while it is down).
	faultedAt, recoveredAt time.Time
}

// newServer prepares spec for one scenario: its state directory is dir.
func newServer(r *runner, spec Server, dir, logDir string) *serverProc {
	argv := make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		argv[i] = strings.ReplaceAll(a, ServerDirPlaceholder, dir)
	}
	return &serverProc{r: r, spec: spec, argv: argv, logDir: logDir}
}

// listening tells whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// start starts the server, its stdout and stderr into server.N.log, and
// waits until it accepts connections, up to timeout. The server must not
// be running.
func (s *serverProc) start(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	log, err := newStderrLog(filepath.Join(s.logDir, fmt.Sprintf("server.%d.log", n)))
	if err != nil {
		return s.r.outputError(fmt.Errorf("server: %w", err))
	}
	s.r.addLog(log)
	at := s.r.rec.now()
	p, err := startProcess(s.argv, 0, log, true)
	if err != nil {
		return s.harnessError(nil, "start", fmt.Sprintf("cannot start the server %q: %v", strings.Join(s.argv, " "), err), err)
	}
	p.session, p.logPath = n, log.path
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for !listening(s.spec.Addr) {
		if p.exited() {
			return s.harnessError(p, "start", fmt.Sprintf("the server exited before it listened on %s (%s)", s.spec.Addr, p.exitStatus()), nil)
		}
		if time.Now().After(deadline) {
			return s.harnessError(p, "start", fmt.Sprintf("the server did not listen on %s within %v", s.spec.Addr, timeout), nil)
		}
		if !sleepCtx(ctx, serverReadyPoll) {
			p.reap(reapTimeout)
			return errStopped
		}
	}
	op := s.op(history.FStart)
	op.Invoke, op.Complete, op.Error = at, s.r.rec.now(), fmt.Sprintf("pid %d, listening on %s", p.pid, s.spec.Addr)
	s.r.rec.add(op, "")
	s.mu.Lock()
	if !s.faultedAt.IsZero() {
		s.recoveredAt = time.Now()
	}
	s.mu.Unlock()
	return nil
}

// op returns a history entry for the server.
func (s *serverProc) op(f string) history.Op {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	return history.Op{Client: serverRole, Session: n, Role: serverRole, F: f, Phase: phaseMain, Outcome: history.OK}
}

// current returns the current server process (nil before the first).
func (s *serverProc) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// stop ends the server at the end of a scenario: SIGTERM, then SIGKILL
// after serverStopTimeout. It reports whether the server was reaped.
func (s *serverProc) stop() bool {
	p := s.current()
	if p == nil {
		return true
	}
	if !p.exited() {
		p.signal(sigCONT)
		p.signal(syscall.SIGTERM)
		p.wait(serverStopTimeout)
	}
	return p.reap(reapTimeout)
}

// markFaulted notes that a fault took the server down just now: client
// failures are excused until it is back and settled (excuses).
func (s *serverProc) markFaulted() {
	s.mu.Lock()
	s.faultedAt, s.recoveredAt = time.Now(), time.Time{}
	s.mu.Unlock()
}

// fault applies a server fault: SIGKILL, then a restart after
// RestartAfterMS, or SIGSTOP for PauseMS. It returns once the server is
// ready again, even if ctx ends meanwhile: the drain needs it. A power
// loss waits for it (the run's gate).
func (s *serverProc) fault(fs *faultState, reason string) error {
	s.r.gate.RLock()
	defer s.r.gate.RUnlock()
	if !fs.tryFire() {
		return nil
	}
	s.markFaulted()
	p := s.current()
	switch fs.f.Kind {
	case scenario.FaultKill:
		op := s.op(history.FKill)
		op.Invoke = s.r.rec.now()
		p.kill(nil)
		if !p.reap(reapTimeout) {
			return s.harnessError(p, "internal", "the server did not die of SIGKILL within "+reapTimeout.String(), nil)
		}
		op.Complete, op.Error = s.r.rec.now(), reason
		s.r.rec.add(op, "")
		time.Sleep(time.Duration(fs.f.RestartAfterMS) * time.Millisecond)
		// Restart with the server's own bound, not the fault loop's
		// context: the drain must find the server up.
		return s.start(context.Background(), s.spec.readyTimeout())
	case scenario.FaultPause:
		op := s.op(history.FPause)
		op.Invoke = s.r.rec.now()
		p.signal(sigSTOP)
		op.Complete, op.Error = s.r.rec.now(), reason
		s.r.rec.add(op, "")
		time.Sleep(time.Duration(fs.f.PauseMS) * time.Millisecond)
		op = s.op(history.FResume)
		op.Invoke = s.r.rec.now()
		p.signal(sigCONT)
		op.Complete, op.Error = s.r.rec.now(), fmt.Sprintf("after %v", time.Duration(fs.f.PauseMS)*time.Millisecond)
		s.r.rec.add(op, "")
		s.mu.Lock()
		s.recoveredAt = time.Now()
		s.mu.Unlock()
	}
	return nil
}

// excuses tells whether a client operation invoked at invoked can have
// failed because of a server fault: the server was down, or came back
// less than the op timeout before, so a client may still be reconnecting.
func (s *serverProc) excuses(invoked time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faultedAt.IsZero() {
		return false
	}
	if s.recoveredAt.IsZero() {
		return true // down now
	}
	return invoked.Before(s.recoveredAt.Add(max(s.r.opTimeout, 5*time.Second)))
}

// harnessError is a failure of the server itself: it reaps p, if any,
// and reports how it ended and the tail of its log.
func (s *serverProc) harnessError(p *process, kind, detail string, err error) *HarnessError {
	he := &HarnessError{Scenario: s.r.sc.Name, Client: serverRole, Kind: kind, Detail: detail,
		Impl: Impl{Argv: s.argv}.String(), Err: err}
	if p != nil {
		p.reap(reapTimeout)
		p.stderr.waitClosed(500 * time.Millisecond)
		he.ExitStatus, he.StderrTail, he.LogPath = p.exitStatus(), p.stderr.lastLines(StderrTailLines), p.logPath
	}
	return he
}

// serverFaults tells whether sc kills or pauses the server.
func serverFaults(sc *scenario.Scenario) bool {
	for _, f := range sc.Faults {
		if f.Target == scenario.TargetServer {
			return true
		}
	}
	return false
}
