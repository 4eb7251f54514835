package ref

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// NoOffset is returned by Append: a record's offset is its place in the
// log, which readers count; a producer cannot know it without reading the
// chunk, so it does not pay for that on every append.
const NoOffset int64 = -1

// ErrShortWrite is returned when write(2) stored only part of a record (a
// full disk, a file size limit). The part stays in the file as a torn
// record that readers skip; it is never delivered, and later records are
// unaffected. The record was not appended.
var ErrShortWrite = errors.New("short write")

// ErrClosed is returned by a closed producer or consumer.
var ErrClosed = errors.New("closed")

// Producer appends records to a topic. Each record, or batch, is one
// write(2) on an O_APPEND descriptor, so records from any number of
// producers in any number of processes never interleave. A Producer is safe
// for concurrent use.
type Producer struct {
	t     *Topic
	now   func() int64 // the records' time; called with mu held
	clock wallClock

	mu     sync.Mutex
	fd     int    // O_APPEND descriptor of chunk `chunk`, -1 if none
	chunk  uint64 // chunk fd refers to
	buf    []byte
	head   headCache // the fixed fields of the last record framed
	dirty  bool      // data written since the last fdatasync (FsyncInterval)
	closed bool

	stop     chan struct{} // closes the interval syncer
	stopOnce sync.Once
	done     chan struct{}

	// testHookBeforeWrite, if set, runs between the first load of gen and
	// the write: tests use it to force a rotation into that window.
	testHookBeforeWrite func()
	// testHookAfterWrite, if set, runs between the write and the second
	// load of gen.
	testHookAfterWrite func()
}

// wallClock reads the wall clock with one clock read per call where
// time.Now makes two (wall and monotonic), which was a twentieth of klref
// produce: it adds the monotonic time since an anchor to the anchor's wall
// time, and re-reads the wall clock when the anchor is a second old. Both
// clocks run at the same rate (NTP slews them alike), so the result is
// time.Now's, except that a step of the wall clock shows up to a second
// late. Not safe for concurrent use.
type wallClock struct {
	anchor time.Time // with its monotonic reading
	wall   int64     // anchor's UnixNano
}

// now returns the wall clock in ns since the epoch.
func (w *wallClock) now() int64 {
	if w.wall != 0 {
		if d := time.Since(w.anchor); d >= 0 && d < time.Second {
			return w.wall + int64(d)
		}
	}
	w.anchor = time.Now()
	w.wall = w.anchor.UnixNano()
	return w.wall
}

// NewProducer returns a producer for t.
func (t *Topic) NewProducer() (*Producer, error) {
	// Readers learn the record limit from the control file, so a record
	// this producer accepts is one every reader can read.
	if err := t.ctl.raiseMaxRecord(t.opts.MaxRecordSize); err != nil {
		return nil, fmt.Errorf("topic %s: %w", t.name, err)
	}
	p := &Producer{t: t, fd: -1}
	p.now = p.clock.now
	if t.opts.Fsync == FsyncInterval {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.syncLoop()
	}
	return p, nil
}

// Append appends one record whose payload is a JSON value (without bytes
// 0x1E or 0x0A). It returns NoOffset: offsets are assigned by position.
// When Append returns nil, every consumer that reads that far sees the
// record, once, in the same place; an error means the record is not in the
// log.
func (p *Producer) Append(payload []byte) (int64, error) {
	return NoOffset, p.AppendBatch([][]byte{payload})
}

// AppendAt is Append of a record whose time is ts, in ns since the
// epoch, instead of the producer's clock at the append: Kafka's
// CreateTime, the time whoever made the record gives it (klref produce
// gives each line the time it read it). A time before 1970 is stored as
// 0.
func (p *Producer) AppendAt(ts int64, payload []byte) (int64, error) {
	return NoOffset, p.appendBatch(ts, true, [][]byte{payload})
}

// AppendBatch appends the payloads as consecutive records with one
// write(2): all of them land, adjacent and in order, or none does.
func (p *Producer) AppendBatch(payloads [][]byte) error {
	return p.appendBatch(0, false, payloads)
}

