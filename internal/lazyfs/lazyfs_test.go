package lazyfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fileWant is what a file must hold after a power loss.
type fileWant struct {
	durable  string   // what survives LoseAll
	unsynced []string // writes appended since the last sync, in order
	// check, if set, replaces durable and unsynced.
	check func(t *testing.T, mode Mode, got []byte)
}

// powerCase is a run of helper commands, each on child 0 unless it starts
// with a child number, then SIGKILL, then a power loss.
type powerCase struct {
	name  string
	files map[string]string   // the backing directory before the mount: all durable
	steps []string            // helper commands
	want  map[string]fileWant // every entry after the power loss; directories end in "/"
	// entries, if set, are the entry changes the report must list.
	entries []EntryLoss
}

func g(seed uint64, n int) string { return string(gen(seed, n)) }

var (
	durA = g(100, 100)
	durB = g(101, 3000)
	durC = g(102, 2000)
	zeds = strings.Repeat("z", 8192)
)

func powerCases() []powerCase {
	return []powerCase{
		{
			name:  "append without fsync",
			files: map[string]string{"a.log": durA},
			steps: []string{"append a.log 3000 1", "append a.log 5000 2"},
			want:  map[string]fileWant{"a.log": {durable: durA, unsynced: []string{g(1, 3000), g(2, 5000)}}},
		},
		{
			name:  "append with fdatasync",
			files: map[string]string{"a.log": durA},
			steps: []string{"append a.log 3000 1", "fdatasync a.log", "append a.log 5000 2"},
			want:  map[string]fileWant{"a.log": {durable: durA + g(1, 3000), unsynced: []string{g(2, 5000)}}},
		},
		{
			name:  "append with fsync",
			files: map[string]string{"a.log": durA},
			steps: []string{"append a.log 3000 1", "fsync a.log", "append a.log 600 2"},
			want:  map[string]fileWant{"a.log": {durable: durA + g(1, 3000), unsynced: []string{g(2, 600)}}},
		},
		{
			name:    "O_DSYNC append",
			files:   map[string]string{"a.log": durA},
			steps:   []string{"dsyncappend a.log 3000 16"},
			want:    map[string]fileWant{"a.log": {durable: durA + g(16, 3000)}},
			entries: []EntryLoss{},
		},
		{
			name:    "file created without dir fsync",
			steps:   []string{"append new.log 1000 3", "fsync new.log"},
			want:    map[string]fileWant{},
			entries: []EntryLoss{{Path: "new.log", Change: Dropped}},
		},
		{
			name:  "file created with dir fsync",
			steps: []string{"append new.log 1000 3", "fsync new.log", "fsyncdir .", "append new.log 700 4"},
			want:  map[string]fileWant{"new.log": {durable: g(3, 1000), unsynced: []string{g(4, 700)}}},
		},
		{
			name:  "dir fsync but no file fsync",
			steps: []string{"append new.log 1000 3", "fsyncdir ."},
			want:  map[string]fileWant{"new.log": {unsynced: []string{g(3, 1000)}}},
		},
		{
			name:    "rename without dir fsync",
			files:   map[string]string{"old": durA},
			steps:   []string{"rename old new"},
			want:    map[string]fileWant{"old": {durable: durA}},
			entries: []EntryLoss{{Path: "new", Change: Dropped}, {Path: "old", Change: Restored}},
		},
		{
			name:  "rename with dir fsync",
			files: map[string]string{"old": durA},
			steps: []string{"rename old new", "fsyncdir ."},
			want:  map[string]fileWant{"new": {durable: durA}},
		},
		{
			name:  "rename over a file without dir fsync",
			files: map[string]string{"tmp": durA, "cur": durB},
			steps: []string{"rename tmp cur"},
			want:  map[string]fileWant{"tmp": {durable: durA}, "cur": {durable: durB}},
			entries: []EntryLoss{
				{Path: "cur", Change: Replaced},
				{Path: "tmp", Change: Restored},
			},
		},
		{
			name:  "rename between dirs, only the target synced",
			files: map[string]string{"d1/x": durA, "d2/": ""},
			steps: []string{"rename d1/x d2/y", "fsyncdir d2"},
			want:  map[string]fileWant{"d1/": {}, "d1/x": {durable: durA}, "d2/": {}, "d2/y": {durable: durA}},
		},
		{
			name:  "rename between dirs, only the source synced",
			files: map[string]string{"d1/x": durA, "d2/": ""},
			steps: []string{"rename d1/x d2/y", "fsyncdir d1"},
			want:  map[string]fileWant{"d1/": {}, "d2/": {}},
		},
		{
			name:  "rename a directory without dir fsync",
			files: map[string]string{"d/x": durA},
			steps: []string{"rename d e", "append e/x 100 9"},
			want:  map[string]fileWant{"d/": {}, "d/x": {durable: durA, unsynced: []string{g(9, 100)}}},
		},
		{
			name:    "unlink without dir fsync",
			files:   map[string]string{"gone": durA},
			steps:   []string{"unlink gone"},
			want:    map[string]fileWant{"gone": {durable: durA}},
			entries: []EntryLoss{{Path: "gone", Change: Restored}},
		},
		{
			name:  "unlink with dir fsync",
			files: map[string]string{"gone": durA},
			steps: []string{"unlink gone", "fsyncdir ."},
			want:  map[string]fileWant{},
		},
		{
			name:  "unlink and create again without dir fsync",
			files: map[string]string{"f": durA},
			steps: []string{"unlink f", "append f 500 5", "fsync f"},
			want:  map[string]fileWant{"f": {durable: durA}},
		},
		{
			name:  "hard link without dir fsync",
			files: map[string]string{"a": durA},
			steps: []string{"link a b"},
			want:  map[string]fileWant{"a": {durable: durA}},
		},
		{
			name: "write, sync, link, sync dir, unlink the temporary",
			steps: []string{"append .tmp-x 100 17", "fdatasync .tmp-x", "link .tmp-x x", "fsyncdir .",
				"unlink .tmp-x"},
			want: map[string]fileWant{"x": {durable: g(17, 100)}, ".tmp-x": {durable: g(17, 100)}},
		},
		{
			name:  "mkdir, parent not synced",
			steps: []string{"mkdir d", "append d/x 100 6", "fsync d/x", "fsyncdir d"},
			want:  map[string]fileWant{},
		},
		{
			name:  "mkdir, new dir not synced",
			steps: []string{"mkdir d", "append d/x 100 6", "fsync d/x", "fsyncdir ."},
			want:  map[string]fileWant{"d/": {}},
		},
		{
			name:  "mkdir, both synced",
			steps: []string{"mkdir d", "append d/x 100 6", "fsync d/x", "fsyncdir d", "fsyncdir ."},
			want:  map[string]fileWant{"d/": {}, "d/x": {durable: g(6, 100)}},
		},
		{
			name:  "rmdir without dir fsync",
			files: map[string]string{"e/": ""},
			steps: []string{"rmdir e"},
			want:  map[string]fileWant{"e/": {}},
		},
		{
			name:  "mmap MAP_SHARED write and msync",
			files: map[string]string{"ctl": zeds},
			steps: []string{"mmap ctl", "mwrite ctl 0 100 7", "msync ctl", "mwrite ctl 4096 100 8"},
			want: map[string]fileWant{"ctl": {check: func(t *testing.T, mode Mode, got []byte) {
				synced := g(7, 100) + zeds[100:4096]
				if len(got) != 8192 || string(got[:4096]) != synced {
					t.Fatalf("ctl: the msynced page is not intact (size %d)", len(got))
				}
				page := string(got[4096:])
				if page == zeds[:4096] {
					return
				}
				if mode == TornOp && page == g(8, 100)+zeds[:3996] {
					return // the last write, the page written back, survived in part
				}
				t.Fatalf("ctl: the unsynced page holds %q…", page[:120])
			}}},
		},
		{
			name:  "O_APPEND from two processes",
			files: map[string]string{"a.log": durA},
			steps: []string{"append a.log 1000 11", "1 append a.log 2000 12", "1 fdatasync a.log",
				"append a.log 3000 13", "1 append a.log 500 14"},
			want: map[string]fileWant{"a.log": {durable: durA + g(11, 1000) + g(12, 2000),
				unsynced: []string{g(13, 3000), g(14, 500)}}},
		},
		{
			name:  "truncate without fsync",
			files: map[string]string{"f": durB},
			steps: []string{"truncate f 100"},
			want: map[string]fileWant{"f": {check: func(t *testing.T, mode Mode, got []byte) {
				want := durB
				if mode == TornOp {
					want = durB[:100] // not a write: it is kept
				}
				if string(got) != want {
					t.Fatalf("f: %d bytes, want %d", len(got), len(want))
				}
			}}},
		},
		{
			name:  "overwrite without fsync",
			files: map[string]string{"f": durC},
			steps: []string{"pwrite f 500 1000 15"},
			want: map[string]fileWant{"f": {check: func(t *testing.T, mode Mode, got []byte) {
				if len(got) != len(durC) || string(got[:500]) != durC[:500] || string(got[1500:]) != durC[1500:] {
					t.Fatalf("f: bytes outside the overwrite changed")
				}
				w, old := g(15, 1000), durC[500:1500]
				if mode != TornOp {
					if string(got[500:1500]) != old {
						t.Fatalf("f: the unsynced overwrite survived")
					}
					return
				}
				for a := 500; a < 1500; a = (a/512 + 1) * 512 {
					b := min((a/512+1)*512, 1500)
					if s := string(got[a:b]); s != w[a-500:b-500] && s != old[a-500:b-500] {
						t.Fatalf("f: [%d, %d) is neither old nor new", a, b)
					}
				}
			}}},
		},
	}
}

