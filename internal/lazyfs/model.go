package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileKey names an inode of the backing file system.
type fileKey struct {
	dev, ino uint64
}

func keyOf(st *syscall.Stat_t) fileKey {
	return fileKey{dev: uint64(st.Dev), ino: st.Ino}
}

// region is a run of durable bytes saved before an unsynced change.
type region struct {
	off  int64
	data []byte
}

func (r region) end() int64 { return r.off + int64(len(r.data)) }

// lastWrite is a file's latest write since its last sync, and what it
// replaced, for TornOp.
type lastWrite struct {
	off, n   int64
	prevSize int64  // the file's size before the write
	prev     []byte // the old bytes of [off, min(off+n, prevSize))
}

// fileState is the undo record of a regular file changed since its last
// sync: enough to put its durable contents back.
type fileState struct {
	mu      sync.Mutex
	durable int64      // size at the last sync
	size    int64      // current size
	saved   []region   // durable bytes changed since, sorted, disjoint, in [0, durable)
	last    *lastWrite // nil if the latest change was not a write
}

// saveDurable copies aside the durable bytes of [from, to) that are not
// saved yet, reading them from r. st.mu is held.
func (st *fileState) saveDurable(r io.ReaderAt, from, to int64) error {
	from = max(from, 0)
	to = min(to, st.durable)
	if from >= to {
		return nil
	}
	var gaps []region
	pos := from
	for _, s := range st.saved {
		if s.end() <= pos {
			continue
		}
		if s.off >= to {
			break
		}
		if s.off > pos {
			gaps = append(gaps, region{off: pos, data: make([]byte, s.off-pos)})
		}
		pos = s.end()
		if pos >= to {
			break
		}
	}
	if pos < to {
		gaps = append(gaps, region{off: pos, data: make([]byte, to-pos)})
	}
	for _, g := range gaps {
		if _, err := r.ReadAt(g.data, g.off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("save durable bytes [%d, %d): %w", g.off, g.end(), err)
		}
	}
	st.saved = append(st.saved, gaps...)
	sort.Slice(st.saved, func(i, j int) bool { return st.saved[i].off < st.saved[j].off })
	return nil
}

// savedBytes counts the durable bytes copied aside.
func (st *fileState) savedBytes() int64 {
	var n int64
	for _, s := range st.saved {
		n += int64(len(s.data))
	}
	return n
}

// entry is one name of a directory listing.
type entry struct {
	key fileKey
	dir bool
}

// dirState is the durable listing of a directory changed since its last
// sync (or created since the mount: then it starts empty).
type dirState struct {
	listing map[string]entry
}

// stashed is an entry moved to the stash.
type stashed struct {
	key fileKey
	dir bool
}

// fdReader reads a backing descriptor with pread.
type fdReader int

// ReadAt reads len(p) bytes at off, or fails with io.EOF at the end.
func (fd fdReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(int(fd), p[n:], off+int64(n))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// readListing lists a backing directory as names → inodes. At the top it
// leaves the stash out.
func (f *FS) readListing(dir string) (map[string]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	top := dir == f.backing
	l := make(map[string]entry, len(des))
	for _, de := range des {
		if top && de.Name() == StashName {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, de.Name()), &st); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		l[de.Name()] = entry{key: keyOf(&st), dir: st.Mode&syscall.S_IFMT == syscall.S_IFDIR}
	}
	return l, nil
}

// setListing makes l the durable listing of directory k. f.mu is held.
func (f *FS) setListing(k fileKey, l map[string]entry) {
	if old, ok := f.dirs[k]; ok {
		for _, e := range old.listing {
			if f.refs[e.key]--; f.refs[e.key] <= 0 {
				delete(f.refs, e.key)
			}
		}
	}
	if l == nil {
		delete(f.dirs, k)
		return
	}
	for _, e := range l {
		f.refs[e.key]++
	}
	f.dirs[k] = &dirState{listing: l}
}

// capture records the durable listing of the directory at path before its
// first change since its last sync. f.mu is held.
func (f *FS) capture(path string) (fileKey, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return fileKey{}, fmt.Errorf("stat directory %s: %w", path, err)
	}
	k := keyOf(&st)
	if _, ok := f.dirs[k]; ok {
		return k, nil
	}
	l, err := f.readListing(path)
	if err != nil {
		return k, err
	}
	f.setListing(k, l)
	return k, nil
}

// syncDir makes the current listing of the directory at path durable. f.mu
// is held.
func (f *FS) syncDir(path string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return fmt.Errorf("stat directory %s: %w", path, err)
	}
	k := keyOf(&st)
	if _, ok := f.dirs[k]; !ok {
		return nil // unchanged since its last sync
	}
	l, err := f.readListing(path)
	if err != nil {
		return err
	}
	f.setListing(k, l)
	f.gcStash()
	return nil
}

// newInode forgets any record of an inode number that the backing file
// system has just handed out again. f.mu is held.
func (f *FS) newInode(k fileKey, dir bool) {
	delete(f.files, k)
	if dir {
		f.setListing(k, map[string]entry{})
	} else {
		f.setListing(k, nil)
	}
}

// newFile records a file created through the mount: none of its data is
// durable. f.mu is held.
func (f *FS) newFile(k fileKey) {
	f.newInode(k, false)
	f.files[k] = &fileState{}
}

// forget drops the records of an inode the backing file system no longer
// has. f.mu is held.
func (f *FS) forget(k fileKey, dir bool) {
	delete(f.files, k)
	if dir {
		f.setListing(k, nil)
	}
}

// stashPath returns the backing path of stash entry name.
func (f *FS) stashPath(name string) string {
	return filepath.Join(f.backing, StashName, name)
}

// newStashName reserves a stash entry name, creating the stash if needed.
// f.mu is held.
func (f *FS) newStashName() (string, error) {
	if err := os.Mkdir(filepath.Join(f.backing, StashName), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("make stash: %w", err)
	}
	f.nextID++
	return strconv.FormatUint(f.nextID, 10), nil
}

// gcStash removes stash entries that no durable listing names any more.
// f.mu is held.
func (f *FS) gcStash() {
	for changed := true; changed; {
		changed = false
		for name, s := range f.stash {
			if f.refs[s.key] > 0 {
				continue
			}
			p := f.stashPath(name)
			var err error
			if s.dir {
				err = os.RemoveAll(p)
			} else {
				err = os.Remove(p)
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				continue // try again at the next sync
			}
			delete(f.stash, name)
			if s.dir {
				f.setListing(s.key, nil)
			}
			// A file's data record may stay: it is small, and a new
			// inode with the same number resets it (newInode).
			changed = true
		}
	}
}

// fileStateFor returns the undo record of the file k, starting one whose
// durable size is the current size if the file is unchanged since its last
// sync. size reports the current size.
func (f *FS) fileStateFor(k fileKey, size func() (int64, error)) (*fileState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.files[k]; ok {
		return st, nil
	}
	n, err := size()
	if err != nil {
		return nil, err
	}
	st := &fileState{durable: n, size: n}
	f.files[k] = st
	return st, nil
}

// lookupFile returns the undo record of file k, or nil if it is unchanged
// since its last sync.
func (f *FS) lookupFile(k fileKey) *fileState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[k]
}

// syncFile makes the current contents of file k durable. size reports the
// current size; if it fails, the size lazyfs tracked is used.
func (f *FS) syncFile(k fileKey, size func() (int64, error)) {
	st := f.lookupFile(k)
	if st == nil {
		return // unchanged since its last sync
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if n, err := size(); err == nil {
		st.size = n
	}
	st.durable = st.size
	st.saved = nil
	st.last = nil
}
