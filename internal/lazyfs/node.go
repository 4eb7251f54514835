package lazyfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a file or directory of the mount. It passes everything through
// to the backing directory like go-fuse's loopback, and records what a
// power loss would undo before each change.
type node struct {
	fs.LoopbackNode
	lfs *FS
}

var (
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeTmpfiler       = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeReaddirer      = (*node)(nil)
	_ fs.FileReaddirenter   = (*dirHandle)(nil)
	_ fs.FileFsyncdirer     = (*dirHandle)(nil)
	_ fs.FileSeekdirer      = (*dirHandle)(nil)
	_ fs.FileReleasedirer   = (*dirHandle)(nil)
	_ fs.FileReader         = (*fileHandle)(nil)
	_ fs.FileWriter         = (*fileHandle)(nil)
	_ fs.FileFsyncer        = (*fileHandle)(nil)
	_ fs.FileFlusher        = (*fileHandle)(nil)
	_ fs.FileReleaser       = (*fileHandle)(nil)
	_ fs.FileGetattrer      = (*fileHandle)(nil)
	_ fs.FileStatxer        = (*fileHandle)(nil)
	_ fs.FileLseeker        = (*fileHandle)(nil)
	_ fs.FileAllocater      = (*fileHandle)(nil)
)

// path returns the node's path in the backing directory.
func (n *node) path() string {
	return filepath.Join(n.lfs.backing, n.Path(nil))
}

// hidden tells whether name in this directory is the stash.
func (n *node) hidden(name string) bool {
	return name == StashName && n.EmbeddedInode() == n.Root()
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func lstatKey(p string) (fileKey, *syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fileKey{}, nil, err
	}
	return keyOf(&st), &st, nil
}

func isDir(st *syscall.Stat_t) bool { return st.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// Lookup hides the stash.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.hidden(name) {
		return nil, syscall.ENOENT
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

// Readdir lists the directory without the stash.
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	h, _, e := n.OpendirHandle(ctx, 0)
	if e != 0 {
		return nil, e
	}
	return &dirStream{h: h.(*dirHandle)}, 0
}

// OpendirHandle opens the backing directory for reading; the handle hides
// the stash and turns fsync into a durable mark.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ds, e := fs.NewLoopbackDirStream(n.path())
	if e != 0 {
		return nil, 0, e
	}
	return &dirHandle{n: n, ds: ds, top: n.EmbeddedInode() == n.Root()}, 0, 0
}

// backingFlags turns the open flags of a caller into those of the backing
// descriptor: lazyfs writes at the offsets the kernel gives (so no
// O_APPEND), gets an fsync from the kernel after each O_SYNC or O_DSYNC
// write (so the backing file needs neither), needs no O_DIRECT alignment,
// and reads what it saves before an overwrite (so O_WRONLY becomes O_RDWR).
func backingFlags(flags uint32) int {
	fl := int(flags) &^ (unix.O_APPEND | unix.O_DIRECT | unix.O_SYNC | unix.O_DSYNC | unix.O_TRUNC |
		unix.O_CREAT | unix.O_EXCL | fuse.FMODE_EXEC)
	if fl&unix.O_ACCMODE == unix.O_WRONLY {
		fl = fl&^unix.O_ACCMODE | unix.O_RDWR
	}
	return fl | unix.O_CLOEXEC
}

// Create makes a new file. Neither its entry nor its data is durable yet.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if n.hidden(name) {
		return nil, nil, 0, syscall.EPERM
	}
	caller, _ := fuse.FromContext(ctx)
	var p string
	var k fileKey
	var ch *fs.Inode
	fd, e := func() (int, syscall.Errno) {
		f := n.lfs
		f.mu.Lock()
		defer f.mu.Unlock()
		dir := n.path()
		if _, err := f.capture(dir); err != nil {
			return -1, errno(err)
		}
		p = filepath.Join(dir, name)
		// The kernel creates only names it found missing; O_EXCL keeps
		// a file made behind lazyfs's back from being taken for a new
		// one.
		fd, err := unix.Open(p, backingFlags(flags)|unix.O_CREAT|unix.O_EXCL, mode)
		if err != nil {
			return -1, errno(err)
		}
		if os.Geteuid() == 0 && caller != nil {
			_ = unix.Fchown(fd, int(caller.Uid), int(caller.Gid))
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			unix.Unlink(p)
			return -1, errno(err)
		}
		k = fileKey{dev: st.Dev, ino: st.Ino}
		f.newFile(k)
		var e syscall.Errno
		if ch, e = n.LoopbackNode.Lookup(ctx, name, out); e != 0 {
			unix.Close(fd)
			return -1, e
		}
		return fd, 0
	}()
	if e != 0 {
		return nil, nil, 0, e
	}
	return ch, n.lfs.newHandle(fd, k, p, caller), 0, 0
}

