package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// rawProduce is the produce limit of an implementation that appends one
// message per call: one O_APPEND write(2) per framed record, nothing else
// but one clock read per write into a histogram, as ref's driver takes. It
// returns the elapsed ns and the per-write latencies.
func rawProduce(path string, frames [][]byte) (int64, *hdrhistogram.Histogram, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, nil, fmt.Errorf("raw produce: %w", err)
	}
	defer unix.Close(fd)
	h := newHist()
	t0 := mono()
	prev := t0
	for _, f := range frames {
		if _, err := unix.Write(fd, f); err != nil {
			return 0, nil, fmt.Errorf("raw produce: %w", err)
		}
		now := mono()
		record(h, now-prev)
		prev = now
	}
	return prev - t0, h, nil
}

// rawProduceBatches is the produce limit of the implementations behind
// the protocol, which receive the messages batch at a time: one O_APPEND
// write(2) per batch of framed records (joined before the clock starts).
// Every message of a batch is charged the batch's write, as the protocol
// driver charges each message its request.
func rawProduceBatches(path string, batches [][]byte, batch int) (int64, *hdrhistogram.Histogram, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, nil, fmt.Errorf("raw batched produce: %w", err)
	}
	defer unix.Close(fd)
	h := newHist()
	t0 := mono()
	prev := t0
	for _, b := range batches {
		for len(b) > 0 {
			n, err := unix.Write(fd, b)
			if err != nil {
				return 0, nil, fmt.Errorf("raw batched produce: %w", err)
			}
			b = b[n:]
		}
		now := mono()
		_ = h.RecordValues(max(now-prev, 1), int64(batch))
		prev = now
	}
	return prev - t0, h, nil
}

// rawProcess is the process limit: read the chunk file through one reused
// 1 MiB buffer (as the reference consumer does) and split it at '\n', each
// line sliced out as a reader must. It returns the elapsed ns, the number
// of lines, and the time of each 4096 lines (the most a ref Poll in the
// process experiment returns). (os.ReadFile would allocate and fault in a
// fresh buffer the size of the file every time, which is slower than the
// reference and so no limit at all.)
func rawProcess(path string) (int64, int, *hdrhistogram.Histogram, error) {
	h := newHist()
	// Opening the file and making the buffer are timed, as they are for the
	// implementations (opening a consumer is part of "process").
	t0 := mono()
	prev := t0
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("raw process: %w", err)
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
			if n%4096 == 0 {
				now := mono()
				record(h, now-prev)
				prev = now
			}
			data = data[i+1:]
		}
		have = copy(buf, data)
		if err == io.EOF || (m == 0 && err == nil) {
			break
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("raw process: %w", err)
		}
		if have == len(buf) {
			return 0, 0, nil, fmt.Errorf("raw process: a line longer than %d bytes", len(buf))
		}
	}
	_ = sink
	now := mono()
	if n%4096 != 0 {
		record(h, now-prev)
	}
	return now - t0, n, h, nil
}

// refChunks returns the reference log's chunk files in dir (ref names
// them by number, 20 digits and ".log"), in order.
func refChunks(dir string) ([]string, error) {
	chunks, err := filepath.Glob(filepath.Join(dir, "[0-9]*.log"))
	if err == nil && len(chunks) == 0 {
		err = fmt.Errorf("no chunk in %s", dir)
	}
	sort.Strings(chunks)
	return chunks, err
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

// rawWake measures the wake-up latency of a bare writer/reader pair, on
// the schedule of the rate-limited experiment: the writer appends one framed
// record every interval ns from intended start times (open loop, without
// waiting for the reader), taking a timestamp before each write; the reader
// wakes, preads what is new and takes its timestamp, and each record's
// latency runs from its own send. In mode "inotify" the reader is blocked in
// poll(2) on an inotify descriptor watching the directory. In mode "spin" it
// busy-polls the quickest way there is: it watches the byte where the next
// record will begin through a read-only shared mapping of the file (no
// syscall; the write shows in the page cache the mapping shares), or loops
// on pread(2) when that byte starts a page not yet in the file (touching it
// would raise SIGBUS).
//
// (A closed loop with random gaps of 50 to 250 µs, tried first, swung from
// 10 to 60 µs at p50 between runs on a 2-core VM while the reference's
// e2e at 10k msg/s stayed at 17 to 20 µs: how long a vCPU has been idle
// changes what waking it costs. The same schedule on both sides makes the
// ratio hold still.)
//
// It returns the wake-up latencies and the writer's write(2) latencies
// (a write that wakes a sleeping reader costs more than one that does not).
func rawWake(dir, mode string, samples int, frame []byte, interval int64) (*hdrhistogram.Histogram, *hdrhistogram.Histogram, error) {
	path := filepath.Join(dir, "wake-"+mode+".log")
	wfd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("raw wake-up: %w", err)
	}
	defer unix.Close(wfd)
	rfd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("raw wake-up: %w", err)
	}
	defer unix.Close(rfd)
	ino := -1
	if mode == "inotify" {
		ino, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, nil, fmt.Errorf("raw wake-up: inotify: %w", err)
		}
		defer unix.Close(ino)
		if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_MODIFY); err != nil {
			return nil, nil, fmt.Errorf("raw wake-up: inotify watch: %w", err)
		}
	}
	var mem []byte
	if mode == "spin" {
		if mem, err = unix.Mmap(rfd, 0, 1<<30, unix.PROT_READ, unix.MAP_SHARED); err != nil {
			return nil, nil, fmt.Errorf("raw wake-up: mmap: %w", err)
		}
		defer unix.Munmap(mem)
	}
	sent := make([]atomic.Int64, samples)
	var stop atomic.Bool
	h, wh := newHist(), newHist()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, 1<<20)
		evbuf := make([]byte, 4096)
		var pos int64
		var w [4]byte
		fl := int64(len(frame))
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		for i := 0; i < samples; {
			if stop.Load() {
				errc <- fmt.Errorf("the reader saw %d of %d records", i, samples)
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
			for ; i < samples && int64(i+1)*fl <= pos; i++ {
				record(h, now-sent[i].Load())
			}
		}
		errc <- nil
	}()
	start := mono() + int64(time.Millisecond)
	var werr error
	for i := 0; i < samples; i++ {
		if t := start + int64(i)*interval; mode == "spin" {
			spinUntil(t)
		} else {
			yieldUntil(t)
		}
		s := mono()
		sent[i].Store(s)
		if _, err := unix.Write(wfd, frame); err != nil {
			werr = err
			break
		}
		record(wh, mono()-s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for werr == nil && len(errc) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	rerr := <-errc
	if werr == nil {
		werr = rerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("raw wake-up (%s): %w", mode, werr)
	}
	return h, wh, nil
}
