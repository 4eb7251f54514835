package lazyfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestAppendAtomicity appends records of 100 B to 1 MiB, one write(2)
// each, from 4 processes at once through the mount, and checks that no two
// records interleave. The kernel holds the inode lock across the whole of
// a buffered write to a FUSE file (without the writeback cache), including
// the several requests of a write larger than MaxWrite, and takes the
// O_APPEND offset under it. docs/LAZYFS.md gives the result.
// LAZYFS_APPEND_COUNT sets the records per process (default 28).
func TestAppendAtomicity(t *testing.T) {
	count := 28
	if s := os.Getenv("LAZYFS_APPEND_COUNT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("LAZYFS_APPEND_COUNT: %v", err)
		}
		count = n
	}
	for _, tc := range []struct {
		name     string
		maxWrite int
	}{
		{"max write 1 MiB", 1 << 20},
		{"max write 128 KiB", 128 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mountT(t, map[string]string{"a.log": ""}, Options{MaxWrite: tc.maxWrite})
			appendFrom4(t, f.Mountpoint(), filepath.Join(f.Backing(), "a.log"), count)
		})
	}
	t.Run("backing directory directly", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.log": ""})
		appendFrom4(t, dir, filepath.Join(dir, "a.log"), count)
	})
}

// appendFrom4 runs 4 appending helpers on root/a.log and checks the file
// at check.
func appendFrom4(t *testing.T, root, check string, count int) {
	const writers = 4
	var kids []*child
	for w := 0; w < writers; w++ {
		kids = append(kids, startChild(t, fmt.Sprintf("writer %d", w), root))
	}
	for w, k := range kids {
		k.send(fmt.Sprintf("appendmany a.log %d %d", w, count))
	}
	for w, k := range kids {
		k.answer(fmt.Sprintf("appendmany %d", w))
	}
	b, err := os.ReadFile(check)
	if err != nil {
		t.Fatal(err)
	}
	n, err := checkRecords(b, writers)
	if err != nil {
		t.Fatal(err)
	}
	if n != writers*count {
		t.Fatalf("%d records, want %d", n, writers*count)
	}
	t.Logf("%d records, %d bytes, none interleaved", n, len(b))
}

// checkRecords parses the records of the append atomicity test and checks
// each is whole and each writer's come in order.
func checkRecords(b []byte, writers int) (int, error) {
	next := make([]int, writers)
	n := 0
	for pos := 0; pos < len(b); n++ {
		var w, seq, size int
		if _, err := fmt.Sscanf(string(b[pos:min(pos+21, len(b))]), "REC%1d:%06d:%08d:", &w, &seq, &size); err != nil || w >= writers {
			return n, fmt.Errorf("offset %d: no record header (%q): records interleaved", pos, b[pos:min(pos+21, len(b))])
		}
		if pos+size > len(b) || !bytes.Equal(b[pos:pos+size], record(w, seq, size)) {
			return n, fmt.Errorf("offset %d: record %d of writer %d (%d bytes) is not whole: records interleaved", pos, seq, w, size)
		}
		if seq != next[w] {
			return n, fmt.Errorf("offset %d: record %d of writer %d, want %d", pos, seq, w, next[w])
		}
		next[w]++
		pos += size
	}
	return n, nil
}