// Open opens an existing file.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	p := n.path()
	bf := backingFlags(flags)
	fd, err := unix.Open(p, bf, 0)
	if err != nil && int(flags)&unix.O_ACCMODE == unix.O_WRONLY {
		fd, err = unix.Open(p, bf&^unix.O_ACCMODE|unix.O_WRONLY, 0)
	}
	if err != nil {
		return nil, 0, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, errno(err)
	}
	caller, _ := fuse.FromContext(ctx)
	h := n.lfs.newHandle(fd, fileKey{dev: st.Dev, ino: st.Ino}, p, caller)
	if flags&unix.O_TRUNC != 0 {
		// The kernel truncates with SETATTR unless the file system
		// asks for O_TRUNC in OPEN; handle both.
		if e := h.truncate(0); e != 0 {
			h.Release(ctx)
			return nil, 0, e
		}
	}
	return h, 0, 0
}

// Tmpfile refuses O_TMPFILE: such a file has no name to link later, which
// go-fuse's loopback cannot pass through, and callers fall back.
func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// CopyFileRange makes the kernel fall back to reads and writes, which
// lazyfs records.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, len uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// newEntry runs make, which adds name to this directory, after recording
// the directory's durable listing, and then records the new inode.
func (n *node) newEntry(name string, newInode bool, make func() (*fs.Inode, syscall.Errno)) (*fs.Inode, syscall.Errno) {
	if n.hidden(name) {
		return nil, syscall.EPERM
	}
	f := n.lfs
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := n.path()
	if _, err := f.capture(dir); err != nil {
		return nil, errno(err)
	}
	ch, e := make()
	if e != 0 || !newInode {
		return ch, e
	}
	k, st, err := lstatKey(filepath.Join(dir, name))
	if err != nil {
		return ch, 0 // it was made; at worst a stale record is kept
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		f.newFile(k)
	} else {
		f.newInode(k, isDir(st))
	}
	return ch, 0
}

// Mkdir makes a directory; it is empty in the durable state until it is
// synced, and its entry is not durable until this directory is synced.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.newEntry(name, true, func() (*fs.Inode, syscall.Errno) {
		return n.LoopbackNode.Mkdir(ctx, name, mode, out)
	})
}

// Mknod makes a special (or regular) file.
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.newEntry(name, true, func() (*fs.Inode, syscall.Errno) {
		return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
	})
}

// Symlink makes a symbolic link.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.newEntry(name, true, func() (*fs.Inode, syscall.Errno) {
		return n.LoopbackNode.Symlink(ctx, target, name, out)
	})
}

// Link adds a name for an existing file.
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.newEntry(name, false, func() (*fs.Inode, syscall.Errno) {
		return n.LoopbackNode.Link(ctx, target, name, out)
	})
}

// remove takes name out of this directory. An entry that a durable
// listing still names goes to the stash, so that a power loss can bring it
// back.
func (n *node) remove(name string, wantDir bool) syscall.Errno {
	if n.hidden(name) {
		return syscall.ENOENT
	}
	f := n.lfs
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := n.path()
	if _, err := f.capture(dir); err != nil {
		return errno(err)
	}
	p := filepath.Join(dir, name)
	k, st, err := lstatKey(p)
	if err != nil {
		return errno(err)
	}
	switch {
	case wantDir && !isDir(st):
		return syscall.ENOTDIR
	case !wantDir && isDir(st):
		return syscall.EISDIR
	}
	if f.refs[k] == 0 {
		if wantDir {
			err = unix.Rmdir(p)
		} else {
			err = unix.Unlink(p)
		}
		if err == nil && (wantDir || st.Nlink <= 1) {
			f.forget(k, wantDir)
		}
		return errno(err)
	}
	if wantDir {
		if e := emptyDir(p); e != 0 {
			return e
		}
	}
	sn, err := f.newStashName()
	if err != nil {
		return errno(err)
	}
	if err := unix.Rename(p, f.stashPath(sn)); err != nil {
		return errno(err)
	}
	f.stash[sn] = stashed{key: k, dir: wantDir}
	return 0
}

// emptyDir returns 0 if the directory p is empty, else ENOTEMPTY or the
// error of reading it.
func emptyDir(p string) syscall.Errno {
	d, err := os.Open(p)
	if err != nil {
		return errno(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return syscall.ENOTEMPTY
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return errno(err)
	}
	return 0
}

// Unlink removes a name of a file.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, false)
}

// Rmdir removes an empty directory.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, true)
}

