package lazyfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Mode says what a power loss does to file data that was never synced.
// Unsynced directory changes are undone in every mode.
type Mode string

// The power-loss modes, named as LazyFS names its faults.
const (
	// LoseAll drops every unsynced byte: each file goes back to its
	// durable size and durable contents (LazyFS's clear-cache).
	LoseAll Mode = "lose-all"
	// TornSeq keeps, for each file, a random prefix of the bytes appended
	// since its last sync, as a device that wrote them in order and
	// stopped would; unsynced overwrites of durable bytes are undone.
	TornSeq Mode = "torn-seq"
	// TornOp keeps every unsynced write of each file except its last
	// one, which is torn: split at 512 B or 4 KiB boundaries, a random
	// part of its pieces survives and the rest read as zeros (or as the
	// bytes they replaced), or are cut off at the end of the file.
	TornOp Mode = "torn-op"
)

// Modes returns every mode, in a fixed order.
func Modes() []Mode { return []Mode{LoseAll, TornSeq, TornOp} }

// ParseMode parses "lose-all", "torn-seq" or "torn-op".
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("lazyfs: power-loss mode %q: want lose-all, torn-seq or torn-op", s)
}

// Change says what a power loss did to a directory entry.
type Change string

// The changes a power loss makes to entries.
const (
	// Dropped: the entry was made since its directory's last sync and is
	// gone.
	Dropped Change = "dropped"
	// Restored: the entry was removed or renamed away since its
	// directory's last sync and is back.
	Restored Change = "restored"
	// Replaced: the name now leads to its durable file or directory, not
	// the one it led to before the power loss.
	Replaced Change = "replaced"
)

// EntryLoss is one directory entry that a power loss changed.
type EntryLoss struct {
	Path   string // relative to the top of the mount
	Change Change
	Dir    bool // the entry is (after Restored or Replaced: was made) a directory
}

// FileLoss is what a power loss did to the data of one regular file that
// survived it. Sizes are in bytes.
type FileLoss struct {
	Path    string // relative to the top of the mount, after the power loss
	Before  int64  // size just before the power loss
	After   int64  // size after it
	Durable int64  // size at the last sync
	// Dropped counts the bytes of unsynced writes that did not survive:
	// cut off, zeroed, or rolled back to older contents.
	Dropped int64
	// Restored counts the durable bytes that unsynced writes, truncation
	// or hole punching had changed and that were put back.
	Restored int64
	// Torn describes the torn write, in mode TornOp.
	Torn string
}

// Report says what a power loss dropped. Files and Entries are sorted by
// path.
type Report struct {
	Mode    Mode
	Files   []FileLoss
	Entries []EntryLoss
}

// DroppedBytes is the total of Files[i].Dropped.
func (r Report) DroppedBytes() int64 {
	var n int64
	for _, f := range r.Files {
		n += f.Dropped
	}
	return n
}

// String summarises the report, one line per file and entry.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "power loss (%s): %d files lost %d bytes, %d entries changed\n",
		r.Mode, len(r.Files), r.DroppedBytes(), len(r.Entries))
	for _, f := range r.Files {
		fmt.Fprintf(&b, "  %s: %d -> %d bytes (durable %d), dropped %d, restored %d", f.Path, f.Before, f.After, f.Durable, f.Dropped, f.Restored)
		if f.Torn != "" {
			fmt.Fprintf(&b, "; %s", f.Torn)
		}
		b.WriteByte('\n')
	}
	for _, e := range r.Entries {
		kind := "file"
		if e.Dir {
			kind = "directory"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", kind, e.Path, e.Change)
	}
	return b.String()
}

