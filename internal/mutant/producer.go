package mutant

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// raceWindow is how long the racy mutants pause between the two steps that
// should have been one (two writes, lseek and write, reservation and
// write), so that on a 2-core machine another producer lands in between
// often enough for one short scenario to show it.
const raceWindow = 50 * time.Microsecond

// pieceMax is the largest write() of the retry-short-write mutant.
const pieceMax = 1000

// bufSize is the userspace buffer of the buffered mutant.
const bufSize = 4096

// topic is one topic directory and its config.
type topic struct {
	dir string
	cfg protocol.Config
	bug string
	// onFUSE says the topic is on FUSE (lazyfs, in the power-loss
	// scenarios), where a reader now and then gets bytes that are not the
	// file's: see consumer.reread.
	onFUSE bool
}

// fuseMagic is the statfs f_type of FUSE file systems.
const fuseMagic = 0x65735546

// durable tells whether the topic runs under fsync always.
func (t *topic) durable() bool { return t.cfg.Fsync == protocol.FsyncAlways }

// state is the content of <topic>/state: the current chunk, the next
// offset, and the records and bytes in the current chunk. dirty is set
// while an append is in progress, so that the next holder of the lock
// knows to recover from the files when the appender died.
type state struct {
	chunk, next, records, bytes int64
	dirty                       bool
}

// stateLen is the fixed length of the encoded state.
const stateLen = 4*21 + 2

func (s state) encode() []byte {
	d := 0
	if s.dirty {
		d = 1
	}
	return fmt.Appendf(nil, "%020d %020d %020d %020d %d\n", s.chunk, s.next, s.records, s.bytes, d)
}

func decodeState(b []byte) (state, bool) {
	var s state
	var d int
	if len(b) != stateLen {
		return s, false
	}
	if _, err := fmt.Sscanf(string(b), "%d %d %d %d %d\n", &s.chunk, &s.next, &s.records, &s.bytes, &d); err != nil {
		return s, false
	}
	s.dirty = d != 0
	return s, true
}

// producer is the writing side of one client.
type producer struct {
	t      *topic
	lockFd int
	stateF *os.File

	fd      int // O_APPEND descriptor of chunk fdChunk, or -1
	fdChunk int64

	seekFd    int // seek-write: a descriptor without O_APPEND, or -1
	seekChunk int64

	bw      *bufio.Writer // buffered: the userspace buffer over bwChunk
	bwFd    int
	bwChunk int64

	local int64 // producer-ids: the next offset this producer will use
	mine  int64 // unsafe-rotation: the chunk this producer writes to

	unsynced bool // reply-before-sync: fd was written and not yet synced
}

// openLock opens (creating) the topic's lock file.
func openLock(dir string) (int, error) {
	fd, err := unix.Open(filepath.Join(dir, "lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open lock: %w", err)
	}
	return fd, nil
}

func flock(fd int, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("flock: %w", err)
			}
			return nil
		}
	}
}

