package ref

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// WaitStrategy is how a consumer waits for new records at the end of the
// log.
type WaitStrategy string

// Wait strategies.
const (
	// WaitInotify sleeps until inotify reports a change in the topic
	// directory (the default). It re-checks at least every PollInterval in
	// case an event was lost (IN_Q_OVERFLOW) or a rotation needs finishing.
	WaitInotify WaitStrategy = "inotify"
	// WaitPoll re-reads every PollInterval.
	WaitPoll WaitStrategy = "poll"
	// WaitSpin re-reads in a loop without sleeping: the lowest latency, and
	// a whole core. Only for latency benchmarks.
	WaitSpin WaitStrategy = "spin"
)

// waiter blocks a consumer until the topic may have changed.
type waiter interface {
	// wait returns when the topic may have changed, after at most max, or
	// with ctx's error once ctx is done.
	wait(ctx context.Context, max time.Duration) error
	// drain forgets pending notifications; call it before re-reading.
	drain()
	// interrupt wakes a wait in progress (used by Close).
	interrupt()
	close() error
}

func newWaiter(s WaitStrategy, dir string) (waiter, error) {
	switch s {
	case WaitInotify, "":
		w, err := newInotifyWaiter(dir)
		if err != nil {
			// No inotify (a limit reached, an exotic filesystem): fall back
			// to polling rather than fail.
			return newSleepWaiter(), nil
		}
		return w, nil
	case WaitPoll:
		return newSleepWaiter(), nil
	case WaitSpin:
		return spinWaiter{}, nil
	}
	return nil, fmt.Errorf("wait strategy %q: want inotify, poll or spin", s)
}

// inotifyWaiter waits on an inotify descriptor watching the topic directory
// (IN_MODIFY fires for writes to any chunk in it, IN_CREATE and IN_MOVED_TO
// for new chunks) and on an eventfd that Close and context cancellation
// write to.
type inotifyWaiter struct {
	ino, wake int
	buf       []byte
}

func newInotifyWaiter(dir string) (*inotifyWaiter, error) {
	ino, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(ino)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ino)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &inotifyWaiter{ino: ino, wake: wake, buf: make([]byte, 64<<10)}, nil
}

func (w *inotifyWaiter) drain() {
	for {
		// Events (IN_Q_OVERFLOW included) only mean "look again", so
		// their contents do not matter.
		if n, err := unix.Read(w.ino, w.buf); n <= 0 || err != nil {
			return
		}
	}
}

func (w *inotifyWaiter) interrupt() {
	var one = [8]byte{1}
	_, _ = unix.Write(w.wake, one[:])
}

func (w *inotifyWaiter) wait(ctx context.Context, max time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < max {
			max = d
		}
	}
	stop := context.AfterFunc(ctx, w.interrupt)
	defer stop()
	ms := int((max + time.Millisecond - 1) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	fds := []unix.PollFd{{Fd: int32(w.ino), Events: unix.POLLIN}, {Fd: int32(w.wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for new records: %w", err)
		}
		break
	}
	if fds[1].Revents != 0 {
		var b [8]byte
		_, _ = unix.Read(w.wake, b[:])
	}
	return ctx.Err()
}

func (w *inotifyWaiter) close() error {
	err := unix.Close(w.ino)
	if cerr := unix.Close(w.wake); err == nil {
		err = cerr
	}
	return err
}

// sleepWaiter polls: it sleeps, and Close or ctx wake it early.
type sleepWaiter struct{ wake chan struct{} }

func newSleepWaiter() *sleepWaiter { return &sleepWaiter{wake: make(chan struct{}, 1)} }

func (w *sleepWaiter) wait(ctx context.Context, max time.Duration) error {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.wake:
	case <-t.C:
	}
	return ctx.Err()
}

func (w *sleepWaiter) drain() {}
func (w *sleepWaiter) interrupt() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
func (w *sleepWaiter) close() error { return nil }

// spinWaiter returns at once: the consumer re-reads in a busy loop.
type spinWaiter struct{}

func (spinWaiter) wait(ctx context.Context, _ time.Duration) error {
	runtime.Gosched()
	return ctx.Err()
}
func (spinWaiter) drain()       {}
func (spinWaiter) interrupt()   {}
func (spinWaiter) close() error { return nil }