// TestPowerLoss runs each case in each mode: real helper processes write
// through the mount, are SIGKILLed, and after the power loss the backing
// directory must hold exactly the durable state, and the mount must show
// it.
func TestPowerLoss(t *testing.T) {
	for ci, pc := range powerCases() {
		for mi, mode := range Modes() {
			t.Run(pc.name+"/"+string(mode), func(t *testing.T) {
				runPowerCase(t, pc, mode, uint64(ci*len(Modes())+mi))
			})
		}
	}
}

func runPowerCase(t *testing.T, pc powerCase, mode Mode, seed uint64) {
	f := mountT(t, pc.files, Options{})
	var kids []*child
	for _, s := range pc.steps {
		i := 0
		if n, err := strconv.Atoi(s[:1]); err == nil {
			i, s = n, s[2:]
		}
		for len(kids) <= i {
			kids = append(kids, startChild(t, fmt.Sprintf("child %d", len(kids)), f.Mountpoint()))
		}
		kids[i].do(s)
	}
	for _, k := range kids {
		k.kill()
	}
	rep, err := f.PowerLoss(mode, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatalf("power loss: %v", err)
	}
	t.Logf("%s", rep)

	got, err := snapshot(f.Backing())
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for p := range got {
		if _, ok := pc.want[p]; !ok {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("backing directory has %v, which should not survive", extra)
	}
	for p, w := range pc.want {
		b, ok := got[p]
		if !ok {
			t.Errorf("%s is missing", p)
			continue
		}
		if strings.HasSuffix(p, "/") {
			continue
		}
		if w.check != nil {
			w.check(t, mode, b)
			continue
		}
		checkData(t, p, mode, b, w)
	}
	if pc.entries != nil {
		if fmt.Sprint(rep.Entries) != fmt.Sprint(pc.entries) && !(len(rep.Entries) == 0 && len(pc.entries) == 0) {
			t.Errorf("report entries %v, want %v", rep.Entries, pc.entries)
		}
	}
	checkReport(t, rep, pc, mode)

	// The mount is back and shows the durable state to a new process.
	view := startChild(t, "viewer", f.Mountpoint()).do("tree")
	if view != got.String() {
		t.Errorf("the mount shows\n%s\nthe backing directory holds\n%s", view, got.String())
	}
}

// checkData checks a file's contents after a power loss in mode.
func checkData(t *testing.T, p string, mode Mode, got []byte, w fileWant) {
	t.Helper()
	if !bytes.HasPrefix(got, []byte(w.durable)) {
		t.Errorf("%s: lost durable data: %d bytes, want at least the %d durable ones", p, len(got), len(w.durable))
		return
	}
	rest := got[len(w.durable):]
	all := strings.Join(w.unsynced, "")
	switch mode {
	case LoseAll:
		if len(rest) != 0 {
			t.Errorf("%s: %d unsynced bytes survived", p, len(rest))
		}
	case TornSeq:
		if !strings.HasPrefix(all, string(rest)) {
			t.Errorf("%s: the %d bytes after the durable ones are not a prefix of the unsynced appends", p, len(rest))
		}
	case TornOp:
		if len(w.unsynced) == 0 {
			if len(rest) != 0 {
				t.Errorf("%s: %d bytes appeared", p, len(rest))
			}
			return
		}
		last := w.unsynced[len(w.unsynced)-1]
		earlier := all[:len(all)-len(last)]
		if !strings.HasPrefix(string(rest), earlier) {
			t.Errorf("%s: the unsynced writes before the last one did not all survive", p)
			return
		}
		checkTorn(t, p, len(w.durable)+len(earlier), rest[len(earlier):], []byte(last))
	}
}

// checkTorn checks that got, at file offset base, is a tearing of the
// write w: every 512 B piece is w's or zeros, a cut falls on a boundary,
// and a write that crosses a 4 KiB boundary neither survives whole nor
// vanishes.
func checkTorn(t *testing.T, p string, base int, got, w []byte) {
	t.Helper()
	if len(got) > len(w) {
		t.Errorf("%s: %d bytes after the earlier writes, the last write has %d", p, len(got), len(w))
		return
	}
	if len(got) < len(w) && len(got) > 0 && (base+len(got))%512 != 0 {
		t.Errorf("%s: the last write is cut at offset %d, not on a 512 B boundary", p, base+len(got))
	}
	for a := base; a < base+len(got); a = (a/512 + 1) * 512 {
		b := min((a/512+1)*512, base+len(got))
		s := got[a-base : b-base]
		if !bytes.Equal(s, w[a-base:b-base]) && !bytes.Equal(s, make([]byte, len(s))) {
			t.Errorf("%s: [%d, %d) of the torn write is neither its data nor zeros", p, a, b)
		}
	}
	if base/4096 != (base+len(w)-1)/4096 {
		if bytes.Equal(got, w) {
			t.Errorf("%s: the last write crosses a 4 KiB boundary and survived whole", p)
		}
		if bytes.Count(got, []byte{0}) == len(got) {
			t.Errorf("%s: the last write crosses a 4 KiB boundary and vanished", p)
		}
	}
}

// checkReport checks that the report's byte counts agree with the case.
func checkReport(t *testing.T, rep Report, pc powerCase, mode Mode) {
	t.Helper()
	if rep.Mode != mode {
		t.Errorf("report mode %s, want %s", rep.Mode, mode)
	}
	if mode != LoseAll {
		return
	}
	var want int64
	for _, w := range pc.want {
		for _, u := range w.unsynced {
			want += int64(len(u))
		}
	}
	if want > 0 && rep.DroppedBytes() != want {
		t.Errorf("report says %d bytes dropped, want %d", rep.DroppedBytes(), want)
	}
}

// TestPowerLossRefusedWhileOpen checks that a power loss changes nothing
// while a process still has a file open on the mount, and works once it is
// killed.
func TestPowerLossRefusedWhileOpen(t *testing.T) {
	f := mountT(t, map[string]string{"a.log": durA}, Options{UnmountTimeout: 300e6})
	c := startChild(t, "holder", f.Mountpoint())
	c.do("append a.log 100 1")
	_, err := f.PowerLoss(LoseAll, nil)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("power loss with a file open: %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), "a.log") {
		t.Errorf("error %q does not name the open file", err)
	}
	c.do("append a.log 100 2") // the mount still works
	c.kill()
	rep, err := f.PowerLoss(LoseAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.Backing(), "a.log")); string(b) != durA || rep.DroppedBytes() != 200 {
		t.Errorf("after the power loss a.log has %d bytes and %d were dropped, want %d and 200", len(b), rep.DroppedBytes(), len(durA))
	}
}

