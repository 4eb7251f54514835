package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// StashName is the hidden directory at the top of the backing directory
// that keeps removed and replaced entries until their directory is synced.
// The mount never shows it, and no file of that name can be made at the top
// of the mount.
const StashName = ".lazyfs-stash"

// DefaultMaxWrite is the largest FUSE write request lazyfs asks the kernel
// for when Options.MaxWrite is 0: 1 MiB, the kernel's limit, so that a
// write(2) of up to about 1 MiB reaches lazyfs, and a power loss in mode
// TornOp, as one write.
const DefaultMaxWrite = 1 << 20

// DefaultUnmountTimeout bounds Unmount and the unmount of PowerLoss when
// Options.UnmountTimeout is 0.
const DefaultUnmountTimeout = 5 * time.Second

// ErrBusy is returned, wrapped, by PowerLoss when the mount is still in use:
// a process has a file, a mapping or its working directory on it.
var ErrBusy = errors.New("lazyfs: mount still in use")

// ErrUnmounted is returned, wrapped, by PowerLoss on a file system that was
// unmounted.
var ErrUnmounted = errors.New("lazyfs: not mounted")

// Options configure Mount. The zero value is ready to use.
type Options struct {
	// SyncBacking also passes fsync and fdatasync to the backing files and
	// directories. Without it (the default) a sync only moves the durable
	// mark, which is all the simulation needs, and costs no disk flush.
	SyncBacking bool
	// MaxWrite is the largest write request the kernel sends (default
	// DefaultMaxWrite). Larger write(2) calls arrive as several writes.
	MaxWrite int
	// UnmountTimeout bounds how long Unmount and PowerLoss wait for the
	// mount to be released (default DefaultUnmountTimeout).
	UnmountTimeout time.Duration
	// Logger receives go-fuse's diagnostics; nil discards them.
	Logger *log.Logger
	// Debug logs every FUSE request to Logger.
	Debug bool
}

// FS is a mounted lazy file system. Its methods may be called from any
// goroutine; PowerLoss and Unmount are serialised.
type FS struct {
	backing    string
	mountpoint string
	opts       Options

	opMu    sync.Mutex // serialises mount, PowerLoss and Unmount
	server  *fuse.Server
	mounted bool
	conn    uint32 // the FUSE connection's number

	mu      sync.Mutex // guards the fields below
	files   map[fileKey]*fileState
	dirs    map[fileKey]*dirState
	refs    map[fileKey]int     // durable listings naming each inode
	stash   map[string]stashed  // stash entry name → what it holds
	handles map[*fileHandle]int // open files → pid of the opener
	nextID  uint64
	panics  []string
}

// Mount mounts a lazy view of the directory backing on mountpoint, which
// must be an existing directory outside backing. Everything in backing at
// this moment counts as durable. A stash left by an earlier run that died is
// removed. The caller must call Unmount.
func Mount(backing, mountpoint string, opts Options) (*FS, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("lazyfs: mount: needs Linux, this is %s", runtime.GOOS)
	}
	b, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory %s: %w", backing, err)
	}
	m, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount point %s: %w", mountpoint, err)
	}
	if b, err = filepath.EvalSymlinks(b); err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory: %w", err)
	}
	if m, err = filepath.EvalSymlinks(m); err != nil {
		return nil, fmt.Errorf("lazyfs: mount point: %w", err)
	}
	for _, d := range []string{b, m} {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("lazyfs: mount: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("lazyfs: mount: %s is not a directory", d)
		}
	}
	if m == b || strings.HasPrefix(m, b+string(filepath.Separator)) {
		return nil, fmt.Errorf("lazyfs: mount point %s is inside the backing directory %s", m, b)
	}
	if strings.HasPrefix(b, m+string(filepath.Separator)) {
		return nil, fmt.Errorf("lazyfs: backing directory %s is inside the mount point %s", b, m)
	}
	if opts.MaxWrite <= 0 {
		opts.MaxWrite = DefaultMaxWrite
	}
	if opts.UnmountTimeout <= 0 {
		opts.UnmountTimeout = DefaultUnmountTimeout
	}
	if opts.Logger == nil {
		opts.Logger = log.New(io.Discard, "", 0)
	}
	f := &FS{backing: b, mountpoint: m, opts: opts}
	if err := os.RemoveAll(filepath.Join(b, StashName)); err != nil {
		return nil, fmt.Errorf("lazyfs: remove old stash: %w", err)
	}
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

