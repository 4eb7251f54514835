package run

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// stderrKeep is how many bytes of a client's stderr are kept in memory.
const stderrKeep = 64 << 10

// stderrLog captures one client process's stderr: the last bytes in
// memory, and all of it in a log file when the run has an output
// directory.
type stderrLog struct {
	path string // "" when kept in memory only
	file *os.File

	mu     sync.Mutex
	tail   []byte
	werr   error // the first error writing the file
	closed chan struct{}
}

// newStderrLog creates the log; with a path, the file is created (and its
// directory).
func newStderrLog(path string) (*stderrLog, error) {
	l := &stderrLog{path: path, closed: make(chan struct{})}
	if path == "" {
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create client log directory: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create client log: %w", err)
	}
	l.file = f
	return l, nil
}

// readFrom copies r into the log until r ends, then closes r and the file.
func (l *stderrLog) readFrom(r io.ReadCloser) {
	defer close(l.closed)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			l.write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	_ = r.Close()
	if l.file != nil {
		if err := l.file.Close(); err != nil {
			l.setErr(err)
		}
	}
}

func (l *stderrLog) write(b []byte) {
	l.mu.Lock()
	l.tail = append(l.tail, b...)
	if len(l.tail) > 2*stderrKeep {
		l.tail = append([]byte(nil), l.tail[len(l.tail)-stderrKeep:]...)
	}
	f, failed := l.file, l.werr != nil
	l.mu.Unlock()
	if f != nil && !failed {
		if _, err := f.Write(b); err != nil {
			l.setErr(err)
		}
	}
}

func (l *stderrLog) setErr(err error) {
	l.mu.Lock()
	if l.werr == nil {
		l.werr = fmt.Errorf("write client log %s: %w", l.path, err)
	}
	l.mu.Unlock()
}

// err returns the first error writing the log file.
func (l *stderrLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.werr
}

// waitClosed waits up to timeout for the client's stderr to end.
func (l *stderrLog) waitClosed(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-l.closed:
	case <-t.C:
	}
}

// lastLines returns up to n last lines of the stderr captured so far, each
// clipped to 300 bytes.
func (l *stderrLog) lastLines(n int) []string {
	l.mu.Lock()
	b := bytes.TrimRight(l.tail, "\n")
	b = append([]byte(nil), b...)
	l.mu.Unlock()
	if len(b) == 0 {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, s := range lines {
		s = strings.TrimRight(s, "\r")
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		lines[i] = s
	}
	return lines
}