// TestModes checks ParseMode and the refusal of a torn mode without a
// random source.
func TestModes(t *testing.T) {
	for _, m := range Modes() {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("clear-cache"); err == nil {
		t.Error("ParseMode accepted clear-cache")
	}
	f := mountT(t, nil, Options{})
	if _, err := f.PowerLoss(TornSeq, nil); err == nil {
		t.Error("PowerLoss(TornSeq, nil) did not fail")
	}
	if _, err := f.PowerLoss(Mode("x"), nil); err == nil {
		t.Error("PowerLoss of an unknown mode did not fail")
	}
}

// TestUnmountBusy checks that Unmount of a mount a process still uses
// returns within its timeout, says so, and leaves the process with errors
// rather than hung.
func TestUnmountBusy(t *testing.T) {
	f := mountT(t, map[string]string{"a.log": durA}, Options{UnmountTimeout: 300e6})
	c := startChild(t, "holder", f.Mountpoint())
	c.do("append a.log 100 1")
	err := f.Unmount()
	if err == nil || !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "by force") {
		t.Fatalf("Unmount of a busy mount: %v, want a forced unmount wrapping ErrBusy", err)
	}
	c.send("append a.log 100 2")
	select {
	case l := <-c.lines:
		if !strings.HasPrefix(l, "err ") {
			t.Errorf("append after the forced unmount: %q, want an error", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("append after the forced unmount hung")
	}
	if err := f.Unmount(); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
	if _, err := f.PowerLoss(LoseAll, nil); !errors.Is(err, ErrUnmounted) {
		t.Errorf("PowerLoss after Unmount: %v, want ErrUnmounted", err)
	}
}

// TestStashHidden checks that the stash never shows in the mount, cannot be
// made there, and empties when the directory is synced.
func TestStashHidden(t *testing.T) {
	f := mountT(t, map[string]string{"a": durA, "b": durA}, Options{})
	c := startChild(t, "c", f.Mountpoint())
	c.do("unlink a")
	stash := filepath.Join(f.Backing(), StashName)
	if des, err := os.ReadDir(stash); err != nil || len(des) != 1 {
		t.Fatalf("stash after unlinking a durable file: %v entries, %v", len(des), err)
	}
	if tree := c.do("tree"); tree != (tsnap{"b": []byte(durA)}).String() {
		t.Errorf("the mount shows %s", tree)
	}
	for _, cmd := range []string{"create " + StashName, "mkdir " + StashName, "rename b " + StashName, "unlink " + StashName} {
		c.send(cmd)
		if l := <-c.lines; !strings.HasPrefix(l, "err ") {
			t.Errorf("%s: %q, want an error", cmd, l)
		}
	}
	c.do("fsyncdir .")
	if des, err := os.ReadDir(stash); err != nil || len(des) != 0 {
		t.Errorf("stash after the dir fsync: %v entries, %v", len(des), err)
	}
}

// TestMountRefuses checks that Mount refuses a mount point inside the
// backing directory (and the reverse), and a file for either.
func TestMountRefuses(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"b/m/": "", "m/b/": "", "file": "x"})
	for _, c := range []struct{ backing, mnt, want string }{
		{"b", "b/m", "inside the backing directory"},
		{"m/b", "m", "inside the mount point"},
		{"b", "b", "inside the backing directory"},
		{"file", "m", "not a directory"},
		{"b", "nothing", "no such file"},
	} {
		_, err := Mount(filepath.Join(tmp, c.backing), filepath.Join(tmp, c.mnt), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Mount(%s, %s): %v, want %q", c.backing, c.mnt, err, c.want)
		}
	}
}
