package ref

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Topic is an open topic: a directory of numbered chunk files and a control
// file. A Topic is safe for concurrent use; many processes may open the same
// topic at once.
type Topic struct {
	name string
	dir  string // the topic directory
	opts Options
	ctl  *control
	// onFUSE says the topic is on FUSE (allowed by AllowUnsafeFS), where
	// readers re-read a span before they call it torn or damaged.
	onFUSE bool
}

// ErrUnsafeFilesystem is returned by Open on a filesystem where O_APPEND
// writes from several processes may interleave.
var ErrUnsafeFilesystem = errors.New("filesystem does not make O_APPEND atomic across writers")

// ErrNoTopic is returned by Open with Options.MustExist, and by Inspect,
// when the topic does not exist.
var ErrNoTopic = errors.New("no such topic")

// Open opens topic name in directory dir, creating both if needed. The topic
// lives in dir/name. Every process that opens a topic should pass the same
// chunk and retention options; they are not stored.
func Open(dir, name string, opts Options) (*Topic, error) {
	if err := ValidateName("topic", name); err != nil {
		return nil, err
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", name, err)
	}
	t := &Topic{name: name, dir: filepath.Join(dir, name), opts: o}
	if o.MustExist {
		if err := t.mustExist(); err != nil {
			return nil, err
		}
	}
	if err := ensureDir(t.dir, o.Fsync != FsyncNever); err != nil {
		return nil, fmt.Errorf("topic %s: %w", name, err)
	}
	if !o.AllowUnsafeFS {
		if err := checkFilesystem(t.dir); err != nil {
			return nil, fmt.Errorf("topic %s: %w", name, err)
		}
	} else {
		var st unix.Statfs_t
		t.onFUSE = unix.Statfs(t.dir, &st) == nil && st.Type == fuseMagic
	}
	// A topic that has a control file is ready: opening costs one open and
	// one mmap, however many chunks there are.
	t.ctl, err = openControl(t.dir, t.initialGen)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", name, err)
	}
	if err := t.checkGen(); err != nil {
		t.ctl.close()
		return nil, fmt.Errorf("topic %s: %w", name, err)
	}
	return t, nil
}

