package mutant

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// readSize is how much a reader asks of each read(); the torn-read mutant
// reads like fgets() into a 4 KiB line buffer.
const (
	readSize     = 256 << 10
	tornReadSize = 4 << 10
)

// lazyAckEvery is how many acks the lazy-ack mutant keeps in memory.
const lazyAckEvery = 10

// consumer is the reading side of one client.
type consumer struct {
	t     *topic
	group string

	chunk int64    // the chunk being read
	f     *os.File // open descriptor of chunk (nil when not open)
	pos   int64    // file position of the end of buf
	buf   []byte   // bytes read but not consumed; starts at a line boundary
	clean int      // buf[:clean] is known to hold no '\n'
	// rechecked is the chunk and file position reread last looked at
	// again (chunk -1: none).
	rechecked struct{ chunk, pos int64 }
	// from: deliver nothing below this offset until the first delivery
	// (the resume point); -1 when delivering everything.
	from int64

	acksF   *os.File
	pending *int64 // lazy-ack: the ack not yet written
	unsaved int
}

// newConsumer opens the topic for reading from start.
func newConsumer(t *topic, group, start string) (*consumer, error) {
	c := &consumer{t: t, group: group, from: -1}
	c.rechecked.chunk = -1
	if group != "" {
		gdir := filepath.Join(t.dir, "groups")
		if err := ensureDir(gdir, t.durable()); err != nil {
			return nil, fmt.Errorf("create groups directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(gdir, group+".acks"), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open acks: %w", err)
		}
		c.acksF = f
		if t.durable() {
			// The acks file's name, and the groups directory's, must be
			// durable before an ack in it is confirmed; whoever made them
			// may have died before syncing them.
			if err := errors.Join(syncDir(gdir), syncDir(t.dir)); err != nil {
				_ = f.Close()
				return nil, err
			}
		}
	}
	var err error
	switch start {
	case protocol.StartLatest:
		err = c.seekLatest()
	case protocol.StartEarliest:
		err = c.seekEarliest()
	default:
		err = c.seekAcked()
	}
	if err != nil {
		_ = c.close()
		return nil, err
	}
	return c, nil
}

// seekEarliest positions the reader at the start of the oldest chunk.
func (c *consumer) seekEarliest() error {
	chunks, err := listChunks(c.t.dir)
	if err != nil {
		return err
	}
	c.chunk = 0
	if len(chunks) > 0 {
		c.chunk = chunks[0]
	}
	return nil
}

// seekLatest positions the reader at the end of the newest chunk, under
// the append lock so that the end is a record boundary.
func (c *consumer) seekLatest() error {
	lfd, err := openLock(c.t.dir)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(lfd) }()
	if err := flock(lfd, unix.LOCK_EX); err != nil {
		return err
	}
	chunks, err := listChunks(c.t.dir)
	if err != nil || len(chunks) == 0 {
		return err
	}
	c.chunk = chunks[len(chunks)-1]
	fi, err := os.Stat(chunkPath(c.t.dir, c.chunk))
	if err != nil {
		return fmt.Errorf("latest: %w", err)
	}
	c.pos = fi.Size()
	return nil
}

// lastAck returns the group's last written ack.
func (c *consumer) lastAck() (int64, bool, error) {
	if c.acksF == nil {
		return 0, false, nil
	}
	data, err := io.ReadAll(io.NewSectionReader(c.acksF, 0, 1<<62))
	if err != nil {
		return 0, false, fmt.Errorf("read acks: %w", err)
	}
	var last int64
	found := false
	for line := range bytes.Lines(data) {
		if off, ok := parseAck(line); ok {
			last, found = off, true
		}
	}
	return last, found, nil
}

// seekAcked positions the reader right after the group's last ack (the
// resume mutants get this wrong), or at the earliest record.
func (c *consumer) seekAcked() error {
	a, ok, err := c.lastAck()
	if err != nil {
		return err
	}
	if err := c.seekEarliest(); err != nil || !ok {
		return err
	}
	c.from = a + 1
	switch c.t.bug {
	case ResumeSkip:
		c.from = a + 2
	case ResumeRewind:
		c.from = a
	}
	// Start in the newest chunk whose first record is at or below from.
	chunks, err := listChunks(c.t.dir)
	if err != nil {
		return err
	}
	for i := len(chunks) - 1; i >= 0; i-- {
		if first, ok := firstOffset(chunkPath(c.t.dir, chunks[i])); ok && first <= c.from {
			c.chunk = chunks[i]
			break
		}
	}
	return nil
}

// firstOffset returns the offset of the first valid record in a chunk file.
func firstOffset(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer func() { _ = f.Close() }()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return 0, false
		}
		if off, _, ok := parseLine(line[:len(line)-1]); ok {
			return off, true
		}
	}
}