// newProducer opens the topic for appending and makes sure it has a chunk
// and a state.
func newProducer(t *topic) (*producer, error) {
	p := &producer{t: t, fd: -1, seekFd: -1, lockFd: -1}
	lfd, err := openLock(t.dir)
	if err != nil {
		return nil, err
	}
	p.lockFd = lfd
	p.stateF, err = os.OpenFile(filepath.Join(t.dir, "state"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("open state: %w", err)
	}
	if err := flock(p.lockFd, unix.LOCK_EX); err != nil {
		p.close()
		return nil, err
	}
	// The state file is never synced: after a power loss it may be stale
	// or torn, so a new producer rebuilds it from the chunk files.
	st, _, err := p.recover()
	if err == nil {
		err = p.storeState(st)
	}
	_ = flock(p.lockFd, unix.LOCK_UN)
	if err != nil {
		p.close()
		return nil, err
	}
	p.local = st.next
	p.mine = st.chunk
	return p, nil
}

// readState reads the state file without judging it.
func (p *producer) readState() (state, bool) {
	b := make([]byte, stateLen+1)
	n, _ := p.stateF.ReadAt(b, 0)
	return decodeState(b[:n])
}

// loadState returns the state under the lock, recovering it from the
// chunk files when it is missing or dirty; needNL says the current chunk
// ends with a partial line that the next write must terminate.
func (p *producer) loadState() (state, bool, error) {
	if st, ok := p.readState(); ok && !st.dirty {
		return st, false, nil
	}
	return p.recover()
}

// recover rebuilds the state from the chunk files.
func (p *producer) recover() (state, bool, error) {
	chunks, err := listChunks(p.t.dir)
	if err != nil {
		return state{}, false, err
	}
	if len(chunks) == 0 {
		if err := p.create(0, false); err != nil {
			return state{}, false, err
		}
		return state{}, false, nil
	}
	cur := chunks[len(chunks)-1]
	data, err := os.ReadFile(chunkPath(p.t.dir, cur))
	if err != nil {
		return state{}, false, fmt.Errorf("recover: %w", err)
	}
	count, last, partial := scanRecords(data)
	st := state{chunk: cur, records: count, bytes: int64(len(data))}
	for i := len(chunks) - 2; last < 0 && i >= 0; i-- {
		prev, err := os.ReadFile(chunkPath(p.t.dir, chunks[i]))
		if err != nil {
			continue // deleted by retention meanwhile
		}
		_, last, _ = scanRecords(prev)
	}
	st.next = last + 1
	return st, partial, nil
}

// storeState writes st over the state file.
func (p *producer) storeState(st state) error {
	if _, err := p.stateF.WriteAt(st.encode(), 0); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// create creates chunk n if it does not exist; under fsync always it syncs
// the topic directory, so that the chunk's name is durable before anything
// written into it is acknowledged (the dir-no-sync mutant skips that when
// it rotates).
func (p *producer) create(n int64, rotation bool) error {
	f, err := os.OpenFile(chunkPath(p.t.dir, n), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("create chunk %d: %w", n, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create chunk %d: %w", n, err)
	}
	if !p.t.durable() || (rotation && p.t.bug == DirNoSync) {
		return nil
	}
	return syncDir(p.t.dir)
}

// full tells whether the current chunk takes no more records.
func (p *producer) full(st state) bool {
	c := p.t.cfg
	return (c.ChunkRecords > 0 && st.records >= int64(c.ChunkRecords)) ||
		(c.ChunkBytes > 0 && st.bytes >= c.ChunkBytes)
}

// rotate starts the next chunk and applies retention.
func (p *producer) rotate(st *state) error {
	st.chunk++
	st.records, st.bytes = 0, 0
	if err := p.create(st.chunk, true); err != nil {
		return err
	}
	return p.retain(st.chunk)
}

// retain deletes the chunks older than the retained sealed ones.
func (p *producer) retain(cur int64) error {
	keep := int64(p.t.cfg.RetainChunks)
	if keep <= 0 {
		return nil
	}
	chunks, err := listChunks(p.t.dir)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if c < cur-keep {
			if err := os.Remove(chunkPath(p.t.dir, c)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("retention: %w", err)
			}
		}
	}
	return nil
}

// chunkFd returns an O_APPEND descriptor of chunk n.
func (p *producer) chunkFd(n int64) (int, error) {
	if p.fd >= 0 && p.fdChunk == n {
		return p.fd, nil
	}
	if p.fd >= 0 {
		if err := p.syncPending(); err != nil {
			return -1, err
		}
		_ = unix.Close(p.fd)
		p.fd = -1
	}
	fd, err := unix.Open(chunkPath(p.t.dir, n), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open chunk %d: %w", n, err)
	}
	p.fd, p.fdChunk = fd, n
	return fd, nil
}

// writeChunk appends buf to chunk n with one write(); a failed or short
// write is undone so that a failed append leaves nothing behind.
func (p *producer) writeChunk(n int64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	fd, err := p.chunkFd(n)
	if err != nil {
		return err
	}
	var before unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		return fmt.Errorf("stat chunk %d: %w", n, err)
	}
	if p.t.durable() && p.t.bug == SyncBeforeWrite {
		// The bug: this makes the previous write durable, not this one.
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("fdatasync chunk %d: %w", n, err)
		}
	}
	w, err := unix.Write(fd, buf)
	if err == nil && w == len(buf) {
		switch {
		case !p.t.durable() || p.t.bug == SyncBeforeWrite:
		case p.t.bug == ReplyBeforeSync:
			p.unsynced = true // synced when the next request arrives
		default:
			if err := unix.Fdatasync(fd); err != nil {
				return fmt.Errorf("fdatasync chunk %d: %w", n, err)
			}
		}
		return nil
	}
	if w > 0 {
		_ = unix.Ftruncate(fd, before.Size)
	}
	if err == nil {
		err = fmt.Errorf("short write: %d of %d bytes", w, len(buf))
	}
	return fmt.Errorf("append to chunk %d: %w", n, err)
}

