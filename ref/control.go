package ref

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The control file ("control" in the topic directory) is one 4 KiB page
// that every process maps shared and reads with atomic loads:
//
//	offset  size  field
//	0       8     magic "KLCTRL01"
//	8       8     gen: 2c while chunk c is active, 2c+1 while c is being sealed
//	16      8     records appended to the active chunk (approximate)
//	24      8     bytes appended to the active chunk (approximate)
//	32      8     the largest record size any producer may write (bytes)
//
// gen only grows. It is the producers' fast-path check: load gen, write,
// load gen again; an unchanged gen proves the write landed before any seal.
const (
	controlName  = "control"
	controlMagic = "KLCTRL01"
	controlSize  = 4096
	genAt        = 8
	recsAt       = 16
	bytesAt      = 24
	maxRecAt     = 32
)

type control struct {
	mem []byte
}

func (c *control) word(at int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&c.mem[at]))
}

func (c *control) gen() uint64                 { return c.word(genAt).Load() }
func (c *control) casGen(old, new uint64) bool { return c.word(genAt).CompareAndSwap(old, new) }

// addAppended counts an append to the active chunk and returns the totals.
func (c *control) addAppended(recs, bytes uint64) (uint64, uint64) {
	return c.word(recsAt).Add(recs), c.word(bytesAt).Add(bytes)
}

// maxRecord is the largest payload a producer of the topic may write: the
// limit a reader needs to tell a long record from damage. 0 means unknown
// (a control file older than the field).
func (c *control) maxRecord() int { return int(c.word(maxRecAt).Load()) }

// raiseMaxRecord makes maxRecord at least n. It only grows, so every
// reader's limit covers every producer's, whatever their options.
// A raise is synced, so that a record written under the new limit is
// never readable only under a limit a power loss took back.
func (c *control) raiseMaxRecord(n int) error {
	w := c.word(maxRecAt)
	for {
		old := w.Load()
		if old >= uint64(n) {
			return nil
		}
		if w.CompareAndSwap(old, uint64(n)) {
			return c.sync()
		}
	}
}

func (c *control) resetCounts() {
	c.word(recsAt).Store(0)
	c.word(bytesAt).Store(0)
}

func (c *control) close() error {
	if c.mem == nil {
		return nil
	}
	err := unix.Munmap(c.mem)
	c.mem = nil
	return err
}

// openControl maps the topic's control file. If it does not exist, it
// creates it atomically (write a temporary file, then link it into place)
// with the gen and record limit that initialGen returns.
func openControl(topicDir string, initialGen func() (gen uint64, maxRecord int, err error)) (*control, error) {
	path := filepath.Join(topicDir, controlName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil && controlLost(f) {
		// A power loss kept the control file's name but not its bytes
		// (short, or zeros): nothing in it can be trusted, and it holds
		// nothing the chunks do not say. Move it aside and rebuild it; a
		// process racing to do the same finds it gone or rebuilt.
		f.Close()
		_ = os.Rename(path, fmt.Sprintf("%s.lost-%d", path, time.Now().UnixNano()))
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if errors.Is(err, os.ErrNotExist) {
		gen, maxRec, gerr := initialGen()
		if gerr != nil {
			return nil, gerr
		}
		var page [controlSize]byte
		copy(page[:], controlMagic)
		binary.LittleEndian.PutUint64(page[genAt:], gen)
		binary.LittleEndian.PutUint64(page[maxRecAt:], uint64(maxRec))
		// Synced in every mode: it is made once, and a control file whose
		// name survives a power loss without its bytes would stop every
		// producer.
		if cerr := createAtomically(topicDir, controlName, page[:], true); cerr != nil && !errors.Is(cerr, os.ErrExist) {
			return nil, fmt.Errorf("create control file: %w", cerr)
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open control file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat control file: %w", err)
	}
	if st.Size() != controlSize {
		return nil, fmt.Errorf("control file %s: size %d, want %d", path, st.Size(), controlSize)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, controlSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map control file: %w", err)
	}
	if string(mem[:8]) != controlMagic {
		_ = unix.Munmap(mem)
		return nil, fmt.Errorf("control file %s: bad magic %q", path, mem[:8])
	}
	return &control{mem: mem}, nil
}

// controlLost says whether f is a control file a power loss destroyed:
// shorter than a page, or without its magic because its bytes read as
// zeros. (Any other content is someone else's file, and an error.)
func controlLost(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	if st.Size() < controlSize {
		return true
	}
	var magic [8]byte
	n, _ := f.ReadAt(magic[:], 0)
	return n == len(magic) && magic == [8]byte{}
}

// sync writes the control page to stable storage. Rotation calls it, in
// every fsync mode, so that after a power loss gen is never behind a seal
// or a chunk deletion that survived: a gen that said chunk c was active
// while c's seal survived would let producers append after the seal,
// records that no reader ever delivers.
func (c *control) sync() error {
	if err := unix.Msync(c.mem, unix.MS_SYNC); err != nil {
		return fmt.Errorf("sync control file: %w", err)
	}
	return nil
}

// createAtomically makes dir/name appear with exactly data in it, or not at
// all: it writes a temporary file and hard-links it into place. It returns
// an error wrapping os.ErrExist if name already exists. With sync, the file
// and the directory are synced.
func createAtomically(dir, name string, data []byte, sync bool) error {
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if sync {
		if err := unix.Fdatasync(int(tmp.Fd())); err != nil {
			tmp.Close()
			return fmt.Errorf("sync %s: %w", tmpName, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmpName, filepath.Join(dir, name)); err != nil {
		return err
	}
	if sync {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