// PowerLoss simulates a power loss: afterwards the backing directory holds
// exactly what a machine that lost power would hold (see the package doc
// for each mode), and the mount is mounted again, with everything in it
// durable, for restarted processes. rng draws the torn prefixes and pieces
// (nil is allowed for LoseAll), so a seeded rng repeats a power loss.
//
// The caller must first SIGKILL and reap every process that uses the
// mount: a power loss stops the machine, and lazyfs cannot stop processes.
// While a file, a mapping or a working directory is still open on the
// mount, PowerLoss changes nothing and returns an error wrapping ErrBusy.
// Dirty pages of shared mappings are written back by the unmount and count
// as unsynced writes.
func (f *FS) PowerLoss(mode Mode, rng *rand.Rand) (Report, error) {
	if _, err := ParseMode(string(mode)); err != nil {
		return Report{}, err
	}
	if rng == nil && mode != LoseAll {
		return Report{}, fmt.Errorf("lazyfs: power loss %s needs a random source", mode)
	}
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if !f.mounted {
		return Report{}, fmt.Errorf("lazyfs: power loss: %w", ErrUnmounted)
	}
	if err := f.unmount(true); err != nil {
		if errors.Is(err, ErrBusy) {
			return Report{}, fmt.Errorf("lazyfs: power loss refused (kill every process using the mount first): %w", err)
		}
		return Report{}, fmt.Errorf("lazyfs: power loss: %w", err)
	}
	f.mounted = false
	rep, err := f.rollback(mode, rng)
	if perr := f.takePanics(); perr != nil {
		err = errors.Join(err, perr)
	}
	if merr := f.mount(); merr != nil {
		err = errors.Join(err, merr)
	}
	return rep, err
}

// tree is the backing directory as found at a power loss.
type tree struct {
	paths   map[fileKey][]string         // paths relative to backing; visible ones first
	stat    map[fileKey]*syscall.Stat_t  // one lstat of each inode
	listing map[fileKey]map[string]entry // current listing of each directory
	visible map[string]entry             // path relative to the mount → inode
	root    fileKey
}