// appendBatch is AppendBatch, the records' time ts when given, else the
// clock's.
func (p *Producer) appendBatch(ts int64, given bool, payloads [][]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.buf = p.buf[:0]
	if !given {
		ts = p.now()
	}
	limit := p.t.opts.MaxRecordSize
	for i, pl := range payloads {
		ok := len(pl) > 0 && (limit <= 0 || len(pl) <= limit)
		if ok {
			p.buf, ok = appendFrameChecked(p.buf, kindData, ts, pl, &p.head)
		}
		if !ok {
			err := checkPayload(pl, limit)
			if err == nil {
				err = ErrBadPayload // appendFrameChecked found an LF or RS that checkPayload did not
			}
			return fmt.Errorf("append to %s: record %d: %w", p.t.name, i, err)
		}
	}
	return p.write(p.buf, len(payloads))
}

// write appends a framed batch with the seal protocol:
//
//  1. load gen; if a rotation is half done, finish it first;
//  2. write(2) to the active chunk;
//  3. load gen again. Unchanged: no seal was appended to the chunk before
//     step 3, so the batch precedes any seal and is in the log. This is the
//     common path: one syscall and two atomic loads.
//  4. Changed: compare the batch's position with the chunk's first seal.
//     Before it, the batch is in the log; after it, readers ignore it, so
//     write it again to the new active chunk.
func (p *Producer) write(frame []byte, nrec int) error {
	for {
		g1 := p.t.ctl.gen()
		c := g1 / 2
		if g1%2 == 1 {
			if err := p.t.finishRotation(c); err != nil {
				return fmt.Errorf("append to %s: %w", p.t.name, err)
			}
			continue
		}
		if err := p.openChunk(c); err != nil {
			return err
		}
		if p.testHookBeforeWrite != nil {
			p.testHookBeforeWrite()
		}
		n, err := unix.Write(p.fd, frame)
		if err != nil {
			return fmt.Errorf("append to %s chunk %d: %s not appended: %w%s", p.t.name, c, recordsDesc(nrec, len(frame)), err, p.writeCause(err, len(frame)))
		}
		if n < len(frame) {
			return fmt.Errorf("append to %s chunk %d: %w: %d of %d bytes written%s; %s not appended, and the %d bytes written stay as a torn fragment that readers skip",
				p.t.name, c, ErrShortWrite, n, len(frame), p.writeCause(nil, len(frame)-n), recordsDesc(nrec, len(frame)), n)
		}
		if p.testHookAfterWrite != nil {
			p.testHookAfterWrite()
		}
		if p.t.ctl.gen() != g1 {
			in, err := p.landedBeforeSeal(c, int64(n))
			if err != nil {
				return fmt.Errorf("append to %s: %w", p.t.name, err)
			}
			if !in {
				continue
			}
		}
		if err := p.synced(); err != nil {
			return err
		}
		recs, bytes := p.t.ctl.addAppended(uint64(nrec), uint64(n))
		if lim := p.t.opts.ChunkRecords; (lim > 0 && recs >= uint64(lim)) || bytes >= uint64(p.t.opts.ChunkBytes) {
			// The batch is in the log whatever happens here; a failed
			// rotation is retried by the next append or reader.
			_ = p.t.rotate(c)
		}
		return nil
	}
}

// recordsDesc names what an append carried, for its error.
func recordsDesc(nrec, bytes int) string {
	if nrec == 1 {
		return fmt.Sprintf("the record (%d bytes framed)", bytes)
	}
	return fmt.Sprintf("the batch of %d records (%d bytes framed)", nrec, bytes)
}

// writeCause explains a failed or short write to the producer's chunk:
// a full filesystem, or the process's file size limit. A short write
// carries no errno, so both are looked up; need is the bytes not written.
func (p *Producer) writeCause(err error, need int) string {
	var fs unix.Statfs_t
	if errors.Is(err, unix.ENOSPC) || (err == nil && unix.Fstatfs(p.fd, &fs) == nil && fs.Bfree*uint64(fs.Bsize) < uint64(need)) {
		return fmt.Sprintf(" (the filesystem of %s is full)", p.t.dir)
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_FSIZE, &lim) == nil && lim.Cur != unix.RLIM_INFINITY {
		var st unix.Stat_t
		if errors.Is(err, unix.EFBIG) || (err == nil && unix.Fstat(p.fd, &st) == nil && uint64(st.Size) >= lim.Cur) {
			return fmt.Sprintf(" (the process's file size limit, RLIMIT_FSIZE or ulimit -f, is %d bytes, and chunk %d reached it)", lim.Cur, p.chunk)
		}
	}
	if errors.Is(err, unix.EFBIG) {
		return " (the chunk reached the largest file size the filesystem allows)"
	}
	return ""
}