// Rename moves name to newName in newParent. A replaced target that a
// durable listing names goes to the stash.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok || np.lfs != n.lfs {
		return syscall.EXDEV
	}
	if n.hidden(name) {
		return syscall.ENOENT
	}
	if np.hidden(newName) {
		return syscall.EPERM
	}
	f := n.lfs
	f.mu.Lock()
	defer f.mu.Unlock()
	d1, d2 := n.path(), np.path()
	if _, err := f.capture(d1); err != nil {
		return errno(err)
	}
	if _, err := f.capture(d2); err != nil {
		return errno(err)
	}
	p1, p2 := filepath.Join(d1, name), filepath.Join(d2, newName)
	rename := func() error {
		if flags == 0 {
			return unix.Rename(p1, p2)
		}
		return unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, uint(flags))
	}
	if flags&unix.RENAME_EXCHANGE != 0 {
		return errno(rename()) // nothing is removed
	}
	k1, st1, err := lstatKey(p1)
	if err != nil {
		return errno(err)
	}
	k2, st2, err := lstatKey(p2)
	if err != nil || k1 == k2 || flags&unix.RENAME_NOREPLACE != 0 {
		return errno(rename()) // no target, or the same file: nothing is removed
	}
	dir1, dir2 := isDir(st1), isDir(st2)
	switch {
	case dir1 && !dir2:
		return syscall.ENOTDIR
	case !dir1 && dir2:
		return syscall.EISDIR
	case dir2:
		if e := emptyDir(p2); e != 0 {
			return e
		}
	}
	if f.refs[k2] == 0 {
		err := rename()
		if err == nil && (dir2 || st2.Nlink <= 1) {
			f.forget(k2, dir2)
		}
		return errno(err)
	}
	sn, err := f.newStashName()
	if err != nil {
		return errno(err)
	}
	sp := f.stashPath(sn)
	if dir2 {
		// An empty directory: move it aside, then move the source in.
		if err := unix.Rename(p2, sp); err != nil {
			return errno(err)
		}
		if err := rename(); err != nil {
			_ = unix.Rename(sp, p2)
			return errno(err)
		}
	} else {
		// Keep a link, so that the target never disappears.
		if err := unix.Link(p2, sp); err != nil {
			return errno(err)
		}
		if err := rename(); err != nil {
			_ = unix.Unlink(sp)
			return errno(err)
		}
	}
	f.stash[sn] = stashed{key: k2, dir: dir2}
	return 0
}

// Setattr saves the durable bytes a shrinking truncation removes, then
// passes the change through.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	h, _ := fh.(*fileHandle)
	if sz, ok := in.GetSize(); ok {
		var e syscall.Errno
		if h != nil {
			e = h.truncate(int64(sz))
		} else {
			e = n.truncatePath(int64(sz))
		}
		if e != 0 {
			return e
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	var inner fs.FileHandle
	if h != nil {
		inner = h.lf
	}
	return n.LoopbackNode.Setattr(ctx, inner, in, out)
}

// truncatePath truncates the file by its name, for a SETATTR without a
// file handle.
func (n *node) truncatePath(size int64) syscall.Errno {
	p := n.path()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errno(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return errno(err)
	}
	return n.lfs.truncate(fileKey{dev: st.Dev, ino: st.Ino}, fd, size, func() error {
		return unix.Truncate(p, size)
	})
}

// Fsync makes a file's data, or a directory's entries, durable.
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return n.syncDir()
	}
	if h, ok := fh.(*fileHandle); ok {
		return h.Fsync(ctx, flags)
	}
	p := n.path()
	k, _, err := lstatKey(p)
	if err != nil {
		return errno(err)
	}
	n.lfs.syncFile(k, func() (int64, error) {
		var st syscall.Stat_t
		err := syscall.Lstat(p, &st)
		return st.Size, err
	})
	if n.lfs.opts.SyncBacking {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return errno(err)
		}
		defer unix.Close(fd)
		return errno(unix.Fsync(fd))
	}
	return 0
}

// syncDir makes the directory's current entries durable.
func (n *node) syncDir() syscall.Errno {
	f := n.lfs
	p := n.path()
	f.mu.Lock()
	err := f.syncDir(p)
	f.mu.Unlock()
	if err != nil {
		return errno(err)
	}
	if f.opts.SyncBacking {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return errno(err)
		}
		defer unix.Close(fd)
		return errno(unix.Fsync(fd))
	}
	return 0
}

// dirHandle is an open directory.
type dirHandle struct {
	n   *node
	ds  fs.DirStream
	top bool
}

// Readdirent returns the next entry, never the stash.
func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	rd, ok := d.ds.(fs.FileReaddirenter)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	for {
		de, e := rd.Readdirent(ctx)
		if e != 0 || de == nil || !d.top || de.Name != StashName {
			return de, e
		}
	}
}

// Seekdir repositions the listing.
func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if sd, ok := d.ds.(fs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

// Releasedir closes the backing directory.
func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.ds.Close()
}

// Fsyncdir makes the directory's entries durable.
func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.n.syncDir()
}

// dirStream adapts a dirHandle to fs.DirStream.
type dirStream struct {
	h    *dirHandle
	next *fuse.DirEntry
	e    syscall.Errno
	done bool
}

// HasNext tells whether Next has an entry or an error to return.
func (s *dirStream) HasNext() bool {
	if s.next == nil && !s.done {
		s.next, s.e = s.h.Readdirent(context.Background())
		s.done = s.next == nil
	}
	return s.next != nil || s.e != 0
}

// Next returns the next entry.
func (s *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if !s.HasNext() {
		return fuse.DirEntry{}, syscall.ENOENT
	}
	if s.e != 0 {
		return fuse.DirEntry{}, s.e
	}
	de := *s.next
	s.next = nil
	return de, 0
}

// Close closes the backing directory.
func (s *dirStream) Close() { s.h.ds.Close() }
