package lazyfs

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests drive real processes: the test binary itself, re-executed with
// LAZYFS_HELPER=1, reads one command a line on stdin, runs it on the
// mount named by LAZYFS_ROOT and answers "ok ..." or "err ...".

func TestMain(m *testing.M) {
	if os.Getenv("LAZYFS_HELPER") == "1" {
		os.Exit(helperMain(os.Getenv("LAZYFS_ROOT"), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// gen returns n deterministic bytes for seed, none of them zero.
func gen(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return b
}

// record returns the n-byte record seq of writer w for the append
// atomicity test: a header, a filling byte, and a newline.
func record(w, seq, n int) []byte {
	h := fmt.Sprintf("REC%d:%06d:%08d:", w, seq, n)
	b := make([]byte, n)
	copy(b, h)
	fill := byte('a' + (w*7+seq)%26)
	for i := len(h); i < n-1; i++ {
		b[i] = fill
	}
	b[n-1] = '\n'
	return b
}

// recordSizes are the record sizes of the append atomicity test, 100 B to
// 1 MiB, some straddling FUSE request and page boundaries.
var recordSizes = []int{100, 1000, 4096, 65536 + 17, 131072 + 1, 300000, 1 << 20}

func helperMain(root string, in io.Reader, out io.Writer) int {
	fds := map[string]int{}
	maps := map[string][]byte{}
	abs := func(p string) string { return filepath.Join(root, p) }
	fdFor := func(key, p string, flags int) (int, error) {
		if fd, ok := fds[key]; ok {
			return fd, nil
		}
		fd, err := unix.Open(abs(p), flags|unix.O_CLOEXEC, 0o644)
		if err == nil {
			fds[key] = fd
		}
		return fd, err
	}
	num := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		a := strings.Fields(sc.Text())
		if len(a) == 0 {
			continue
		}
		reply := "ok"
		err := func() error {
			switch a[0] {
			case "append", "dsyncappend": // PATH N SEED: one write(2) with O_APPEND
				flags := unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT
				if a[0] == "dsyncappend" {
					flags |= unix.O_DSYNC
				}
				fd, err := fdFor(a[0]+" "+a[1], a[1], flags)
				if err != nil {
					return err
				}
				_, err = unix.Write(fd, gen(uint64(num(a[3])), num(a[2])))
				return err
			case "pwrite": // PATH OFF N SEED
				fd, err := fdFor("rw "+a[1], a[1], unix.O_RDWR|unix.O_CREAT)
				if err != nil {
					return err
				}
				_, err = unix.Pwrite(fd, gen(uint64(num(a[4])), num(a[3])), int64(num(a[2])))
				return err
			case "fsync", "fdatasync", "fsyncdir": // PATH, on a new descriptor
				fd, err := unix.Open(abs(a[1]), unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				if a[0] == "fdatasync" {
					return unix.Fdatasync(fd)
				}
				return unix.Fsync(fd)
			case "truncate": // PATH N
				return unix.Truncate(abs(a[1]), int64(num(a[2])))
			case "rename":
				return unix.Rename(abs(a[1]), abs(a[2]))
			case "link":
				return unix.Link(abs(a[1]), abs(a[2]))
			case "unlink":
				return unix.Unlink(abs(a[1]))
			case "create": // PATH: O_CREAT|O_EXCL, then close
				fd, err := unix.Open(abs(a[1]), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(fd)
				}
				return err
			case "mkdir":
				return unix.Mkdir(abs(a[1]), 0o755)
			case "rmdir":
				return unix.Rmdir(abs(a[1]))
			case "mmap": // PATH: map the whole file shared
				fd, err := unix.Open(abs(a[1]), unix.O_RDWR|unix.O_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				var st unix.Stat_t
				if err := unix.Fstat(fd, &st); err != nil {
					return err
				}
				m, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
				maps[a[1]] = m
				return err
			case "mwrite": // PATH OFF N SEED: store into the mapping
				copy(maps[a[1]][num(a[2]):], gen(uint64(num(a[4])), num(a[3])))
				return nil
			case "msync":
				return unix.Msync(maps[a[1]], unix.MS_SYNC)
			case "appendmany": // PATH WRITER COUNT: records of recordSizes, one write(2) each
				fd, err := unix.Open(abs(a[1]), unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				w := num(a[2])
				for seq := 0; seq < num(a[3]); seq++ {
					rec := record(w, seq, recordSizes[(seq+w)%len(recordSizes)])
					n, err := unix.Write(fd, rec)
					if err != nil {
						return err
					}
					if n != len(rec) {
						return fmt.Errorf("short write: %d of %d", n, len(rec))
					}
				}
				return nil
			case "tree": // list the mount: path:size:crc32 ...
				s, err := snapshot(root)
				if err != nil {
					return err
				}
				reply = "ok " + s.String()
				return nil
			case "exit":
				os.Exit(0)
			}
			return fmt.Errorf("unknown command %q", a[0])
		}()
		if err != nil {
			reply = "err " + err.Error()
		}
		fmt.Fprintln(out, reply)
	}
	return 0
}

// tsnap is a directory tree: path → contents, directories as "path/" → nil.
type tsnap map[string][]byte

// snapshot reads the tree under root.
func snapshot(root string) (tsnap, error) {
	s := tsnap{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			s[rel+"/"] = nil
			return nil
		}
		b, err := os.ReadFile(p)
		s[rel] = b
		return err
	})
	return s, err
}

// String lists the tree as sorted path:size:crc32 words.
func (s tsnap) String() string {
	var l []string
	for p, b := range s {
		l = append(l, fmt.Sprintf("%s:%d:%08x", p, len(b), crc32.ChecksumIEEE(b)))
	}
	sort.Strings(l)
	return strings.Join(l, " ")
}

// child is a running helper process.
type child struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan error
	once  sync.Once
}

// startChild starts a helper working on the mount at root. It is killed and
// reaped at the end of the test whatever happens.
func startChild(t *testing.T, name, root string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LAZYFS_HELPER=1", "LAZYFS_ROOT="+root)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	c := &child{t: t, name: name, cmd: cmd, in: in, lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(outp)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(c.kill)
	return c
}

// send sends a command without waiting for the answer.
func (c *child) send(cmd string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.name, cmd, err)
	}
}

// answer waits, boundedly, for the answer to a command sent and returns
// what follows "ok".
func (c *child) answer(cmd string) string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("%s: %q: helper exited", c.name, cmd)
		}
		if l != "ok" && !strings.HasPrefix(l, "ok ") {
			c.t.Fatalf("%s: %q: %s", c.name, cmd, l)
		}
		return strings.TrimPrefix(strings.TrimPrefix(l, "ok"), " ")
	case <-time.After(20 * time.Second):
		c.t.Fatalf("%s: %q: no answer in 20s", c.name, cmd)
	}
	return ""
}

