package lazyfs

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fileHandle is an open regular file. It deliberately has no
// PassthroughFd method: with kernel passthrough, reads and writes would go
// to the backing file without lazyfs seeing them.
type fileHandle struct {
	lfs  *FS
	fd   int              // the backing descriptor, owned by lf
	lf   *fs.LoopbackFile // does what needs no record
	key  fileKey          // the backing inode
	sync bool             // opened with O_SYNC or O_DSYNC
	name string           // backing path at open, for messages
}

// newHandle wraps the backing descriptor fd of file k and counts it open.
func (f *FS) newHandle(fd int, k fileKey, path string, caller *fuse.Caller) *fileHandle {
	h := &fileHandle{
		lfs:  f,
		fd:   fd,
		lf:   fs.NewLoopbackFileFromOS(os.NewFile(uintptr(fd), path)),
		key:  k,
		name: path,
	}
	pid := 0
	if caller != nil {
		pid = int(caller.Pid)
	}
	f.mu.Lock()
	f.handles[h] = pid
	f.mu.Unlock()
	return h
}

// size returns the backing file's size.
func (h *fileHandle) size() (int64, error) {
	var st unix.Stat_t
	err := unix.Fstat(h.fd, &st)
	return st.Size, err
}

// Read passes through.
func (h *fileHandle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return h.lf.Read(ctx, buf, off)
}

// Write saves what the write overwrites, then writes through.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	st, err := h.lfs.fileStateFor(h.key, h.size)
	if err != nil {
		return 0, errno(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	end := off + int64(len(data))
	if off < st.durable {
		if err := st.saveDurable(fdReader(h.fd), off, end); err != nil {
			return 0, syscall.EIO
		}
	}
	lw := &lastWrite{off: off, prevSize: st.size}
	if off < st.size {
		lw.prev = make([]byte, min(end, st.size)-off)
		if _, err := fdReader(h.fd).ReadAt(lw.prev, off); err != nil {
			return 0, syscall.EIO
		}
	}
	n := 0
	for n < len(data) {
		m, err := unix.Pwrite(h.fd, data[n:], off+int64(n))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if n == 0 {
				return 0, errno(err)
			}
			break
		}
		n += m
	}
	if n > 0 {
		st.size = max(st.size, off+int64(n))
		lw.n = int64(n)
		st.last = lw
	}
	return uint32(n), 0
}

// truncate sets the file's size, saving the durable bytes it removes.
func (h *fileHandle) truncate(size int64) syscall.Errno {
	return h.lfs.truncate(h.key, h.fd, size, func() error {
		return unix.Ftruncate(h.fd, size)
	})
}

// truncate runs do, which sets the size of file k (readable at fd) to size,
// after saving the durable bytes it removes.
func (f *FS) truncate(k fileKey, fd int, size int64, do func() error) syscall.Errno {
	st, err := f.fileStateFor(k, func() (int64, error) {
		var s unix.Stat_t
		err := unix.Fstat(fd, &s)
		return s.Size, err
	})
	if err != nil {
		return errno(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.saveDurable(fdReader(fd), size, st.durable); err != nil {
		return syscall.EIO
	}
	if err := do(); err != nil {
		return errno(err)
	}
	st.size = size
	st.last = nil
	return 0
}

// Allocate saves what a hole punch, zeroing, collapse or insert changes,
// then passes the call through.
func (h *fileHandle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	st, err := h.lfs.fileStateFor(h.key, h.size)
	if err != nil {
		return errno(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		// Collapse and insert move every byte after off.
		if err := st.saveDurable(fdReader(h.fd), int64(off), st.durable); err != nil {
			return syscall.EIO
		}
	}
	if err := unix.Fallocate(h.fd, mode, int64(off), int64(size)); err != nil {
		return errno(err)
	}
	if n, err := h.size(); err == nil {
		st.size = n
	}
	st.last = nil
	return 0
}

// Fsync makes the file's data durable.
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.lfs.syncFile(h.key, h.size)
	if h.lfs.opts.SyncBacking {
		if flags&1 != 0 { // FUSE_FSYNC_FDATASYNC
			return errno(unix.Fdatasync(h.fd))
		}
		return errno(unix.Fsync(h.fd))
	}
	return 0
}

// Flush passes through.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno { return h.lf.Flush(ctx) }

// Release closes the backing descriptor.
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.lfs.mu.Lock()
	delete(h.lfs.handles, h)
	h.lfs.mu.Unlock()
	return h.lf.Release(ctx)
}

// Getattr passes through.
func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Getattr(ctx, out)
}

// Statx passes through.
func (h *fileHandle) Statx(ctx context.Context, flags uint32, mask uint32, out *fuse.StatxOut) syscall.Errno {
	return h.lf.Statx(ctx, flags, mask, out)
}

// Lseek passes through (SEEK_DATA and SEEK_HOLE).
func (h *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return h.lf.Lseek(ctx, off, whence)
}
