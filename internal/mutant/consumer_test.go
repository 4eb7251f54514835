package mutant

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRereadOnFUSE: on FUSE, a line that does not parse is read again
// from the file before it is dropped, so a reader given bytes that were
// not the file's still delivers every record; real damage, the same on
// every read, is dropped once; off FUSE nothing is read again.
func TestRereadOnFUSE(t *testing.T) {
	var file []byte
	for i := range 3 {
		file, _ = encode(file, int64(i), "value")
	}
	garbled := append([]byte(nil), file...)
	second := len(file) / 3
	for i := second; i < second+10; i++ {
		garbled[i] = 0 // what the FUSE reader was given: not the file's
	}
	for _, tc := range []struct {
		name   string
		onFUSE bool
		inFile []byte // what the file holds
		want   []int64
	}{
		{"FUSE, the file is whole", true, file, []int64{0, 1, 2}},
		{"FUSE, the file is damaged", true, garbled, []int64{0, 2}},
		{"local, not read again", false, file, []int64{0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/chunk"
			require.NoError(t, os.WriteFile(path, tc.inFile, 0o644))
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			c := &consumer{t: &topic{onFUSE: tc.onFUSE}, from: -1, f: f,
				buf: append([]byte(nil), garbled...), pos: int64(len(garbled))}
			c.rechecked.chunk = -1
			var got []int64
			for _, r := range c.takeLines(nil, 10) {
				got = append(got, r.Offset)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