// Backing returns the absolute path of the backing directory.
func (f *FS) Backing() string { return f.backing }

// Mountpoint returns the absolute path of the mount.
func (f *FS) Mountpoint() string { return f.mountpoint }

// reset forgets every undo record: everything in the backing directory is
// durable from now on.
func (f *FS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files = map[fileKey]*fileState{}
	f.dirs = map[fileKey]*dirState{}
	f.refs = map[fileKey]int{}
	f.stash = map[string]stashed{}
	f.handles = map[*fileHandle]int{}
}

// mount serves a fresh view of the backing directory. opMu is held, or f
// is not shared yet.
func (f *FS) mount() error {
	f.reset()
	var st syscall.Stat_t
	if err := syscall.Stat(f.backing, &st); err != nil {
		return fmt.Errorf("lazyfs: stat backing directory: %w", err)
	}
	root := &fs.LoopbackRoot{Path: f.backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, lfs: f}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode

	sec := time.Second
	mo := fuse.MountOptions{
		DirectMount:          true,
		FsName:               f.backing,
		Name:                 "lazyfs",
		MaxWrite:             f.opts.MaxWrite,
		DisabledCapabilities: fuse.CAP_PASSTHROUGH, // every write must reach lazyfs
		Logger:               f.opts.Logger,
		Debug:                f.opts.Debug,
		PanicHandler:         f.onPanic,
	}
	if os.Geteuid() == 0 {
		// Let every user in, and let the kernel check permissions: the
		// server itself runs as root.
		mo.AllowOther = true
		mo.Options = append(mo.Options, "default_permissions")
	}
	opts := &fs.Options{
		MountOptions: mo,
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
		Logger:       f.opts.Logger,
	}
	server, err := fs.Mount(f.mountpoint, rootNode, opts)
	if err != nil {
		return fmt.Errorf("lazyfs: mount %s on %s: %w", f.backing, f.mountpoint, err)
	}
	f.server = server
	f.mounted = true
	var mst unix.Stat_t
	if err := unix.Stat(f.mountpoint, &mst); err == nil {
		f.conn = unix.Minor(mst.Dev) // names the connection in /sys/fs/fuse/connections
	}
	return nil
}

// onPanic turns a panic in a request into EIO and records it; PowerLoss and
// Unmount report it.
func (f *FS) onPanic(v any) fuse.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.panics = append(f.panics, fmt.Sprint(v))
	return fuse.EIO
}

// takePanics returns an error naming the panics recorded so far, or nil.
func (f *FS) takePanics() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.panics) == 0 {
		return nil
	}
	err := fmt.Errorf("lazyfs: %d requests panicked, first: %s", len(f.panics), f.panics[0])
	f.panics = nil
	return err
}

// Unmount unmounts the file system. It never hangs: if the mount is still
// in use after Options.UnmountTimeout, it is detached lazily (it stays
// usable for the processes that have it open and disappears when they
// close it) and Unmount returns an error saying so.
func (f *FS) Unmount() error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if !f.mounted {
		return nil
	}
	f.mounted = false
	err := f.unmount(false)
	if perr := f.takePanics(); perr != nil && err == nil {
		err = perr
	}
	return err
}

