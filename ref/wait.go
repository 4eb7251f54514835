package ref

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

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
	// WaitSpin busy-waits, watching the end of the chunk through a shared
	// mapping where it can (see spinWaiter): the lowest latency, and a
	// whole core. Only for latency benchmarks.
	WaitSpin WaitStrategy = "spin"
)

// waiter blocks a consumer until the topic may have changed.
type waiter interface {
	// wait returns when the topic may have changed, after at most max, or
	// with ctx's error once ctx is done.
	wait(ctx context.Context, max time.Duration) error
	// drain forgets pending notifications; call it before re-reading.
	drain()
	// at says where the next byte will appear: at pos in f, the current
	// chunk. Only the spin waiter uses it.
	at(f *os.File, pos int64)
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
		return &spinWaiter{}, nil
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

func (w *inotifyWaiter) at(*os.File, int64) {}

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

func (w *sleepWaiter) drain()             {}
func (w *sleepWaiter) at(*os.File, int64) {}
func (w *sleepWaiter) interrupt() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
func (w *sleepWaiter) close() error { return nil }

// spinWaiter busy-waits. While it knows where the next byte of the current
// chunk will appear (see at), it watches that byte through a read-only
// shared mapping of the chunk: bytes past the end of a file read as zero
// within its last page, and a producer's write(2) changes them in the page
// cache that the mapping shows, so the waiter sees a record begin (every
// record starts with the non-zero RS byte) without a syscall. Otherwise, or
// after spinSlice, it returns at once and the consumer re-reads.
type spinWaiter struct {
	f     *os.File // the chunk mem maps
	mem   []byte
	noMap bool  // mapping failed or faulted once: plain re-reading
	pos   int64 // file position of the next byte, in f
}

const (
	// spinMapLen is how much of a chunk the spin waiter maps: address space
	// only, nothing is read until touched.
	spinMapLen = 1 << 30
	// spinSlice bounds one watch, so that the consumer still looks for
	// rotations, Close and ctx's end between watches.
	spinSlice = 50 * time.Microsecond
)

var pageSize = int64(os.Getpagesize())

// at tells the waiter that the next byte will appear at pos in f.
func (w *spinWaiter) at(f *os.File, pos int64) {
	w.pos = pos
	if w.f == f || w.noMap || f == nil {
		return
	}
	w.unmap()
	mem, err := unix.Mmap(int(f.Fd()), 0, spinMapLen, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		w.noMap = true
		return
	}
	w.f, w.mem = f, mem
}

func (w *spinWaiter) unmap() {
	if w.mem != nil {
		_ = unix.Munmap(w.mem)
	}
	w.f, w.mem = nil, nil
}

func (w *spinWaiter) wait(ctx context.Context, _ time.Duration) error {
	// Only a byte in the page that holds the end of the file may be
	// touched: a page wholly past the end raises SIGBUS. The consumer read
	// up to pos, so pos's page is backed unless pos starts a page.
	if w.mem != nil && w.pos%pageSize != 0 && w.pos < int64(len(w.mem)) {
		w.watch()
	} else {
		runtime.Gosched()
	}
	return ctx.Err()
}

// watch spins until the byte at pos is non-zero or spinSlice has passed.
// Should the chunk shrink under the mapping (nothing in this package
// truncates a chunk, but another program could), the fault becomes a
// recovered panic and the waiter stops mapping.
func (w *spinWaiter) watch() {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			w.unmap()
			w.noMap = true
		}
	}()
	// The byte is read through an atomic load of its aligned word, so that
	// the compiler reloads it on every turn.
	word := (*uint32)(unsafe.Pointer(&w.mem[w.pos&^3]))
	k := w.pos & 3
	var b [4]byte
	deadline := time.Now().Add(spinSlice)
	for i := 1; ; i++ {
		binary.NativeEndian.PutUint32(b[:], atomic.LoadUint32(word))
		if b[k] != 0 {
			return
		}
		if i%512 == 0 && time.Now().After(deadline) {
			return
		}
	}
}

func (w *spinWaiter) drain()     {}
func (w *spinWaiter) interrupt() {}
func (w *spinWaiter) close() error {
	w.unmap()
	return nil
}
