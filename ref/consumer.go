package ref

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// StartFrom says where a new consumer begins.
type StartFrom int

// Start positions.
const (
	// FromAcked starts after the group's last ack, or at the earliest record
	// if the group has none (requires ConsumerOptions.Group). The default.
	FromAcked StartFrom = iota
	// FromEarliest starts at the oldest record still kept.
	FromEarliest
	// FromLatest starts after the last record appended before the consumer
	// opened.
	FromLatest
	// FromOffset starts at ConsumerOptions.Offset.
	FromOffset
)

// ResetPolicy says what a consumer does when the record it needs next was
// deleted by retention, like Kafka's auto.offset.reset.
type ResetPolicy string

// Reset policies.
const (
	// ResetEarliest moves to the oldest record still kept and reports a
	// ProblemReset through OnProblem (the default).
	ResetEarliest ResetPolicy = "earliest"
	// ResetError makes Poll (or NewConsumer) fail with ErrOffsetOutOfRange.
	ResetError ResetPolicy = "error"
)

// ErrOffsetOutOfRange is returned under ResetError when the next record
// was deleted by retention.
var ErrOffsetOutOfRange = errors.New("offset out of range: deleted by retention")

// ConsumerOptions configures a consumer.
type ConsumerOptions struct {
	// Group names the consumer group whose acks this consumer writes and
	// resumes from; "" for none. At most one live consumer per group: a
	// second one gets ErrGroupBusy.
	Group string
	// From is the start position; FromAcked needs a Group.
	From StartFrom
	// Offset is the first offset wanted, for FromOffset.
	Offset int64
	// Wait is how to wait at the end of the log (default WaitInotify).
	Wait WaitStrategy
	// PollInterval is WaitPoll's period, and the longest WaitInotify sleeps
	// without an event before it looks again (defaults: 1 ms and 100 ms).
	PollInterval time.Duration
	// OffsetReset applies when the next record was deleted by retention.
	OffsetReset ResetPolicy
	// OnProblem, if set, is called for damage skipped (torn or corrupt
	// records) and for resets. Problems are never delivered as records.
	OnProblem func(Problem)
}

// Record is one message read from the log. The slice Poll returns, and
// each Value, are valid until the next call to Poll or TryPoll.
type Record struct {
	// Offset is the record's place in the log: dense, strictly increasing,
	// the same for every reader.
	Offset int64
	// Time is the producer's wall clock at append, or the time given to
	// AppendAt, in ns since the epoch (0 for a time before it).
	Time int64
	// Value is the payload, a JSON value. It aliases the consumer's buffer
	// and is valid only until the next call to Poll: copy it to keep it.
	Value []byte
}

// Consumer reads a topic in log order across chunks. Poll, Ack and Close
// may be called from different goroutines, but Poll must not be called
// concurrently with itself.
type Consumer struct {
	t     *Topic
	opts  ConsumerOptions
	w     waiter
	group *group

	chunk     uint64
	f         *os.File
	fd        int   // f's descriptor, read with pread(2)
	fpos      int64 // file position of buf[0]
	buf       []byte
	r, e      int   // buf[r:e] is read but not yet parsed
	next      int64 // offset of the next data record at buf[r]
	skipBelow int64 // records below this offset are not delivered
	atSeal    bool  // the current chunk's seal was reached
	// plan reconciles damage in the current chunk with the next chunk's
	// base offset (nil: no damage yet, or the chunk is still active);
	// planned says it was tried for this chunk.
	plan    *chunkPlan
	planned bool
	// recheckedAt is the file position of the last torn span read twice.
	recheckedAt int64
	out         []Record
	maxBuf      int
	closed      chan struct{}
	pollMu      sync.Mutex // held by Poll; Close takes it to free resources
}