// poll returns up to max records, waiting up to timeout for the first.
func (c *consumer) poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	deadline := time.Now().Add(timeout)
	for {
		recs, err := c.readAvailable(max)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return recs, nil
		}
		wait := min(left, time.Millisecond+rand.N(time.Millisecond))
		select {
		case <-ctx.Done():
			return recs, fmt.Errorf("poll: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// readMore reads what follows pos in the current chunk into buf. It
// returns the number of bytes read and whether the read was short (the
// reader is at the end of what exists). gone says the chunk file no longer
// exists (only readers that reopen by name notice).
func (c *consumer) readMore() (n int, short, gone bool, err error) {
	size := readSize
	if c.t.bug == TornRead {
		size = tornReadSize
	}
	f := c.f
	if c.t.bug == RetentionUnsafe || f == nil {
		// the retention-unsafe reader reopens the file by name every time
		nf, err := os.Open(chunkPath(c.t.dir, c.chunk))
		if errors.Is(err, os.ErrNotExist) {
			return 0, true, true, nil
		}
		if err != nil {
			return 0, false, false, fmt.Errorf("open chunk %d: %w", c.chunk, err)
		}
		if c.t.bug == RetentionUnsafe {
			defer func() { _ = nf.Close() }()
		} else {
			c.f = nf
		}
		f = nf
	}
	c.buf = growTo(c.buf, size)
	n, err = f.ReadAt(c.buf[len(c.buf):len(c.buf)+size], c.pos)
	c.buf = c.buf[:len(c.buf)+n]
	c.pos += int64(n)
	if err == io.EOF {
		return n, true, false, nil
	}
	if err != nil {
		return n, false, false, fmt.Errorf("read chunk %d: %w", c.chunk, err)
	}
	return n, n < size, false, nil
}

func growTo(b []byte, extra int) []byte {
	if cap(b)-len(b) >= extra {
		return b
	}
	nb := make([]byte, len(b), len(b)+extra+len(b)/2)
	copy(nb, b)
	return nb
}

// takeLines moves the complete records of buf into out, up to max.
func (c *consumer) takeLines(out []protocol.Record, max int) []protocol.Record {
	for len(out) < max {
		nl := bytes.IndexByte(c.buf[c.clean:], '\n')
		if nl < 0 {
			c.clean = len(c.buf)
			break
		}
		nl += c.clean
		off, v, ok := parseLine(c.buf[:nl])
		if !ok && c.reread() {
			continue // the bytes were not the file's: look again
		}
		c.buf, c.clean = c.buf[nl+1:], 0
		if ok {
			out = c.deliver(out, off, v)
		}
	}
	if len(c.buf) == 0 {
		c.buf = c.buf[:0:0]
	}
	return out
}

// reread is for a line that does not parse, on FUSE, where a reader was
// seen to get a span that was not the file's while the file and every
// other reader held whole records (ref's reader does the same; see
// ref/consumer.go rereadFUSE). It reads buf's bytes again after growing
// pauses, about a second in all, and says whether they changed (buf then
// holds the fresh bytes); real damage reads the same every time, and is
// dropped as before. Each position is looked at again once.
func (c *consumer) reread() bool {
	start := c.pos - int64(len(c.buf))
	if !c.t.onFUSE || c.f == nil || (c.rechecked.chunk == c.chunk && c.rechecked.pos == start) {
		return false
	}
	c.rechecked.chunk, c.rechecked.pos = c.chunk, start
	fresh := make([]byte, len(c.buf))
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, 900 * time.Millisecond} {
		time.Sleep(d)
		n, err := c.f.ReadAt(fresh, start)
		if err != nil && !errors.Is(err, io.EOF) {
			return false
		}
		if !bytes.Equal(fresh[:n], c.buf[:min(n, len(c.buf))]) || n < len(c.buf) {
			c.buf, c.clean, c.pos = fresh[:n], 0, start+int64(n)
			return true
		}
	}
	return false
}

// deliver appends a record unless it is below the resume point.
func (c *consumer) deliver(out []protocol.Record, off int64, v string) []protocol.Record {
	if c.from >= 0 {
		if off < c.from {
			return out
		}
		c.from = -1
	}
	return append(out, protocol.Record{Offset: off, Value: v})
}

// nextChunk returns the chunk after the current one: the next existing
// chunk number (the earliest one when retention removed those between).
func (c *consumer) nextChunk() (int64, bool, error) {
	chunks, err := listChunks(c.t.dir)
	if err != nil {
		return 0, false, err
	}
	for _, n := range chunks {
		if n > c.chunk {
			return n, true, nil
		}
	}
	return 0, false, nil
}

// moveTo switches the reader to the start of chunk n.
func (c *consumer) moveTo(n int64) {
	if c.f != nil {
		_ = c.f.Close()
		c.f = nil
	}
	c.chunk, c.pos, c.buf, c.clean = n, 0, nil, 0
}

// readAvailable returns up to max records that are there now.
func (c *consumer) readAvailable(max int) ([]protocol.Record, error) {
	var out []protocol.Record
	sawNext := false
	for {
		out = c.takeLines(out, max)
		if len(out) >= max {
			return out, nil
		}
		n, short, gone, err := c.readMore()
		if err != nil {
			return out, err
		}
		if gone {
			chunks, err := listChunks(c.t.dir)
			if err != nil {
				return out, err
			}
			next := int64(-1)
			for _, n := range chunks {
				if n > c.chunk {
					next = n // the earliest chunk after this one
					break
				}
			}
			if next < 0 {
				return out, nil // not created yet
			}
			if c.t.bug == RetentionUnsafe {
				// The chunk vanished under the reader; it resets to the
				// newest chunk, like auto.offset.reset=latest.
				next = chunks[len(chunks)-1]
			}
			c.moveTo(next)
			continue
		}
		if c.t.bug == TornRead {
			out = c.takeLines(out, max)
			if len(out) < max && len(c.buf) > 0 && (short || len(c.buf) >= tornReadSize) {
				// The bug: like a loop over fgets() with a 4 KiB buffer, it
				// takes what one read gives as a whole line: a partial line
				// at the live tail, or the first 4 KiB of a longer record.
				// Its remaining bytes lack a marker and are skipped.
				if off, v, ok := parsePartial(c.buf[:min(len(c.buf), tornReadSize)]); ok {
					c.buf, c.clean = nil, 0
					out = c.deliver(out, off, v)
					continue
				}
			}
		}
		if n > 0 && !short {
			continue
		}
		if n > 0 {
			out = c.takeLines(out, max)
			continue
		}
		// Nothing more in this chunk for now. Move on once a later chunk
		// exists, after one more read: the writer of the last records of
		// this chunk may have finished just before rotating.
		if sawNext {
			next, _, err := c.nextChunk()
			if err != nil {
				return out, err
			}
			c.moveTo(next)
			sawNext = false
			continue
		}
		_, ok, err := c.nextChunk()
		if err != nil || !ok {
			return out, err
		}
		sawNext = true
	}
}

// ack records offset as the group's position.
func (c *consumer) ack(offset int64) error {
	if c.acksF == nil {
		return protocol.Invalid("ack without a consumer group")
	}
	if c.t.bug == LazyAck {
		c.pending = protocol.Int64(offset)
		c.unsaved++
		if c.unsaved < lazyAckEvery {
			return nil
		}
		return c.flushAcks()
	}
	return c.writeAck(offset)
}

// flushAcks writes the lazy-ack mutant's pending ack.
func (c *consumer) flushAcks() error {
	if c.pending == nil {
		return nil
	}
	err := c.writeAck(*c.pending)
	c.pending, c.unsaved = nil, 0
	return err
}

// writeAck appends one ack line with one write.
func (c *consumer) writeAck(offset int64) error {
	if _, err := c.acksF.Write(encodeAck(offset)); err != nil {
		return fmt.Errorf("write ack: %w", err)
	}
	if c.t.durable() && c.t.bug != AckNoSync {
		if err := unix.Fdatasync(int(c.acksF.Fd())); err != nil {
			return fmt.Errorf("fdatasync acks: %w", err)
		}
	}
	return nil
}

// encodeAck is an ack line: marker, "OFFSET CRC32\n". A line that a power
// loss tore may be glued to the next ack: readers take what follows its
// last marker.
func encodeAck(off int64) []byte {
	s := strconv.FormatInt(off, 10)
	return fmt.Appendf(nil, "%c%s %08x\n", marker, s, crc32.ChecksumIEEE([]byte(s)))
}

// parseAck decodes an ack line.
func parseAck(line []byte) (int64, bool) {
	var s string
	var sum uint32
	if len(line) == 0 || line[len(line)-1] != '\n' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, marker)
	if i < 0 {
		return 0, false
	}
	line = line[i+1:]
	if _, err := fmt.Sscanf(string(line), "%s %08x\n", &s, &sum); err != nil {
		return 0, false
	}
	if crc32.ChecksumIEEE([]byte(s)) != sum {
		return 0, false
	}
	off, err := strconv.ParseInt(s, 10, 64)
	return off, err == nil
}

// close writes what the lazy-ack mutant kept and releases the files.
func (c *consumer) close() error {
	var err error
	if c.acksF != nil {
		err = c.flushAcks()
		_ = c.acksF.Close()
		c.acksF = nil
	}
	if c.f != nil {
		_ = c.f.Close()
		c.f = nil
	}
	return err
}