// syncPending syncs the write that the reply-before-sync mutant left
// unsynced when it replied.
func (p *producer) syncPending() error {
	if !p.unsynced || p.fd < 0 {
		return nil
	}
	p.unsynced = false
	if err := unix.Fdatasync(p.fd); err != nil {
		return fmt.Errorf("fdatasync chunk %d: %w", p.fdChunk, err)
	}
	return nil
}

// append appends values and returns their offsets.
func (p *producer) append(values []string) ([]*int64, error) {
	// reply-before-sync syncs the previous append only now, after its
	// reply went out.
	if err := p.syncPending(); err != nil {
		return nil, err
	}
	switch p.t.bug {
	case SplitWrite, SeekWrite, Buffered, RetryShortWrite:
		return p.appendUnlocked(values)
	case UnsafeRotation:
		return p.appendUnsafeRotation(values)
	}
	return p.appendLocked(values)
}

// appendLocked is the correct append (and producer-ids'): everything under
// the lock, one write per chunk the batch touches.
func (p *producer) appendLocked(values []string) ([]*int64, error) {
	if err := flock(p.lockFd, unix.LOCK_EX); err != nil {
		return nil, err
	}
	defer func() { _ = flock(p.lockFd, unix.LOCK_UN) }()
	st, needNL, err := p.loadState()
	if err != nil {
		return nil, err
	}
	st.dirty = true
	if err := p.storeState(st); err != nil {
		return nil, err
	}
	var buf []byte
	if needNL {
		buf = append(buf, '\n')
		st.bytes++
	}
	offs := make([]*int64, len(values))
	for i, v := range values {
		if p.full(st) {
			if err := p.writeChunk(st.chunk, buf); err != nil {
				return nil, err
			}
			buf = buf[:0]
			if err := p.rotate(&st); err != nil {
				return nil, err
			}
		}
		off := st.next
		if p.t.bug == ProducerIDs {
			off = p.local // the bug: this producer's own count
			p.local++
		}
		before := len(buf)
		buf, _ = encode(buf, off, v)
		st.bytes += int64(len(buf) - before)
		st.records++
		st.next = max(st.next, off+1)
		offs[i] = protocol.Int64(off)
	}
	if err := p.writeChunk(st.chunk, buf); err != nil {
		return nil, err
	}
	st.dirty = false
	if err := p.storeState(st); err != nil {
		return nil, err
	}
	return offs, nil
}

// placed is a record whose offset and chunk were reserved.
type placed struct {
	chunk, off int64
	v          string
}

// appendUnlocked reserves offsets (and rotates) under the lock, then
// writes outside it, the buggy way the mutant writes.
func (p *producer) appendUnlocked(values []string) ([]*int64, error) {
	if err := flock(p.lockFd, unix.LOCK_EX); err != nil {
		return nil, err
	}
	st, _, err := p.loadState()
	if err != nil {
		_ = flock(p.lockFd, unix.LOCK_UN)
		return nil, err
	}
	recs := make([]placed, len(values))
	offs := make([]*int64, len(values))
	var scratch []byte
	for i, v := range values {
		if p.full(st) {
			if err := p.rotate(&st); err != nil {
				_ = flock(p.lockFd, unix.LOCK_UN)
				return nil, err
			}
		}
		scratch, _ = encode(scratch[:0], st.next, v)
		recs[i] = placed{chunk: st.chunk, off: st.next, v: v}
		offs[i] = protocol.Int64(st.next)
		st.next++
		st.records++
		st.bytes += int64(len(scratch))
	}
	err = p.storeState(st)
	_ = flock(p.lockFd, unix.LOCK_UN)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := p.writeBuggy(r); err != nil {
			return nil, err
		}
	}
	return offs, nil
}