// ensureDir makes dir and its missing parents, and syncs the parent of
// each directory it makes, so that the topic does not vanish whole in a
// power loss. With always it also syncs dir's parent when dir was there
// already: the process that made it may have died before syncing it.
func ensureDir(dir string, always bool) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		if always {
			return syncDir(filepath.Dir(dir))
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := ensureDir(parent, false); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// checkGen repairs a control file that disagrees with the chunks, as a
// power loss (or an operator restoring files) can leave it: gen names a
// chunk that is not there, or is behind a chunk that is. It costs one or
// two access(2) calls when they agree.
func (t *Topic) checkGen() error {
	g := t.ctl.gen()
	c := g / 2
	if t.chunkExists(c) {
		if g%2 == 0 && t.chunkExists(c+1) {
			// Chunk c+1 was created, so c was being sealed: let the
			// rotation be finished, as after any rotator's death.
			t.ctl.casGen(g, g+1)
		}
		return nil
	}
	chunks, err := t.chunks()
	if err != nil {
		return err
	}
	if len(chunks) == 0 {
		return fmt.Errorf("control file says chunk %d is active, but the topic holds no chunk", c)
	}
	last := chunks[len(chunks)-1]
	if last > c {
		want := 2 * last
		if _, _, sealed, err := t.sealInfo(last); err == nil && sealed {
			want++
		}
		for cur := t.ctl.gen(); cur < want && !t.ctl.casGen(cur, want); cur = t.ctl.gen() {
		}
		return nil
	}
	// The active chunk was lost (its creation was never durable): make it
	// again, numbered on from the last chunk there is, so producers can go
	// on. Readers find the chunks between gone, as after retention.
	base, err := t.chunkBase(last)
	if err != nil {
		return err
	}
	_, count, _, err := t.sealInfo(last)
	if err != nil {
		return err
	}
	return t.createChunk(c, base+count, true)
}

// mustExist returns an error wrapping ErrNoTopic unless the topic directory
// holds a chunk.
func (t *Topic) mustExist() error {
	st, err := os.Stat(t.dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("topic %s: %w: %s does not exist", t.name, ErrNoTopic, t.dir)
	}
	if err != nil {
		return fmt.Errorf("topic %s: %w", t.name, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("topic %s: %w: %s is not a directory", t.name, ErrNoTopic, t.dir)
	}
	if t.chunkExists(0) || unix.Access(filepath.Join(t.dir, controlName), unix.F_OK) == nil {
		return nil // the common cases, without listing the directory
	}
	chunks, err := t.chunks()
	if err != nil {
		return err
	}
	if len(chunks) == 0 {
		return fmt.Errorf("topic %s: %w: %s holds no chunk file", t.name, ErrNoTopic, t.dir)
	}
	return nil
}

// initialGen prepares a topic that has no control file (a new topic, or one
// whose control file an operator removed) and returns the gen to create it
// with: the highest chunk is the active one, and if it is already sealed,
// its rotation is left for producers and readers to finish. The record
// limit is the format's largest for a topic that has chunks already (their
// producers' limits are unknown), and 0 for a new one (producers raise it).
func (t *Topic) initialGen() (uint64, int, error) {
	chunks, err := t.chunks()
	if err != nil {
		return 0, 0, err
	}
	maxRec := maxMaxRecordSize
	if len(chunks) == 0 {
		if err := t.createChunk(0, 0, true); err != nil {
			return 0, 0, err
		}
		chunks, maxRec = []uint64{0}, 0
	}
	last := chunks[len(chunks)-1]
	gen := 2 * last
	if _, _, sealed, err := t.sealInfo(last); err == nil && sealed {
		gen++
	}
	return gen, maxRec, nil
}

// recordLimit is the largest payload a reader of t must accept: the
// largest any producer of the topic declared (the control file keeps it),
// or, for a control file too old to say, the format's largest.
func (t *Topic) recordLimit() int {
	n := t.ctl.maxRecord()
	if n == 0 {
		n = maxMaxRecordSize
	}
	return max(n, t.opts.MaxRecordSize)
}

// readLimit is the buffer a reader needs to hold any one record of t.
func (t *Topic) readLimit() int { return 2*(t.recordLimit()+frameOverhead) + 64<<10 }

// Name returns the topic's name.
func (t *Topic) Name() string { return t.name }

// Dir returns the topic's directory.
func (t *Topic) Dir() string { return t.dir }

// Close unmaps the control file. Producers and consumers of t must be closed
// first.
func (t *Topic) Close() error { return t.ctl.close() }

// ActiveChunk returns the number of the chunk producers append to now.
func (t *Topic) ActiveChunk() uint64 { return t.ctl.gen() / 2 }

const chunkSuffix = ".log"

// chunkName is the file name of chunk n: 20 digits, so names sort in order.
func chunkName(n uint64) string { return fmt.Sprintf("%020d%s", n, chunkSuffix) }

func (t *Topic) chunkPath(n uint64) string { return filepath.Join(t.dir, chunkName(n)) }

// parseChunkName returns the number of a chunk file name.
func parseChunkName(name string) (uint64, bool) {
	if len(name) != 20+len(chunkSuffix) || !strings.HasSuffix(name, chunkSuffix) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	return n, err == nil
}

// chunks lists the chunk numbers present, in order.
func (t *Topic) chunks() ([]uint64, error) {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("list chunks of %s: %w", t.name, err)
	}
	var out []uint64
	for _, e := range entries {
		if n, ok := parseChunkName(e.Name()); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

type chunkHeader struct {
	Chunk uint64 `json:"chunk"`
	Base  int64  `json:"base"`
}

// createChunk makes chunk n appear with its header record, atomically. It
// is not an error if another process created it first. With sync, the
// chunk and its directory entry are made durable before it returns.
func (t *Topic) createChunk(n uint64, base int64, sync bool) error {
	payload, _ := json.Marshal(chunkHeader{Chunk: n, Base: base})
	data := appendFrame(nil, kindHeader, time.Now().UnixNano(), payload)
	err := createAtomically(t.dir, chunkName(n), data, sync)
	if errors.Is(err, os.ErrExist) && sync {
		// Another process linked it and may not have synced the directory
		// yet: whoever goes on to append to the chunk must not ack a
		// record in a chunk whose name a power loss can take.
		err = syncDir(t.dir)
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create chunk %d: %w", n, err)
	}
	return nil
}

// maxHeaderLen bounds the header record of a chunk.
const maxHeaderLen = 256

// errBadHeader is the cause of a chunk whose first record is not a valid
// header for it.
var errBadHeader = errors.New("damaged header")

// readHeader returns the header of an open chunk file and its size. For a
// damaged header (an error wrapping errBadHeader) the size is that of the
// damaged span, where the chunk's records begin.
func readHeader(f io.ReaderAt, n uint64) (chunkHeader, int, error) {
	var buf [maxHeaderLen]byte
	m, err := f.ReadAt(buf[:], 0)
	if m == 0 && err != nil && !errors.Is(err, io.EOF) {
		return chunkHeader{}, 0, fmt.Errorf("read header of chunk %d: %w", n, err)
	}
	step, size, fr, _, detail := scanOne(buf[:m])
	switch {
	case step == stepPartial:
		return chunkHeader{}, 0, fmt.Errorf("chunk %d: %w: no complete record in its first %d bytes", n, errBadHeader, m)
	case step == stepSkip:
		return chunkHeader{}, size, fmt.Errorf("chunk %d: %w: %s", n, errBadHeader, detail)
	case fr.kind != kindHeader:
		return chunkHeader{}, 0, fmt.Errorf("chunk %d: %w: its first record is not a header", n, errBadHeader)
	}
	var h chunkHeader
	if err := json.Unmarshal(fr.payload, &h); err != nil || h.Chunk != n || h.Base < 0 {
		return chunkHeader{}, size, fmt.Errorf("chunk %d: %w: %q", n, errBadHeader, fr.payload)
	}
	return h, size, nil
}

// newestChunk returns the number of the newest chunk: the active one, or
// its successor if a rotation has created it.
func (t *Topic) newestChunk() uint64 {
	n := t.ctl.gen() / 2
	if t.chunkExists(n + 1) {
		n++
	}
	return n
}

// chunkExists says whether chunk n's file is there (an error other than
// "no such file" counts as there: opening it will tell).
func (t *Topic) chunkExists(n uint64) bool {
	err := unix.Access(t.chunkPath(n), unix.F_OK)
	return err == nil || !errors.Is(err, unix.ENOENT)
}

// chunkBase returns the offset of chunk n's first record.
func (t *Topic) chunkBase(n uint64) (int64, error) {
	f, err := os.Open(t.chunkPath(n))
	if err != nil {
		return 0, fmt.Errorf("open chunk %d: %w", n, err)
	}
	defer f.Close()
	h, _, err := readHeader(f, n)
	return h.Base, err
}

// seekBase is chunk n's base offset for a seek: its header's, or counted
// from the chunks before it if the header is damaged.
func (t *Topic) seekBase(n uint64) (int64, error) {
	base, err := t.chunkBase(n)
	if errors.Is(err, errBadHeader) {
		return t.derivedBase(n)
	}
	return base, err
}

// derivedBase is the base offset of chunk n counted from the chunk before
// it, for a chunk whose own header is damaged: base(n-1) plus the slots of
// chunk n-1 before its first seal. It looks back at most maxDerive chunks.
func (t *Topic) derivedBase(n uint64) (int64, error) {
	const maxDerive = 16
	var slots int64
	for i := uint64(1); i <= maxDerive && i <= n; i++ {
		_, count, _, err := t.sealInfo(n - i)
		if err != nil {
			return 0, fmt.Errorf("count chunk %d for the base of chunk %d: %w", n-i, n, err)
		}
		slots += count
		base, err := t.chunkBase(n - i)
		if err == nil {
			return base + slots, nil
		}
		if !errors.Is(err, errBadHeader) {
			return 0, err
		}
	}
	if n == 0 {
		return 0, nil
	}
	return 0, fmt.Errorf("chunk %d: no readable header within %d chunks before it", n, maxDerive)
}

// sealInfo reads chunk n to its first seal. It returns the seal's byte
// position, the number of valid data records before it, and whether there
// is a seal at all.
func (t *Topic) sealInfo(n uint64) (pos int64, count int64, sealed bool, err error) {
	data, err := os.ReadFile(t.chunkPath(n))
	if err != nil {
		return 0, 0, false, fmt.Errorf("read chunk %d: %w", n, err)
	}
	pos, count, sealed, torn := scanSealTorn(data)
	if sealed && torn && t.onFUSE {
		// The count fixes every later offset: on FUSE, where a reader was
		// seen to get bytes that were not the file's, read once more (as
		// the consumer rereads a span there). A local page cache is the
		// file.
		if again, err := os.ReadFile(t.chunkPath(n)); err == nil {
			pos, count, sealed = scanSeal(again)
		}
	}
	return pos, count, sealed, nil
}

// scanSeal finds the first seal in a chunk's bytes: its position, the
// slots before it (its valid data records, and what skipped spans take by
// the rule readers number records by: see skipSlots), and whether there is
// one.
func scanSeal(data []byte) (pos int64, count int64, sealed bool) {
	pos, count, sealed, _ = scanSealTorn(data)
	return pos, count, sealed
}

// scanSealTorn is scanSeal that also says whether a torn span came before
// the seal.
func scanSealTorn(data []byte) (pos int64, count int64, sealed, torn bool) {
	p := 0
	for p < len(data) {
		step, size, fr, kind, _ := scanOne(data[p:])
		if step == stepPartial {
			break
		}
		if step == stepSkip && p > 0 { // a damaged header takes no slot
			count += skipSlots(data[p : p+size])
			torn = torn || kind == ProblemTorn
		}
		if step == stepRecord {
			switch fr.kind {
			case kindData:
				count++
			case kindSeal:
				return int64(p), count, true, torn
			}
		}
		p += size
	}
	return 0, count, false, torn
}

// appendSeal appends a seal record to chunk n. Only call it once gen shows
// that sealing n has begun: a seal earlier than that could void a record
// whose producer saw an unchanged gen.
func (t *Topic) appendSeal(n uint64) error {
	fd, err := unix.Open(t.chunkPath(n), unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open chunk %d to seal it: %w", n, err)
	}
	defer unix.Close(fd)
	rec := appendFrame(nil, kindSeal, time.Now().UnixNano(), []byte(fmt.Sprintf(`{"chunk":%d}`, n)))
	w, err := unix.Write(fd, rec)
	if err != nil {
		return fmt.Errorf("seal chunk %d: %w", n, err)
	}
	if w != len(rec) {
		return fmt.Errorf("seal chunk %d: short write of %d of %d bytes", n, w, len(rec))
	}
	if t.opts.Fsync != FsyncNever {
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("sync chunk %d: %w", n, err)
		}
	}
	return nil
}

// rotate starts sealing chunk c if it is still active, and finishes it.
// Losing the race to another rotator is not an error.
func (t *Topic) rotate(c uint64) error {
	if !t.ctl.casGen(2*c, 2*c+1) {
		return nil
	}
	return t.finishRotation(c)
}

// finishRotation completes the sealing of chunk c, begun by this or another
// (perhaps dead or stopped) process: it makes sure c holds a seal, creates
// chunk c+1 with the right base offset, and makes c+1 active. Every step is
// idempotent and lock-free, so any number of processes may run it at once
// and none waits for another.
func (t *Topic) finishRotation(c uint64) error {
	if t.ctl.gen() >= 2*c+2 {
		return nil
	}
	_, count, sealed, err := t.sealInfo(c)
	if err != nil {
		return err
	}
	if !sealed {
		// gen = 2c+1 is durable before any seal is, so that no power loss
		// leaves a seal under a gen that says c is active.
		if err := t.ctl.sync(); err != nil {
			return err
		}
		if err := t.appendSeal(c); err != nil {
			return err
		}
		// Another helper's seal may have landed first: count to the first.
		if _, count, _, err = t.sealInfo(c); err != nil {
			return err
		}
	}
	base, err := t.chunkBase(c)
	if err != nil {
		return err
	}
	// The new chunk is durable before gen names it, in every mode: a
	// power loss must not leave a gen whose active chunk is gone.
	if err := t.createChunk(c+1, base+count, true); err != nil {
		return err
	}
	if t.ctl.casGen(2*c+1, 2*c+2) {
		t.ctl.resetCounts()
		// Durable before retention deletes anything, so that no power loss
		// leaves a gen naming a deleted chunk.
		if err := t.ctl.sync(); err != nil {
			return err
		}
		return t.applyRetention(c + 1)
	}
	return nil
}

// applyRetention deletes the oldest chunks beyond the retention limits. The
// active chunk is never deleted. Processes may race to delete; a chunk that
// is already gone is not an error. A reader with a deleted chunk open reads
// it to the end: the file lives until it is closed.
func (t *Topic) applyRetention(active uint64) error {
	if t.opts.RetainChunks == 0 && t.opts.RetainBytes == 0 {
		return nil
	}
	chunks, err := t.chunks()
	if err != nil {
		return err
	}
	// Walk from the newest chunk back, keeping chunks while both limits
	// allow; delete everything older than the first one that does not fit.
	kept, total := 0, int64(0)
	i := len(chunks) - 1
	for ; i >= 0; i-- {
		n := chunks[i]
		size, err := t.chunkSize(n)
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		if n < active {
			if t.opts.RetainChunks > 0 && kept >= t.opts.RetainChunks {
				break
			}
			if t.opts.RetainBytes > 0 && total+size > t.opts.RetainBytes {
				break
			}
		}
		kept++
		total += size
	}
	for _, n := range chunks[:i+1] {
		if err := os.Remove(t.chunkPath(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("retention: delete chunk %d: %w", n, err)
		}
	}
	return nil
}

// chunkSize returns the size of chunk n, 0 if it is gone.
func (t *Topic) chunkSize(n uint64) (int64, error) {
	st, err := os.Stat(t.chunkPath(n))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Filesystem magic numbers (statfs f_type) of filesystems that do not make
// O_APPEND atomic across writers.
var unsafeFilesystems = map[int64]string{
	0x6969:     "nfs",
	0x517B:     "smb",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	fuseMagic:  "fuse",
}

// fuseMagic is the statfs f_type of FUSE file systems.
const fuseMagic = 0x65735546

func checkFilesystem(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if name, bad := unsafeFilesystems[int64(st.Type)]; bad {
		return fmt.Errorf("%w: %s is on %s (set AllowUnsafeFS, or --allow-unsafe-fs, to use it anyway)", ErrUnsafeFilesystem, dir, name)
	}
	return nil
}