// walk reads the whole backing directory, stash included.
func (f *FS) walk() (*tree, error) {
	t := &tree{
		paths:   map[fileKey][]string{},
		stat:    map[fileKey]*syscall.Stat_t{},
		listing: map[fileKey]map[string]entry{},
		visible: map[string]entry{},
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(f.backing, &st); err != nil {
		return nil, fmt.Errorf("stat backing directory: %w", err)
	}
	t.root = keyOf(&st)
	t.stat[t.root] = &st
	var visit func(rel string, k fileKey, visible bool) error
	visit = func(rel string, k fileKey, visible bool) error {
		abs := filepath.Join(f.backing, rel)
		des, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("list %s: %w", abs, err)
		}
		l := map[string]entry{}
		t.listing[k] = l
		for _, de := range des {
			if rel == "" && de.Name() == StashName {
				continue
			}
			r := filepath.Join(rel, de.Name())
			st := new(syscall.Stat_t)
			if err := syscall.Lstat(filepath.Join(f.backing, r), st); err != nil {
				return fmt.Errorf("stat %s: %w", r, err)
			}
			e := entry{key: keyOf(st), dir: isDir(st)}
			l[de.Name()] = e
			t.paths[e.key] = append(t.paths[e.key], r)
			t.stat[e.key] = st
			if visible {
				t.visible[r] = e
			}
			if e.dir {
				if err := visit(r, e.key, visible); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit("", t.root, true); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(filepath.Join(f.backing, StashName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list stash: %w", err)
	}
	for _, de := range des {
		r := filepath.Join(StashName, de.Name())
		st := new(syscall.Stat_t)
		if err := syscall.Lstat(filepath.Join(f.backing, r), st); err != nil {
			return nil, fmt.Errorf("stat %s: %w", r, err)
		}
		k := keyOf(st)
		t.paths[k] = append(t.paths[k], r)
		t.stat[k] = st
		if isDir(st) {
			if err := visit(r, k, false); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// placement is one entry of the rebuilt tree.
type placement struct {
	rel string
	e   entry
}

// rollback turns the backing directory into its durable state. The mount
// is down and f.mu is free.
func (f *FS) rollback(mode Mode, rng *rand.Rand) (Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep := Report{Mode: mode}
	t, err := f.walk()
	if err != nil {
		return rep, fmt.Errorf("lazyfs: power loss: %w", err)
	}

	// The durable tree: from the top, each directory's durable listing
	// (its current one if it did not change since its last sync).
	var plan []placement
	var problems []string
	placed := map[fileKey]bool{t.root: true}
	var visit func(dk fileKey, rel string)
	visit = func(dk fileKey, rel string) {
		l := t.listing[dk]
		if ds, ok := f.dirs[dk]; ok {
			l = ds.listing
		} else if l == nil {
			problems = append(problems, fmt.Sprintf("directory %s: not found", rel))
			return
		}
		names := make([]string, 0, len(l))
		for name := range l {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			e, r := l[name], filepath.Join(rel, name)
			if t.stat[e.key] == nil {
				problems = append(problems, fmt.Sprintf("%s: its inode is gone", r))
				continue
			}
			if e.dir {
				if placed[e.key] {
					// Renamed between directories and both synced
					// before and after: keep the first name.
					continue
				}
				placed[e.key] = true
			}
			plan = append(plan, placement{rel: r, e: e})
			if e.dir {
				visit(e.key, r)
			}
		}
	}
	visit(t.root, "")

	stashDir := filepath.Join(f.backing, StashName)
	rebuild := filepath.Join(stashDir, "rebuild")
	if err := os.MkdirAll(rebuild, 0o700); err != nil {
		return rep, fmt.Errorf("lazyfs: power loss: %w", err)
	}
	var dirs []placement
	firstPath := map[fileKey]string{}
	for _, p := range plan {
		dst := filepath.Join(rebuild, p.rel)
		if p.e.dir {
			if err := os.Mkdir(dst, 0o700); err != nil {
				return rep, fmt.Errorf("lazyfs: power loss: rebuild: %w", err)
			}
			dirs = append(dirs, p)
			continue
		}
		if err := unix.Link(filepath.Join(f.backing, t.paths[p.e.key][0]), dst); err != nil {
			return rep, fmt.Errorf("lazyfs: power loss: rebuild %s: %w", p.rel, err)
		}
		if _, ok := firstPath[p.e.key]; !ok {
			firstPath[p.e.key] = p.rel
		}
	}
	// Modes last, so that a read-only directory can be filled first.
	for i := len(dirs) - 1; i >= 0; i-- {
		st := t.stat[dirs[i].e.key]
		dst := filepath.Join(rebuild, dirs[i].rel)
		_ = os.Lchown(dst, int(st.Uid), int(st.Gid))
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return rep, fmt.Errorf("lazyfs: power loss: rebuild: %w", err)
		}
	}

	// File data.
	keys := make([]fileKey, 0, len(firstPath))
	for k := range firstPath {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return firstPath[keys[i]] < firstPath[keys[j]] })
	for _, k := range keys {
		st, ok := f.files[k]
		if !ok || t.stat[k].Mode&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		fl, err := applyLoss(filepath.Join(rebuild, firstPath[k]), st, mode, rng)
		if err != nil {
			return rep, fmt.Errorf("lazyfs: power loss: %s: %w", firstPath[k], err)
		}
		if fl.Dropped > 0 || fl.Restored > 0 || fl.Before != fl.After {
			fl.Path = firstPath[k]
			rep.Files = append(rep.Files, fl)
		}
	}

	// Swap the rebuilt tree in.
	old := filepath.Join(stashDir, "old")
	if err := os.Mkdir(old, 0o700); err != nil {
		return rep, fmt.Errorf("lazyfs: power loss: %w", err)
	}
	for name := range t.listing[t.root] {
		if err := os.Rename(filepath.Join(f.backing, name), filepath.Join(old, name)); err != nil {
			return rep, fmt.Errorf("lazyfs: power loss: swap: %w", err)
		}
	}
	des, err := os.ReadDir(rebuild)
	if err != nil {
		return rep, fmt.Errorf("lazyfs: power loss: swap: %w", err)
	}
	for _, de := range des {
		if err := os.Rename(filepath.Join(rebuild, de.Name()), filepath.Join(f.backing, de.Name())); err != nil {
			return rep, fmt.Errorf("lazyfs: power loss: swap: %w", err)
		}
	}
	if err := os.RemoveAll(stashDir); err != nil {
		return rep, fmt.Errorf("lazyfs: power loss: remove stash: %w", err)
	}

	// What happened to the entries.
	after := map[string]entry{}
	for _, p := range plan {
		after[p.rel] = p.e
	}
	for rel, e := range t.visible {
		a, ok := after[rel]
		switch {
		case !ok:
			rep.Entries = append(rep.Entries, EntryLoss{Path: rel, Change: Dropped, Dir: e.dir})
		case a.key != e.key:
			rep.Entries = append(rep.Entries, EntryLoss{Path: rel, Change: Replaced, Dir: a.dir})
		}
	}
	for rel, a := range after {
		if _, ok := t.visible[rel]; !ok {
			rep.Entries = append(rep.Entries, EntryLoss{Path: rel, Change: Restored, Dir: a.dir})
		}
	}
	sort.Slice(rep.Entries, func(i, j int) bool { return rep.Entries[i].Path < rep.Entries[j].Path })
	sort.Slice(rep.Files, func(i, j int) bool { return rep.Files[i].Path < rep.Files[j].Path })
	if len(problems) > 0 {
		return rep, fmt.Errorf("lazyfs: power loss: the durable state is incomplete (a lazyfs bug): %s", strings.Join(problems, "; "))
	}
	return rep, nil
}

// applyLoss applies mode to the file at path, whose undo record is st.
func applyLoss(path string, st *fileState, mode Mode, rng *rand.Rand) (FileLoss, error) {
	fl := FileLoss{Before: st.size, Durable: st.durable, After: st.size}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fl, err
	}
	defer unix.Close(fd)
	restore := func() error {
		for _, s := range st.saved {
			if _, err := unix.Pwrite(fd, s.data, s.off); err != nil {
				return err
			}
		}
		fl.Restored = st.savedBytes()
		return nil
	}
	tail := max(0, st.size-st.durable)
	switch mode {
	case LoseAll, TornSeq:
		var keep int64
		if mode == TornSeq && tail > 0 {
			keep = rng.Int64N(tail + 1)
		}
		fl.After = st.durable + keep
		if err := unix.Ftruncate(fd, fl.After); err != nil {
			return fl, err
		}
		if err := restore(); err != nil {
			return fl, err
		}
		fl.Dropped = tail - keep + fl.Restored
	case TornOp:
		if st.last == nil {
			return fl, nil
		}
		return tear(fd, st, rng, fl)
	}
	return fl, nil
}

// tear tears the last write of the file open at fd.
func tear(fd int, st *fileState, rng *rand.Rand, fl FileLoss) (FileLoss, error) {
	w := st.last
	block := int64(512)
	if rng.IntN(2) == 1 {
		block = 4096
	}
	end := w.off + w.n
	type piece struct{ off, end int64 }
	var pieces []piece
	for start, b := w.off, (w.off/block+1)*block; start < end; b += block {
		e := min(b, end)
		pieces = append(pieces, piece{start, e})
		start = e
	}
	keep := make([]bool, len(pieces))
	if len(pieces) == 1 {
		keep[0] = rng.IntN(2) == 1
	} else {
		kept := 0
		for i := range keep {
			keep[i] = rng.IntN(2) == 1
			if keep[i] {
				kept++
			}
		}
		if kept == 0 {
			keep[rng.IntN(len(keep))] = true
		} else if kept == len(keep) {
			keep[rng.IntN(len(keep))] = false
		}
	}
	size := st.size
	if end > w.prevSize {
		size = w.prevSize
		for i, p := range pieces {
			if keep[i] {
				size = max(size, p.end)
			}
		}
	}
	zeros := make([]byte, block)
	kept := 0
	for i, p := range pieces {
		if keep[i] {
			kept++
			continue
		}
		fl.Dropped += p.end - p.off
		if p.off < w.prevSize {
			e := min(p.end, w.prevSize)
			if _, err := unix.Pwrite(fd, w.prev[p.off-w.off:e-w.off], p.off); err != nil {
				return fl, err
			}
		}
		if z, e := max(p.off, w.prevSize), min(p.end, size); z < e {
			if _, err := unix.Pwrite(fd, zeros[:e-z], z); err != nil {
				return fl, err
			}
		}
	}
	if size < st.size {
		if err := unix.Ftruncate(fd, size); err != nil {
			return fl, err
		}
	}
	fl.After = size
	fl.Torn = fmt.Sprintf("last write [%d, %d) torn at %d B boundaries: %d of %d pieces kept", w.off, end, block, kept, len(pieces))
	return fl, nil
}