// writeBuggy writes one reserved record outside the lock, with the
// mutant's bug.
func (p *producer) writeBuggy(r placed) error {
	rec, hdr := encode(nil, r.off, r.v)
	switch p.t.bug {
	case SplitWrite:
		fd, err := p.chunkFd(r.chunk)
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, rec[:hdr]); err != nil {
			return fmt.Errorf("write header: %w", err)
		}
		time.Sleep(raceWindow)
		if _, err := unix.Write(fd, rec[hdr:]); err != nil {
			return fmt.Errorf("write record: %w", err)
		}
	case SeekWrite:
		fd, err := p.seekDescriptor(r.chunk)
		if err != nil {
			return err
		}
		if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
			return fmt.Errorf("seek: %w", err)
		}
		time.Sleep(raceWindow)
		if _, err := unix.Write(fd, rec); err != nil {
			return fmt.Errorf("write record: %w", err)
		}
	case RetryShortWrite:
		fd, err := p.chunkFd(r.chunk)
		if err != nil {
			return err
		}
		for len(rec) > 0 {
			// "a short write is finished by another write": each piece is
			// its own write(), and other producers' pieces land between.
			n, err := unix.Write(fd, rec[:min(len(rec), pieceMax)])
			if err != nil {
				return fmt.Errorf("write piece: %w", err)
			}
			rec = rec[n:]
		}
	case Buffered:
		if p.bw == nil || p.bwChunk != r.chunk {
			if err := p.flushBuffer(); err != nil {
				return err
			}
			fd, err := unix.Open(chunkPath(p.t.dir, r.chunk), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return fmt.Errorf("open chunk %d: %w", r.chunk, err)
			}
			p.bw, p.bwFd, p.bwChunk = bufio.NewWriterSize(fdWriter(fd), bufSize), fd, r.chunk
		}
		if _, err := p.bw.Write(rec); err != nil {
			return fmt.Errorf("buffer record: %w", err)
		}
	}
	return nil
}

// seekDescriptor returns a descriptor of chunk n opened without O_APPEND.
func (p *producer) seekDescriptor(n int64) (int, error) {
	if p.seekFd >= 0 && p.seekChunk == n {
		return p.seekFd, nil
	}
	if p.seekFd >= 0 {
		_ = unix.Close(p.seekFd)
		p.seekFd = -1
	}
	fd, err := unix.Open(chunkPath(p.t.dir, n), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open chunk %d: %w", n, err)
	}
	p.seekFd, p.seekChunk = fd, n
	return fd, nil
}

// fdWriter is an io.Writer over a raw descriptor.
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	n, err := unix.Write(int(w), b)
	if err != nil {
		return max(n, 0), fmt.Errorf("write: %w", err)
	}
	return n, nil
}

// flushBuffer writes out and drops the buffered mutant's buffer.
func (p *producer) flushBuffer() error {
	if p.bw == nil {
		return nil
	}
	err := p.bw.Flush()
	_ = unix.Close(p.bwFd)
	p.bw = nil
	if err != nil {
		return fmt.Errorf("flush buffer: %w", err)
	}
	return nil
}

// appendUnsafeRotation decides about rotation from an unlocked look at the
// state and rotates outside the lock; only the write itself is locked. A
// producer that looked before another one rotated still writes to the old
// chunk, after readers may have left it.
func (p *producer) appendUnsafeRotation(values []string) ([]*int64, error) {
	if st, ok := p.readState(); ok {
		switch {
		case st.chunk > p.mine:
			p.mine = st.chunk
		case st.chunk == p.mine && p.full(st):
			p.mine++
			if err := p.create(p.mine, true); err != nil {
				return nil, err
			}
			if err := p.retain(p.mine); err != nil {
				return nil, err
			}
		}
	}
	if err := flock(p.lockFd, unix.LOCK_EX); err != nil {
		return nil, err
	}
	defer func() { _ = flock(p.lockFd, unix.LOCK_UN) }()
	st, _, err := p.loadState()
	if err != nil {
		return nil, err
	}
	if p.mine > st.chunk {
		st.chunk, st.records, st.bytes = p.mine, 0, 0
	}
	var buf []byte
	offs := make([]*int64, len(values))
	for i, v := range values {
		buf, _ = encode(buf, st.next, v)
		offs[i] = protocol.Int64(st.next)
		st.next++
	}
	if err := p.writeChunk(p.mine, buf); err != nil {
		return nil, err
	}
	if p.mine == st.chunk {
		st.records += int64(len(values))
		st.bytes += int64(len(buf))
	}
	if err := p.storeState(st); err != nil {
		return nil, err
	}
	return offs, nil
}

// close flushes what the mutant buffered and releases the descriptors.
func (p *producer) close() error {
	err := errors.Join(p.syncPending(), p.flushBuffer())
	for _, fd := range []int{p.fd, p.seekFd, p.lockFd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
	p.fd, p.seekFd, p.lockFd = -1, -1, -1
	if p.stateF != nil {
		_ = p.stateF.Close()
		p.stateF = nil
	}
	return err
}