// landedBeforeSeal reports whether the n bytes just written to chunk c lie
// before the chunk's first seal. The descriptor's position is the end of
// our write (O_APPEND moves it to the end of file, then past our bytes).
func (p *Producer) landedBeforeSeal(c uint64, n int64) (bool, error) {
	end, err := unix.Seek(p.fd, 0, unix.SEEK_CUR)
	if err != nil {
		return false, fmt.Errorf("position in chunk %d: %w", c, err)
	}
	// gen moved past 2c, so sealing c has begun; make sure it is finished so
	// that the first seal is in the file.
	if err := p.t.finishRotation(c); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	// Read the chunk through our own descriptor: retention may have
	// unlinked it meanwhile, and its bytes decide whether our record was in
	// the log (then deleted with it, legitimately) or void.
	data, err := readFD(p.fd)
	if err != nil {
		return false, fmt.Errorf("read chunk %d: %w", c, err)
	}
	sealPos, _, sealed := scanSeal(data)
	if !sealed {
		return false, fmt.Errorf("chunk %d: rotation finished but no seal found", c)
	}
	return end-n < sealPos, nil
}

func (p *Producer) openChunk(c uint64) error {
	if p.fd >= 0 && p.chunk == c {
		return nil
	}
	if p.fd >= 0 {
		if err := p.syncNow(); err != nil {
			return err
		}
		_ = unix.Close(p.fd)
		p.fd = -1
	}
	// Read-write: the rare slow path reads the chunk back through this
	// descriptor, even after retention unlinked it.
	fd, err := unix.Open(p.t.chunkPath(c), unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open chunk %d of %s: %w", c, p.t.name, err)
	}
	p.fd, p.chunk = fd, c
	return nil
}

// readFD reads a whole file through a descriptor, without moving its
// position.
func readFD(fd int) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	data := make([]byte, st.Size)
	for off := 0; off < len(data); {
		n, err := pread(fd, data[off:], int64(off))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return data[:off], nil
		}
		off += n
	}
	return data, nil
}

// synced applies the fsync policy after a successful write.
func (p *Producer) synced() error {
	switch p.t.opts.Fsync {
	case FsyncAlways:
		if err := unix.Fdatasync(p.fd); err != nil {
			return fmt.Errorf("append to %s: fdatasync: %w", p.t.name, err)
		}
	case FsyncInterval:
		p.dirty = true
	}
	return nil
}

func (p *Producer) syncNow() error {
	if !p.dirty || p.fd < 0 {
		return nil
	}
	p.dirty = false
	if err := unix.Fdatasync(p.fd); err != nil {
		return fmt.Errorf("sync %s chunk %d: %w", p.t.name, p.chunk, err)
	}
	return nil
}

func (p *Producer) syncLoop() {
	defer close(p.done)
	tick := time.NewTicker(p.t.opts.FsyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.mu.Lock()
			_ = p.syncNow() // retried at the next tick and at Close
			p.mu.Unlock()
		}
	}
}

// Close syncs (in FsyncInterval mode) and releases the producer. It may
// be called more than once, from any goroutine.
func (p *Producer) Close() error {
	if p.stop != nil {
		// Two Closes at once must not both close stop: the first stops
		// the syncer, and every Close waits until it has.
		p.stopOnce.Do(func() { close(p.stop) })
		<-p.done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.syncNow()
	if p.fd >= 0 {
		if cerr := unix.Close(p.fd); err == nil && cerr != nil {
			err = fmt.Errorf("close chunk %d: %w", p.chunk, cerr)
		}
		p.fd = -1
	}
	return err
}