// do runs a command and returns what follows "ok".
func (c *child) do(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	return c.answer(cmd)
}

// kill SIGKILLs the helper and reaps it, boundedly. It may be called more
// than once.
func (c *child) kill() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case err := <-c.done:
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				c.t.Errorf("%s: wait: %v", c.name, err)
			}
		case <-time.After(10 * time.Second):
			c.t.Errorf("%s: not reaped 10s after SIGKILL", c.name)
		}
	})
}

// mountT mounts a lazy file system over a fresh backing directory filled
// with files (paths ending in "/" are directories), or skips the test if
// FUSE cannot be used here. It is unmounted at the end of the test; a
// watchdog unmounts it by force if the test hangs.
func mountT(t testing.TB, files map[string]string, opts Options) *FS {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	backing, mnt := filepath.Join(tmp, "backing"), filepath.Join(tmp, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, backing, files)
	if opts.UnmountTimeout == 0 {
		opts.UnmountTimeout = 5 * time.Second
	}
	f, err := Mount(backing, mnt, opts)
	if err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(60*time.Second, func() {
		_ = unix.Unmount(mnt, unix.MNT_FORCE|unix.MNT_DETACH)
	})
	t.Cleanup(func() {
		watchdog.Stop()
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return f
}

// writeTree makes files under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