// NewConsumer opens a consumer of t.
func (t *Topic) NewConsumer(opts ConsumerOptions) (*Consumer, error) {
	if opts.OffsetReset == "" {
		opts.OffsetReset = ResetEarliest
	}
	if opts.OffsetReset != ResetEarliest && opts.OffsetReset != ResetError {
		return nil, fmt.Errorf("offset reset %q: want earliest or error", opts.OffsetReset)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
		if opts.Wait == WaitPoll {
			opts.PollInterval = time.Millisecond
		}
	}
	c := &Consumer{t: t, opts: opts, closed: make(chan struct{}), maxBuf: t.readLimit()}
	c.buf = make([]byte, min(1<<20, c.maxBuf))
	var err error
	if c.w, err = newWaiter(opts.Wait, t.dir); err != nil {
		return nil, err
	}
	if opts.Group != "" {
		if c.group, err = openGroup(t, opts.Group); err != nil {
			c.w.close()
			return nil, err
		}
	} else if opts.From == FromAcked {
		c.w.close()
		return nil, fmt.Errorf("topic %s: start from acked needs a group", t.name)
	}
	if err := c.seek(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// seek positions the consumer at its start.
func (c *Consumer) seek() error {
	switch c.opts.From {
	case FromEarliest:
		return c.openEarliest(0)
	case FromOffset:
		return c.seekOffset(c.opts.Offset)
	case FromAcked:
		acked, ok, err := c.group.lastAck()
		if err != nil {
			return err
		}
		if !ok {
			return c.openEarliest(0)
		}
		return c.seekOffset(acked + 1)
	case FromLatest:
		if err := c.openChunk(c.t.newestChunk(), -1); err != nil {
			chunks, lerr := c.t.chunks() // the control file disagrees with the directory
			if lerr != nil {
				return lerr
			}
			if len(chunks) == 0 {
				return err
			}
			if err := c.openChunk(chunks[len(chunks)-1], -1); err != nil {
				return err
			}
		}
		c.skipBelow = math.MaxInt64
		if _, err := c.read(context.Background(), math.MaxInt, false); err != nil {
			return err
		}
		c.skipBelow = c.next
		return nil
	}
	return fmt.Errorf("start position %d: unknown", c.opts.From)
}

// openEarliest opens the oldest chunk numbered at least from. Retention may
// delete chunks while we look, so it retries.
func (c *Consumer) openEarliest(from uint64) error {
	for range 100 {
		chunks, err := c.t.chunks()
		if err != nil {
			return err
		}
		for _, n := range chunks {
			if n < from {
				continue
			}
			err := c.openChunk(n, -1)
			if errors.Is(err, os.ErrNotExist) {
				break // deleted: list again
			}
			return err
		}
	}
	return fmt.Errorf("topic %s: no chunk from %d could be opened", c.t.name, from)
}

// seekOffset positions the consumer at the record with offset off: it
// binary-searches the chunks by their header's base offset. The chunks kept
// are numbered consecutively up to the active one, so it finds them by
// number, in O(log chunks) stats and header reads, without listing the
// directory. Only when that cannot settle it (off lies before the earliest
// chunk found, which may be retention's doing or a gap an operator or a
// racing deleter left, or a chunk vanished mid-search) does it fall back to
// seekOffsetListed.
func (c *Consumer) seekOffset(off int64) error {
	t := c.t
	newest := t.newestChunk()
	if !t.chunkExists(newest) {
		return c.seekOffsetListed(off)
	}
	// The earliest chunk kept: existence is a suffix of 0..newest, as
	// retention deletes oldest first.
	lo, hi := uint64(0), newest
	for lo < hi {
		mid := lo + (hi-lo)/2
		if t.chunkExists(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	first, err := t.seekBase(lo)
	if err != nil || off < first {
		return c.seekOffsetListed(off)
	}
	// The last chunk with base <= off.
	hi = newest
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		base, err := t.seekBase(mid)
		if err != nil {
			return c.seekOffsetListed(off)
		}
		if base <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if err := c.openChunk(lo, -1); err != nil {
		return c.seekOffsetListed(off)
	}
	c.skipBelow = off
	return nil
}

// seekOffsetListed is seekOffset over a listing of the directory: O(chunks),
// but it sees every chunk there is, gaps and all.
func (c *Consumer) seekOffsetListed(off int64) error {
	chunks, err := c.t.chunks()
	if err != nil {
		return err
	}
	lo, hi := 0, len(chunks)-1 // find the last chunk with base <= off
	var firstBase int64 = -1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		base, err := c.t.seekBase(chunks[mid])
		if errors.Is(err, os.ErrNotExist) {
			return c.seekOffsetListed(off) // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if base <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 {
		if firstBase, err = c.t.seekBase(chunks[0]); err != nil {
			return c.seekOffsetListed(off)
		}
		if off < firstBase {
			if err := c.reset(fmt.Sprintf("offset %d was deleted; earliest kept is %d", off, firstBase)); err != nil {
				return err
			}
			return c.openEarliest(0)
		}
	}
	if err := c.openChunk(chunks[lo], -1); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c.seekOffsetListed(off)
		}
		return err
	}
	c.skipBelow = off
	return nil
}

func (c *Consumer) reset(detail string) error {
	if c.opts.OffsetReset == ResetError {
		return fmt.Errorf("topic %s: %w (%s)", c.t.name, ErrOffsetOutOfRange, detail)
	}
	c.problem(Problem{Kind: ProblemReset, Chunk: c.chunk, Detail: detail})
	return nil
}

func (c *Consumer) problem(p Problem) {
	if c.opts.OnProblem != nil {
		c.opts.OnProblem(p)
	}
}

// openChunk makes chunk n current, positioned after its header. A
// damaged header is reported, and the chunk's base offset is then counted
// from the chunk before it: prev, the reader's own count, when it comes
// from there (-1 if not).
func (c *Consumer) openChunk(n uint64, prev int64) error {
	f, err := os.Open(c.t.chunkPath(n))
	if err != nil {
		return fmt.Errorf("open chunk %d: %w", n, err)
	}
	h, size, err := readHeader(f, n)
	if errors.Is(err, errBadHeader) {
		herr := err
		base := prev
		if base < 0 {
			if base, err = c.t.derivedBase(n); err != nil {
				f.Close()
				return fmt.Errorf("%w; %w", herr, err)
			}
		}
		c.problem(Problem{Kind: ProblemCorrupt, Chunk: n, Length: int64(size),
			Detail: fmt.Sprintf("%v: its records are numbered from %d, where the chunk before it ends", herr, base)})
		h.Base, err = base, nil
	}
	if err != nil {
		f.Close()
		return err
	}
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.fd, c.chunk, c.fpos, c.r, c.e, c.next = f, int(f.Fd()), n, int64(size), 0, 0, h.Base
	c.plan, c.planned = nil, false
	return nil
}

// pread reads from fd at off with one pread(2), retried on EINTR; 0 bytes
// means the end of the file.
func pread(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// Poll waits until at least one record is available or ctx is done, and
// returns up to max records in log order. It returns ctx's error if ctx
// ends first with nothing read, and ErrClosed after Close.
func (c *Consumer) Poll(ctx context.Context, max int) ([]Record, error) {
	if max <= 0 {
		max = 1
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	return c.read(ctx, max, true)
}

// TryPoll returns up to max records that are available now, without
// waiting; an empty result means the consumer has caught up.
func (c *Consumer) TryPoll(max int) ([]Record, error) {
	if max <= 0 {
		max = 1
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	return c.read(context.Background(), max, false)
}

// read delivers up to max records. With wait, it blocks until one comes;
// without, it returns what is there (used to skip to the end).
func (c *Consumer) read(ctx context.Context, max int, wait bool) ([]Record, error) {
	out := c.out[:0] // records alias the buffer anyway, so the slice is reused too
	defer func() { c.out = out[:0] }()
	for {
		select {
		case <-c.closed:
			return nil, ErrClosed
		default:
		}
		if c.atSeal {
			if len(out) > 0 {
				return out, nil // out aliases the buffer the next chunk reuses
			}
			if err := c.nextChunk(); err != nil {
				return nil, err
			}
			c.atSeal = false
		}
		sealed, err := c.parse(&out, max)
		if err != nil {
			return out, err
		}
		if sealed {
			c.atSeal = true
			continue
		}
		if len(out) > 0 {
			return out, nil
		}
		// Nothing parsed: read more of the file.
		got, err := c.fill()
		if err != nil {
			return nil, err
		}
		if got {
			continue
		}
		// At the end of the chunk with no seal. If gen shows the chunk is
		// being sealed, help finish that (its rotator may be dead), then
		// look again; otherwise wait for a write.
		g := c.t.ctl.gen()
		if g+1 == 2*c.chunk {
			// The rotation into this chunk was left unfinished (the chunk
			// exists, gen still says its predecessor is being sealed).
			if err := c.t.finishRotation(c.chunk - 1); err != nil {
				return nil, err
			}
		}
		if g >= 2*c.chunk+1 {
			if err := c.t.finishRotation(c.chunk); err != nil {
				return nil, err
			}
			if g >= 2*c.chunk+2 {
				if got, err := c.fill(); err != nil || got {
					if err != nil {
						return nil, err
					}
					continue
				}
				// The chunk was finished before that read, so its seal
				// was written before it: a finished chunk that ends
				// without one was cut short, or its seal was damaged.
				if err := c.unsealedEnd(); err != nil {
					return nil, err
				}
				c.atSeal = true
				continue
			} else {
				continue
			}
		}
		if !wait {
			return nil, nil
		}
		// Forget stale notifications, then look once more before sleeping:
		// a write that ends after this read notifies the waiter, and one
		// that ended before it is seen by it. Draining only here keeps the
		// syscall off the path where records are already there.
		c.w.drain()
		if got, err := c.fill(); err != nil || got {
			if err != nil {
				return nil, err
			}
			continue
		}
		c.w.at(c.f, c.fpos+int64(c.e))
		if err := c.w.wait(ctx, c.opts.PollInterval); err != nil {
			select {
			case <-c.closed:
				return nil, ErrClosed
			default:
			}
			return nil, err
		}
	}
}

// parse delivers records from buf[r:e] until max, a seal (sealed=true), or
// a partial record.
func (c *Consumer) parse(out *[]Record, max int) (sealed bool, err error) {
	o := *out
	defer func() { *out = o }()
	for len(o) < max {
		// The common case, a whole valid data record, without scanOne's
		// general outcome: the read path's loop overhead was a sixth of it.
		b := c.buf[c.r:c.e]
		if c.plan == nil || c.plan.sealed || c.next < c.plan.end {
			if ts, n := wholeData(b); n > 0 {
				if c.next >= c.skipBelow {
					// Field by field into the slice: append of a Record
					// literal built it on the stack and copied it with wide
					// loads that stalled on store forwarding.
					if len(o) == cap(o) {
						o = append(o, Record{})
					} else {
						o = o[:len(o)+1]
					}
					r := &o[len(o)-1]
					r.Offset, r.Time, r.Value = c.next, ts, b[payloadAt:n-2]
				}
				c.next++
				c.r += n
				continue
			}
		}
		step, n, fr, kind, detail := scanOne(b)
		switch step {
		case stepPartial:
			return false, nil
		case stepSkip:
			if c.t.onFUSE && c.fpos+int64(c.r) != c.recheckedAt {
				// On FUSE (lazyfs) a reader was seen to get bytes that were
				// not the file's, where every other reader and the file
				// held a whole record, and so to number the records after
				// it one short. Before a span counts as torn or damaged
				// there, read it again a few times over about a second:
				// real damage reads the same every time. A local file
				// system's page cache is the file, and needs none of this.
				c.recheckedAt = c.fpos + int64(c.r)
				changed, err := c.rereadFUSE()
				if err != nil {
					return false, err
				}
				if changed {
					continue
				}
			}
			if err := c.skipped(c.fpos+int64(c.r), c.buf[c.r:c.r+n], kind, detail); err != nil {
				return false, err
			}
		case stepRecord:
			switch fr.kind {
			case kindData:
				if c.plan != nil && !c.plan.sealed && c.next >= c.plan.end {
					return true, nil // past the count of a chunk whose seal was damaged: void
				}
				if c.next >= c.skipBelow {
					o = append(o, Record{Offset: c.next, Time: fr.ts, Value: fr.payload})
				}
				c.next++
			case kindSeal:
				c.r += n
				return true, nil
			}
		}
		c.r += n
	}
	return false, nil
}

// rereadFUSE rereads buf[r:e] after growing pauses (1 ms to 1 s in all)
// until a byte changes.
func (c *Consumer) rereadFUSE() (bool, error) {
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, 900 * time.Millisecond} {
		time.Sleep(d)
		changed, err := c.reread()
		if err != nil || changed {
			return changed, err
		}
	}
	return false, nil
}

// reread reads buf[r:e] from the file again and reports whether any byte
// changed.
func (c *Consumer) reread() (bool, error) {
	fresh := make([]byte, c.e-c.r)
	n, err := pread(c.fd, fresh, c.fpos+int64(c.r))
	if err != nil {
		return false, fmt.Errorf("read chunk %d: %w", c.chunk, err)
	}
	if n == len(fresh) && bytes.Equal(fresh, c.buf[c.r:c.e]) {
		return false, nil
	}
	copy(c.buf[c.r:], fresh[:n])
	c.e = c.r + n
	return true, nil
}

// skipped reports a span of damage at byte pos of the current chunk and
// advances the offsets past the records it held. The first damage in a
// finished chunk plans the rest of the chunk, so that the records after
// the damage keep their true offsets whatever the damage hid.
func (c *Consumer) skipped(pos int64, span []byte, kind, detail string) error {
	if kind == ProblemCorrupt && !c.planned {
		c.planned = true
		var err error
		if c.plan, err = c.planRest(pos); err != nil {
			return err
		}
	}
	slots := c.plan.spanSlots(pos, span)
	c.problem(skipProblem(c.chunk, pos, span, kind, detail, c.next, slots))
	c.next += slots
	return nil
}

// planRest plans the current chunk from byte pos if the chunk is finished
// (its successor's header is readable). It returns nil for the active
// chunk, whose count nothing can check yet: the rule alone numbers it,
// the same rule its rotator will count it by.
func (c *Consumer) planRest(pos int64) (*chunkPlan, error) {
	if c.t.ctl.gen() < 2*c.chunk+2 {
		return nil, nil
	}
	nextBase, err := c.t.chunkBase(c.chunk + 1)
	if err != nil {
		return nil, nil
	}
	pl, err := planChunk(c.f, pos, c.next, nextBase, c.maxBuf)
	if err != nil {
		return nil, fmt.Errorf("read chunk %d: %w", c.chunk, err)
	}
	return pl, nil
}

// unsealedEnd handles the end of a finished chunk that holds no seal: it
// was cut short (truncated, or a power loss), or its seal was damaged. The
// records it no longer holds are reported missing, and the reader goes on
// to the next chunk, whose header says where its offsets start.
func (c *Consumer) unsealedEnd() error {
	pos, partial := c.fpos+int64(c.r), int64(c.e-c.r)
	damaged := c.planned
	if !c.planned {
		c.planned = true
		var err error
		if c.plan, err = c.planRest(pos); err != nil {
			return err
		}
	}
	c.r = c.e // a partial record at the end is part of the damage
	var p Problem
	p, c.next = unsealedProblem(c.chunk, pos, partial, c.next, c.plan, damaged)
	c.problem(p)
	return nil
}

// fill reads more of the current chunk into the buffer, moving unparsed
// bytes to the front first (records handed out earlier become invalid, as
// documented). It reports whether any byte was read.
func (c *Consumer) fill() (bool, error) {
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.e])
		c.fpos += int64(c.r)
		c.e -= c.r
		c.r = 0
	}
	if c.e == len(c.buf) {
		if len(c.buf) >= c.maxBuf {
			// A producer may have declared a larger limit since.
			c.maxBuf = max(c.maxBuf, c.t.readLimit())
		}
		if len(c.buf) >= c.maxBuf {
			// A whole buffer without a record end: no valid record is this
			// long, so it is damage. Skip it.
			if err := c.skipped(c.fpos, c.buf[:c.e], ProblemCorrupt,
				fmt.Sprintf("no record end within the topic's largest record size (%d bytes)", c.t.recordLimit())); err != nil {
				return false, err
			}
			c.fpos += int64(c.e)
			c.e = 0
		} else {
			nb := make([]byte, min(2*len(c.buf), c.maxBuf))
			copy(nb, c.buf[:c.e])
			c.buf = nb
		}
	}
	// One pread(2): os.File.ReadAt would call it again after a short read
	// to be told EOF, doubling the syscalls of a reader at the end of the
	// log, where every read is short.
	n, err := pread(c.fd, c.buf[c.e:], c.fpos+int64(c.e))
	c.e += n
	if err != nil {
		return n > 0, fmt.Errorf("read chunk %d: %w", c.chunk, err)
	}
	return n > 0, nil
}

// nextChunk moves on from a sealed chunk.
func (c *Consumer) nextChunk() error {
	n := c.chunk + 1
	for range 100 {
		prev := c.next
		err := c.openChunk(n, prev)
		if err == nil {
			if c.next != prev {
				c.problem(Problem{Kind: ProblemOffsets, Chunk: n - 1, Detail: fmt.Sprintf(
					"chunk %d held records up to offset %d, but chunk %d starts at %d: offsets delivered from chunk %d after its damage may be off by %d",
					n-1, prev-1, n, c.next, n-1, c.next-prev)})
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		// The seal is written before the next chunk is created: finish a
		// rotation whose rotator may have died. If the rotation is done and
		// the chunk is still missing, retention deleted it.
		if c.t.ctl.gen() < 2*n {
			if err := c.t.finishRotation(c.chunk); err != nil {
				return err
			}
			continue
		}
		if err := c.reset(fmt.Sprintf("chunk %d was deleted before it was read", n)); err != nil {
			return err
		}
		return c.openEarliest(n)
	}
	return fmt.Errorf("topic %s: cannot open chunk %d", c.t.name, n)
}

// Next returns the offset of the next record this consumer will deliver.
func (c *Consumer) Next() int64 { return max(c.next, c.skipBelow) }

// Ack durably records offset as the group's position: a consumer of the
// group started later with FromAcked begins at the first record after it.
// It is one append to the group's ack log.
func (c *Consumer) Ack(offset int64) error {
	if c.group == nil {
		return fmt.Errorf("topic %s: ack without a group", c.t.name)
	}
	if offset < 0 {
		return fmt.Errorf("topic %s: ack of negative offset %d", c.t.name, offset)
	}
	return c.group.ack(offset)
}

// Close stops a Poll in progress (it returns ErrClosed) and releases the
// consumer and its group lock.
func (c *Consumer) Close() error {
	select {
	case <-c.closed:
		return nil
	default:
	}
	close(c.closed)
	c.w.interrupt()
	c.pollMu.Lock() // a Poll in progress returns promptly after interrupt
	defer c.pollMu.Unlock()
	err := c.w.close()
	if c.group != nil {
		if gerr := c.group.close(); err == nil {
			err = gerr
		}
	}
	if c.f != nil {
		if ferr := c.f.Close(); err == nil {
			err = ferr
		}
	}
	return err
}
