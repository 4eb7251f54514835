package ref

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The multi-process tests re-execute the test binary as producer processes:
// TestMain dispatches on KLREF_HELPER. Each producer prints "ok SEQ" after
// every Append that returned nil, so the parent knows which records were
// confirmed even when it kills the producer.
func TestMain(m *testing.M) {
	switch os.Getenv("KLREF_HELPER") {
	case "":
		os.Exit(m.Run())
	case "producer":
		os.Exit(helperProducer())
	case "seekwrite":
		os.Exit(helperSeekWriter())
	case "drain":
		os.Exit(helperDrain())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(3)
	}
}

func envInt(name string) int {
	v, _ := strconv.Atoi(os.Getenv(name))
	return v
}

// testPayload is a JSON string that names its producer and sequence number
// and carries a checksum of its padding, so a torn or merged record is
// detectable: "ID:SEQ:CRC:PADDING".
func testPayload(id string, seq, size int) []byte {
	head := fmt.Sprintf("%s:%d:", id, seq)
	pad := strings.Repeat(string(rune('a'+seq%26)), max(0, size-len(head)-11))
	sum := crc32.ChecksumIEEE([]byte(head + pad))
	return []byte(fmt.Sprintf(`"%s%08x:%s"`, head, sum, pad))
}

// parseTestPayload checks a payload made by testPayload.
func parseTestPayload(v []byte) (id string, seq int, err error) {
	s := string(v)
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", 0, fmt.Errorf("not a JSON string: %.40q", s)
	}
	parts := strings.SplitN(s[1:len(s)-1], ":", 4)
	if len(parts) != 4 {
		return "", 0, fmt.Errorf("malformed: %.40q", s)
	}
	seq, err = strconv.Atoi(parts[1])
	if err != nil {
		return "", 0, fmt.Errorf("bad seq in %.40q", s)
	}
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(parts[0]+":"+parts[1]+":"+parts[3]))) != parts[2] {
		return "", 0, fmt.Errorf("checksum mismatch in %.40q (%d bytes)", s, len(s))
	}
	return parts[0], seq, nil
}

func helperOptions() Options {
	return Options{
		ChunkRecords:  envInt("KLREF_CHUNK_RECORDS"),
		ChunkBytes:    int64(envInt("KLREF_CHUNK_BYTES")),
		RetainChunks:  envInt("KLREF_RETAIN_CHUNKS"),
		MaxRecordSize: envInt("KLREF_MAX_RECORD"),
		Fsync:         FsyncMode(os.Getenv("KLREF_FSYNC")),
		AllowUnsafeFS: os.Getenv("KLREF_ALLOW_UNSAFE_FS") != "",
	}
}

func helperProducer() int {
	if limit := envInt("KLREF_FSIZE"); limit > 0 {
		// Get EFBIG and short writes instead of being killed by SIGXFSZ.
		signal.Ignore(syscall.SIGXFSZ)
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(limit), Max: uint64(limit)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	keepGoing := os.Getenv("KLREF_KEEP_GOING") != ""
	tp, err := Open(os.Getenv("KLREF_DIR"), "t", helperOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := tp.NewProducer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	id, size := os.Getenv("KLREF_ID"), envInt("KLREF_SIZE")
	if size > 1<<20 {
		// Tell the test the instant before write(2), after the frame is
		// built, so that its SIGKILL lands inside the write.
		p.testHookBeforeWrite = func() { os.Stdout.WriteString("appending\n") }
	}
	from, n := envInt("KLREF_FROM"), envInt("KLREF_N")
	for seq := from; seq < from+n; seq++ {
		payload := testPayload(id, seq, size)
		if _, err := p.Append(payload); err != nil {
			if keepGoing {
				os.Stdout.WriteString("fail " + strconv.Itoa(seq) + " " + err.Error() + "\n")
				continue
			}
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write(2) per line: the parent sees it even if we die next.
		if _, err := os.Stdout.WriteString("ok " + strconv.Itoa(seq) + "\n"); err != nil {
			return 1
		}
	}
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// helperSeekWriter is the negative control: it appends framed records to the
// active chunk without O_APPEND, by seeking to the end and then writing, as
// a naive implementation would.
func helperSeekWriter() int {
	tp, err := Open(os.Getenv("KLREF_DIR"), "t", helperOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fd, err := unix.Open(tp.chunkPath(tp.ActiveChunk()), unix.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	id, size, n := os.Getenv("KLREF_ID"), envInt("KLREF_SIZE"), envInt("KLREF_N")
	for seq := range n {
		rec := appendFrame(nil, kindData, time.Now().UnixNano(), testPayload(id, seq, size))
		if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
			return 1
		}
		if _, err := unix.Write(fd, rec); err != nil {
			return 1
		}
		os.Stdout.WriteString("ok " + strconv.Itoa(seq) + "\n")
	}
	return 0
}

// proc is a helper process and the sequence numbers it confirmed.
type proc struct {
	id    string
	cmd   *exec.Cmd
	mu    sync.Mutex
	oks   []int
	fails []string
	done  chan error
	// appending receives a value each time the process is about to
	// write(2) a large record.
	appending chan struct{}
}

func startHelper(t testing.TB, mode, dir, id string, env map[string]int, extraEnv ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KLREF_HELPER="+mode, "KLREF_DIR="+dir, "KLREF_ID="+id)
	cmd.Env = append(cmd.Env, extraEnv...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, fmt.Sprintf("KLREF_%s=%d", k, v))
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{id: id, cmd: cmd, done: make(chan error, 1), appending: make(chan struct{}, 1000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "appending" {
				p.appending <- struct{}{}
				continue
			}
			if strings.HasPrefix(sc.Text(), "fail ") {
				p.mu.Lock()
				p.fails = append(p.fails, sc.Text())
				p.mu.Unlock()
				continue
			}
			if seq, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ok ")); err == nil {
				p.mu.Lock()
				p.oks = append(p.oks, seq)
				p.mu.Unlock()
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	return p
}

func (p *proc) confirmed() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.oks...)
}

// wait waits for the process to exit, failing the test after timeout.
func (p *proc) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		t.Fatalf("producer %s did not finish within %v", p.id, timeout)
		return nil
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
}

// helperDrain opens the topic, prints every record it can read now as
// "rec OFFSET VALUE", appends KLREF_AFTER records from producer "after",
// and prints what it reads then, followed by "end". It reads in a process
// of its own because the test process may be the one serving the FUSE
// mount the topic is on, and a process must not fault on a mapping of a
// FUSE file it serves itself (the control file is mapped): Go's
// stop-the-world would wait for the faulting thread, which waits for the
// server, which cannot run.
func helperDrain() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 2 }
	tp, err := Open(os.Getenv("KLREF_DIR"), "t", helperOptions())
	if err != nil {
		return fail(err)
	}
	defer tp.Close()
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: WaitPoll})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	drain := func() error {
		for {
			recs, err := c.TryPoll(1000)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			for _, r := range recs {
				fmt.Fprintf(w, "rec %d %s\n", r.Offset, r.Value)
			}
		}
	}
	if err := drain(); err != nil {
		return fail(err)
	}
	p, err := tp.NewProducer()
	if err != nil {
		return fail(err)
	}
	for i := range envInt("KLREF_AFTER") {
		if _, err := p.Append(testPayload("after", i, 120)); err != nil {
			return fail(err)
		}
	}
	if err := p.Close(); err != nil {
		return fail(err)
	}
	if err := drain(); err != nil {
		return fail(err)
	}
	fmt.Fprintln(w, "end")
	return 0
}
