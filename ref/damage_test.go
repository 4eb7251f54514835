package ref

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSkipSlots(t *testing.T) {
	rec := appendFrame(nil, kindData, 42, []byte(`"value"`))
	with := func(i int, b byte) []byte { r := bytes.Clone(rec); r[i] = b; return r }
	for _, tc := range []struct {
		name string
		span []byte
		want int64
	}{
		{"empty", nil, 0},
		{"complete line, bad crc", with(50, 'X'), 1},
		{"fragment of a write cut short", rec[:30], 0},
		{"fragment missing only its LF", rec[:len(rec)-1], 0},
		{"whole record, LF damaged", with(len(rec)-1, 'x'), 1},
		{"whole record, LF damaged and payload too", with(len(rec)-1, 'x')[:len(rec)-2], 0},
		{"record whose RS was damaged", with(0, 'x'), 1},
		{"garbage line", []byte("not a record\n"), 0},
		{"zeros", make([]byte, 100), 0},
		{"second half of a split record", rec[40:], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, skipSlots(tc.span))
		})
	}
}

// FuzzPlanChunk feeds arbitrary chunk bodies to the damage planner: it
// must never panic, every span it plans takes a non-negative number of
// slots, and walking a damaged body with the plan ends exactly at the
// next chunk's base unless there are more records than it allows.
func FuzzPlanChunk(f *testing.F) {
	rec := func(v string) []byte { return appendFrame(nil, kindData, 1, []byte(v)) }
	seal := appendFrame(nil, kindSeal, 2, []byte(`{"chunk":0}`))
	body := append(append(rec(`"a"`), rec(`"b"`)...), seal...)
	f.Add(body, int64(2))
	f.Add(body[:30], int64(2))
	f.Add(append(bytes.Clone(rec(`"a"`)[:20]), body...), int64(3))
	f.Add([]byte("\x00\x00\x00\n\x1e"), int64(5))
	f.Fuzz(func(t *testing.T, data []byte, nextBase int64) {
		if nextBase < 0 || nextBase > 1<<20 {
			return
		}
		r := bytes.NewReader(data)
		pl, err := planChunk(r, 0, 0, nextBase, 1<<16)
		require.NoError(t, err)
		for pos, n := range pl.slots {
			require.GreaterOrEqual(t, n, int64(0), "span at %d", pos)
		}
		require.GreaterOrEqual(t, pl.tail, int64(0))
		next, valid := int64(0), int64(0)
		_, _, err = walkChunk(r, 0, 1<<16, func(it scanItem) bool {
			if it.n <= 0 {
				t.Fatalf("step at %d does not advance", it.pos)
			}
			if it.step == stepSkip {
				next += pl.spanSlots(it.pos, it.span)
				return true
			}
			switch it.fr.kind {
			case kindSeal:
				return false
			case kindData:
				valid++
				next++
			}
			return true
		})
		require.NoError(t, err)
		// A plan is made at damage (a skipped span) or at a chunk's end
		// without a seal; a sealed chunk without damage has nothing to
		// reconcile.
		if valid <= nextBase && (len(pl.slots) > 0 || !pl.sealed) {
			require.Equal(t, nextBase, next+pl.tail, "the plan does not add up to the next chunk's base")
		}
	})
}