// unmount unmounts the mount and waits for the server to stop. With strict,
// a busy mount stays mounted and unmount returns an error wrapping ErrBusy;
// without, it is detached lazily.
func (f *FS) unmount(strict bool) error {
	deadline := time.Now().Add(f.opts.UnmountTimeout)
	if strict {
		// Files of processes that were just killed are released by
		// the kernel shortly after they are reaped.
		deadline = time.Now().Add(min(f.opts.UnmountTimeout, time.Second))
	}
	delay := time.Millisecond
	for {
		err := f.umount(0, time.Until(deadline)+time.Second)
		if err == nil {
			break
		}
		if errors.Is(err, unix.EINVAL) {
			break // unmounted already, by someone else
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("lazyfs: unmount %s: %w", f.mountpoint, err)
		}
		if time.Now().After(deadline) {
			busy := fmt.Errorf("%w: %s: %s", ErrBusy, f.mountpoint, f.openFiles())
			if strict {
				return busy
			}
			return f.forceUnmount(busy)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
	return f.waitServer()
}

// umount calls umount2(2) with flags, giving up after d. umount blocks
// only if the server stopped answering (it must flush dirty pages first);
// then it aborts the FUSE connection, which makes the call return.
func (f *FS) umount(flags int, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- unix.Unmount(f.mountpoint, flags) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
	}
	abort := fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", f.conn)
	aerr := os.WriteFile(abort, []byte("1"), 0)
	select {
	case err := <-done:
		return errors.Join(fmt.Errorf("lazyfs: unmount of %s hung until the FUSE connection was aborted", f.mountpoint), err)
	case <-time.After(time.Second):
		return fmt.Errorf("lazyfs: unmount of %s hangs (the server does not answer), and aborting it through %s failed: %w", f.mountpoint, abort, aerr)
	}
}

// waitServer waits, boundedly, for the server loops to end.
func (f *FS) waitServer() error {
	done := make(chan struct{})
	go func() {
		f.server.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(f.opts.UnmountTimeout):
		return fmt.Errorf("lazyfs: %s unmounted, but its server did not stop within %v", f.mountpoint, f.opts.UnmountTimeout)
	}
}

// forceUnmount ends a mount that is still busy: MNT_FORCE aborts the FUSE
// connection, so that every request still waiting fails (processes see
// ENOTCONN) instead of hanging, and MNT_DETACH takes the mount out of the
// namespace if it is still referenced.
func (f *FS) forceUnmount(busy error) error {
	ferr := f.umount(unix.MNT_FORCE, time.Second)
	if ferr != nil {
		if derr := f.umount(unix.MNT_DETACH, time.Second); derr != nil {
			return fmt.Errorf("lazyfs: forced unmount of %s: %w, lazy unmount: %w (after %w)", f.mountpoint, ferr, derr, busy)
		}
	}
	werr := f.waitServer()
	return errors.Join(fmt.Errorf("lazyfs: unmounted %s by force, it was still in use: %w", f.mountpoint, busy), werr)
}

// openFiles describes the files still open on the mount, for ErrBusy.
func (f *FS) openFiles() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.handles) == 0 {
		return "no file open through lazyfs (a working directory or a mapping?)"
	}
	var l []string
	for h, pid := range f.handles {
		l = append(l, fmt.Sprintf("%s (pid %d)", h.name, pid))
	}
	sort.Strings(l)
	const show = 5
	s := fmt.Sprintf("%d open files: %s", len(l), strings.Join(l[:min(show, len(l))], ", "))
	if len(l) > show {
		s += ", …"
	}
	return s
}

var available = sync.OnceValue(probe)

// Available returns nil if lazyfs can mount here, or an error that says why
// not (not Linux, no /dev/fuse, not root, or the mount itself fails), fit
// for t.Skip. The first call mounts a scratch file system to find out; the
// answer is remembered.
func Available() error { return available() }

func probe() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("lazyfs needs Linux FUSE, this is %s", runtime.GOOS)
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lazyfs cannot open /dev/fuse: %w", err)
	}
	unix.Close(fd)
	if os.Geteuid() != 0 {
		return fmt.Errorf("lazyfs mounts with mount(2), which needs root (euid is %d)", os.Geteuid())
	}
	tmp, err := os.MkdirTemp("", "lazyfs-probe-")
	if err != nil {
		return fmt.Errorf("lazyfs probe: %w", err)
	}
	defer os.RemoveAll(tmp)
	backing, mnt := filepath.Join(tmp, "backing"), filepath.Join(tmp, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("lazyfs probe: %w", err)
		}
	}
	f, err := Mount(backing, mnt, Options{UnmountTimeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("lazyfs cannot mount here: %w", err)
	}
	werr := os.WriteFile(filepath.Join(mnt, "probe"), []byte("probe"), 0o644)
	uerr := f.Unmount()
	if werr != nil {
		return fmt.Errorf("lazyfs mounted but cannot write through the mount: %w", werr)
	}
	if uerr != nil {
		return fmt.Errorf("lazyfs mounted but cannot unmount: %w", uerr)
	}
	return nil
}
