package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/report"
)

// progress reports what runs now: on a terminal, one line rewritten in
// place once the run has taken over a second; otherwise plain lines.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	quiet bool
	start time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	pr := &progress{w: w, quiet: quiet, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		pr.tty = report.IsTerminal(f) && report.IsTerminal(os.Stdout)
	}
	return pr
}

func (p *progress) step(msg string) {
	if p == nil || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.start)
	if p.tty {
		if el < time.Second {
			return
		}
		fmt.Fprintf(p.w, "\r\033[K[%5.1fs] %s", el.Seconds(), msg)
		p.shown = true
		return
	}
	fmt.Fprintf(p.w, "klbench: [%5.1fs] %s\n", el.Seconds(), msg)
}

func (p *progress) warn(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "klbench: %s\n", msg)
}

// done clears the progress line.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

// clearLocked erases the progress line if one is shown; p.mu is held.
func (p *progress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
