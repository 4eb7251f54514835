package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rotationWatch watches a topic directory tree with inotify and calls
// onChunk the instant a new chunk file is created or renamed into it.
// Subdirectories created later (the topic directory itself, say) are
// watched as they appear.
type rotationWatch struct {
	root    string
	fd      int // the inotify descriptor (f.Fd() would make f blocking)
	f       *os.File
	onChunk func(name string)

	mu    sync.Mutex
	dirs  map[int]string // watch descriptor -> directory
	seen  map[string]bool
	first bool // the first chunk file was seen (creating a topic is no rotation)
	done  chan struct{}
}

const watchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR

// isChunkFile tells whether a new file looks like a chunk of the log
// rather than a lock, temporary, ack or group file. The reference names
// chunks NNNNNNNNNNNNNNNNNNNN.log (docs/FORMAT.md); for other
// implementations any other visible file outside a "groups" directory
// counts.
func isChunkFile(rel string) bool {
	base := filepath.Base(rel)
	if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "~") {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/") {
		if part == "groups" || part == "group" || part == "acks" {
			return false
		}
	}
	for _, suf := range []string{".lock", ".tmp", ".ack", ".acks", ".idx", ".index", ".pos", ".offset"} {
		if strings.HasSuffix(base, suf) {
			return false
		}
	}
	return true
}

// startRotationWatch begins watching root (which must exist).
func startRotationWatch(root string, onChunk func(name string)) (*rotationWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify init: %w", err)
	}
	w := &rotationWatch{
		root:    root,
		fd:      fd,
		f:       os.NewFile(uintptr(fd), "inotify"),
		onChunk: onChunk,
		dirs:    map[int]string{},
		seen:    map[string]bool{},
		done:    make(chan struct{}),
	}
	if err := w.add(root); err != nil {
		_ = w.f.Close()
		return nil, err
	}
	go w.loop()
	return w, nil
}

// add watches dir and, recursively, the directories already in it.
func (w *rotationWatch) add(dir string) error {
	wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
	if err != nil {
		return fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	w.mu.Lock()
	w.dirs[wd] = dir
	w.mu.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // it vanished: nothing to watch
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = w.add(filepath.Join(dir, e.Name()))
		} else {
			w.note(filepath.Join(dir, e.Name()), false)
		}
	}
	return nil
}

// note handles one new file; fire is false for files found by scanning.
func (w *rotationWatch) note(path string, fire bool) {
	rel, err := filepath.Rel(w.root, path)
	if err != nil || !isChunkFile(rel) {
		return
	}
	w.mu.Lock()
	if w.seen[rel] {
		w.mu.Unlock()
		return
	}
	w.seen[rel] = true
	rotation := w.first
	w.first = true
	w.mu.Unlock()
	if fire && rotation {
		w.onChunk(rel)
	}
}

func (w *rotationWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name := strings.TrimRight(string(nameBytes), "\x00")
			w.mu.Lock()
			dir, ok := w.dirs[int(ev.Wd)]
			w.mu.Unlock()
			if !ok || name == "" {
				continue
			}
			path := filepath.Join(dir, name)
			if ev.Mask&unix.IN_ISDIR != 0 {
				_ = w.add(path)
				continue
			}
			w.note(path, true)
		}
	}
}

// stop ends the watch and waits for its goroutine.
func (w *rotationWatch) stop() {
	_ = w.f.Close()
	<-w.done
}

// startRotationWatch starts the run's rotation watch on the topic root.
func (r *runner) startRotationWatch() error {
	w, err := startRotationWatch(r.topicRoot, r.onRotation)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rotation = w
	r.mu.Unlock()
	return nil
}

// stopRotationWatch stops the run's rotation watch, if one runs; it
// reports whether one did. It must not be called from the watch's own
// goroutine (onRotation).
func (r *runner) stopRotationWatch() bool {
	r.mu.Lock()
	w := r.rotation
	r.rotation = nil
	r.mu.Unlock()
	if w == nil {
		return false
	}
	w.stop()
	return true
}
