package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kafka-lite/kafka-lite/internal/run"
)

// IsTerminal tells whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// CheckProgress shows klcheck's progress: on a terminal one line updated
// in place with carriage returns; otherwise one plain line per scenario
// start and end (for CI logs).
type CheckProgress struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	shown bool // a progress line is on screen
	err   error
}

// NewCheckProgress returns a progress writer to w; tty selects the
// carriage-return line.
func NewCheckProgress(w io.Writer, tty bool) *CheckProgress {
	return &CheckProgress{w: w, tty: tty}
}

func (p *CheckProgress) write(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s)
	}
}

// Start announces a scenario; i and n number it among the run's.
func (p *CheckProgress) Start(i, n int, name string, seed int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.write(fmt.Sprintf("\r\033[K[%d/%d] %s (seed %d) starting", i, n, name, seed))
		p.shown = true
		return
	}
	p.write(fmt.Sprintf("[%d/%d] %s (seed %d) ...\n", i, n, name, seed))
}

// Update shows a snapshot of the running scenario (terminal only).
func (p *CheckProgress) Update(s run.Progress) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := s.Counts
	p.write(fmt.Sprintf("\r\033[K%s: %s %5.1fs  ops %d  appended %d  delivered %d  kills %d  pauses %d",
		s.Scenario, s.Phase, s.Elapsed.Seconds(), c.Ops, c.ValuesAcked, c.Delivered, c.Kills, c.Pauses))
	p.shown = true
}

// Done reports a finished scenario on its own line.
func (p *CheckProgress) Done(r *run.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		p.write("\r\033[K")
		p.shown = false
	}
	losses := ""
	if n := r.Counts.PowerLosses; n > 0 {
		losses = fmt.Sprintf(", %d power losses", n)
	}
	p.write(fmt.Sprintf("%-5s %s (seed %d, %s, %d ops, %d kills%s)\n", strings.ToUpper(string(r.Status)), r.Scenario, r.Seed,
		r.Duration.Round(10*time.Millisecond), r.Counts.Ops, r.Counts.Kills, losses))
}

// Clear removes the progress line, if one is shown.
func (p *CheckProgress) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		p.write("\r\033[K")
		p.shown = false
	}
}

// Err returns the first write error.
func (p *CheckProgress) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
