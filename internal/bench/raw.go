package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// rawProduce is the produce limit: one O_APPEND write(2) per framed record,
// nothing else. It returns the elapsed ns.
func rawProduce(path string, frames [][]byte) (int64, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("raw produce: %w", err)
	}
	defer unix.Close(fd)
	t0 := mono()
	for _, f := range frames {
		if _, err := unix.Write(fd, f); err != nil {
			return 0, fmt.Errorf("raw produce: %w", err)
		}
	}
	return mono() - t0, nil
}

// rawProcess is the process limit: read the chunk file through one reused
// 1 MiB buffer (as the reference consumer does) and split it at '\n', each
// line sliced out as a reader must. It returns the elapsed ns and the number
// of lines. (os.ReadFile would allocate and fault in a fresh buffer the size
// of the file every time, which is slower than the reference and so no
// limit at all.)
func rawProcess(path string) (int64, int, error) {
	// Opening the file and making the buffer are timed, as they are for the
	// implementations (opening a consumer is part of "process").
	t0 := mono()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("raw process: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n, have := 0, 0
	var sink int
	for {
		m, err := f.Read(buf[have:])
		have += m
		data := buf[:have]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			sink += len(data[:i+1])
			n++
			data = data[i+1:]
		}
		have = copy(buf, data)
		if err == io.EOF || (m == 0 && err == nil) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("raw process: %w", err)
		}
		if have == len(buf) {
			return 0, 0, fmt.Errorf("raw process: a line longer than %d bytes", len(buf))
		}
	}
	_ = sink
	return mono() - t0, n, nil
}

// largestFile returns the largest regular file directly in dir: the chunk
// a single-chunk topic wrote.
func largestFile(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best, size := "", int64(-1)
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err == nil && fi.Size() > size {
			best, size = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	if best == "" {
		return "", fmt.Errorf("no file in %s", dir)
	}
	return best, nil
}

// rawWake measures the wake-up latency of a bare writer/reader pair: the
// writer takes a timestamp and appends one framed record; the reader wakes,
// preads the new bytes and takes its timestamp. In mode "inotify" the
// reader is blocked in poll(2) on an inotify descriptor watching the
// directory. In mode "spin" it busy-polls the quickest way there is: it
// watches the byte where the next record will begin through a read-only
// shared mapping of the file (no syscall; the write shows in the page
// cache the mapping shares), or loops on pread(2) when that byte starts a
// page not yet in the file (touching it would raise SIGBUS). Writes are
// spaced 50–250 µs apart so the inotify reader is asleep in the kernel each
// time.
func rawWake(dir, mode string, samples int, frame []byte) (*hdrhistogram.Histogram, error) {
	path := filepath.Join(dir, "wake-"+mode+".log")
	wfd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("raw wake-up: %w", err)
	}
	defer unix.Close(wfd)
	rfd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("raw wake-up: %w", err)
	}
	defer unix.Close(rfd)
	ino := -1
	if mode == "inotify" {
		ino, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("raw wake-up: inotify: %w", err)
		}
		defer unix.Close(ino)
		if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_MODIFY); err != nil {
			return nil, fmt.Errorf("raw wake-up: inotify watch: %w", err)
		}
	}
	var mem []byte
	if mode == "spin" {
		if mem, err = unix.Mmap(rfd, 0, 1<<30, unix.PROT_READ, unix.MAP_SHARED); err != nil {
			return nil, fmt.Errorf("raw wake-up: mmap: %w", err)
		}
		defer unix.Munmap(mem)
	}
	var sentAt, seen atomic.Int64 // seen: samples the reader has finished
	var stop atomic.Bool          // the writer gave up: the reader must return
	h := newHist()
	errc := make(chan error, 1) // the reader's one result
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, 64<<10)
		evbuf := make([]byte, 4096)
		var pos int64
		var w [4]byte
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		for i := 0; i < samples; {
			if stop.Load() {
				errc <- nil
				return
			}
			if mode == "inotify" {
				if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
					errc <- err
					return
				}
				for {
					if n, _ := unix.Read(ino, evbuf); n <= 0 {
						break
					}
				}
			} else if pos%int64(os.Getpagesize()) != 0 {
				// pos is in the file's last page, which is mapped: bytes
				// past the end read as zero until a write lands.
				word := (*uint32)(unsafe.Pointer(&mem[pos&^3]))
				for j := 1; ; j++ {
					binary.NativeEndian.PutUint32(w[:], atomic.LoadUint32(word))
					if w[pos&3] != 0 || (j%1024 == 0 && stop.Load()) {
						break
					}
				}
			}
			n, err := unix.Pread(rfd, buf, pos)
			if err != nil {
				errc <- err
				return
			}
			if n == 0 {
				continue
			}
			now := mono()
			pos += int64(n)
			record(h, now-sentAt.Load())
			i++
			seen.Store(int64(i))
		}
		errc <- nil
	}()
	werr := func() error {
		deadline := time.Now().Add(60 * time.Second)
		for i := 0; i < samples; i++ {
			if next := mono() + int64(50_000+rand.IntN(200_000)); mode == "spin" {
				spinUntil(next)
			} else {
				yieldUntil(next)
			}
			sentAt.Store(mono())
			if _, err := unix.Write(wfd, frame); err != nil {
				return err
			}
			for seen.Load() <= int64(i) {
				if time.Now().After(deadline) {
					return errors.New("reader stuck")
				}
				runtime.Gosched()
			}
		}
		return nil
	}()
	// The reader must be gone before the deferred unmap and closes.
	stop.Store(true)
	rerr := <-errc
	if werr == nil {
		werr = rerr
	}
	if werr != nil {
		return nil, fmt.Errorf("raw wake-up (%s): %w", mode, werr)
	}
	return h, nil
}
