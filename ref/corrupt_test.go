package ref

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// corruptLog builds the log every corruption case starts from: 53 records
// of ~60 B, ten per chunk, so chunks 0-4 are sealed and chunk 5, the
// active one, holds offsets 50-52. Record timestamps are fixed, so the
// bytes (apart from header and seal times) and inspect's report are the
// same in every run. The payload of offset N is the JSON string
// "NNNNNN-…", so a record delivered under the wrong offset is seen.
func corruptLog(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	tp, err := Open(dir, "t", Options{ChunkRecords: 10})
	require.NoError(t, err)
	defer tp.Close()
	p, err := tp.NewProducer()
	require.NoError(t, err)
	var ts int64 = 1764633600000000000
	p.now = func() int64 { ts += 1000; return ts }
	for i := range 53 {
		_, err := p.Append(corruptPayload(i))
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())
	require.EqualValues(t, 5, tp.ActiveChunk())
	return dir
}

func corruptPayload(off int) []byte {
	return []byte(fmt.Sprintf(`"%06d-abcdefghijklmnopqrstuvwxyz"`, off))
}

// line returns the byte span of line i of a chunk (0 is the header).
func line(data []byte, i int) (start, end int) {
	for range i {
		start += bytes.IndexByte(data[start:], '\n') + 1
	}
	return start, start + bytes.IndexByte(data[start:], '\n') + 1
}

// chunkFile names chunk n of the test topic.
func chunkFile(dir string, n int) string {
	return filepath.Join(dir, "t", fmt.Sprintf("%020d.log", n))
}

// editChunk applies corrupt to chunk n's bytes and writes them back.
func editChunk(t *testing.T, dir string, n int, corrupt func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(chunkFile(dir, n))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(chunkFile(dir, n), corrupt(data), 0o644))
}

func span(from, to int) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, int64(i))
	}
	return out
}

// TestCorruption damages one chunk of a log in each of the ways disks,
// operators and crashes do, then reads it with a consumer and with
// Inspect. In every case every intact record is delivered under its true
// offset (the payload names it), every record that cannot be read is
// reported missing with its offset, nothing is renumbered, and Inspect's
// report matches its golden file (testdata/inspect/NAME.golden; -update
// rewrites them). docs/FORMAT.md has this table.
func TestCorruption(t *testing.T) {
	flip := func(at func([]byte) int) func([]byte) []byte {
		return func(d []byte) []byte { d[at(d)] ^= 0x01; return d }
	}
	set := func(at func([]byte) int, b byte) func([]byte) []byte {
		return func(d []byte) []byte { d[at(d)] = b; return d }
	}
	rec := func(i, delta int) func([]byte) int { // byte delta of line i (negative: from its end)
		return func(d []byte) int {
			s, e := line(d, i)
			if delta < 0 {
				return e + delta
			}
			return s + delta
		}
	}
	for _, tc := range []struct {
		name    string
		chunk   int
		corrupt func([]byte) []byte
		missing []int64 // offsets reported missing
		damage  bool    // the consumer reports damage
	}{
		{name: "intact"},
		{name: "byte-flipped-in-payload", chunk: 2, corrupt: flip(rec(4, 50)), missing: []int64{23}, damage: true},
		{name: "crc-digit-flipped", chunk: 2, corrupt: set(rec(4, 31), 'z'), missing: []int64{23}, damage: true},
		{name: "record-start-damaged", chunk: 2, corrupt: set(rec(4, 0), 'x'), missing: []int64{23}, damage: true},
		{name: "record-end-damaged", chunk: 2, corrupt: set(rec(4, -1), 'x'), missing: []int64{23}, damage: true},
		{name: "newline-inserted", chunk: 2, corrupt: set(rec(4, 60), '\n'), missing: []int64{23}, damage: true},
		{name: "two-records-damaged", chunk: 3, corrupt: func(d []byte) []byte {
			return flip(rec(8, 50))(flip(rec(2, 50))(d))
		}, missing: []int64{31, 37}, damage: true},
		{name: "page-zeroed", chunk: 1, corrupt: func(d []byte) []byte {
			s, _ := line(d, 3)
			_, e := line(d, 6)
			clear(d[s+10 : e-5]) // records 2-5 of the chunk (offsets 12-15) and no record end
			return d
		}, missing: span(12, 15), damage: true},
		{name: "truncated-mid-record", chunk: 1, corrupt: func(d []byte) []byte {
			s, _ := line(d, 7)
			return d[:s+20] // offsets 16-19 and the seal are gone
		}, missing: span(16, 19), damage: true},
		{name: "truncated-at-record-end", chunk: 1, corrupt: func(d []byte) []byte {
			_, e := line(d, 10)
			return d[:e] // only the seal is gone
		}, damage: true},
		{name: "truncated-to-header", chunk: 1, corrupt: func(d []byte) []byte {
			_, e := line(d, 0)
			return d[:e]
		}, missing: span(10, 19), damage: true},
		{name: "seal-damaged", chunk: 1, corrupt: set(rec(11, 1), '['), damage: true},
		{name: "header-damaged", chunk: 2, corrupt: set(rec(0, 1), '['), damage: true},
		{name: "active-header-damaged", chunk: 5, corrupt: set(rec(0, 1), '['), damage: true},
		{name: "active-byte-flipped", chunk: 5, corrupt: flip(rec(2, 50)), missing: []int64{51}, damage: true},
		{name: "active-garbage-appended", chunk: 5, corrupt: func(d []byte) []byte {
			return append(d, "not a record\n"...)
		}, damage: true},
		{name: "active-torn-tail", chunk: 5, corrupt: func(d []byte) []byte {
			return append(d, appendFrame(nil, kindData, 1, corruptPayload(53))[:30]...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := corruptLog(t)
			if tc.corrupt != nil {
				editChunk(t, dir, tc.chunk, tc.corrupt)
			}
			recs, problems := readDamaged(t, dir)
			var missing []int64
			damage := false
			for _, p := range problems {
				damage = damage || p.IsDamage()
				if p.Kind == ProblemMissing {
					missing = append(missing, span(int(p.Offset), int(p.Offset+p.Count-1))...)
				}
			}
			for _, p := range problems {
				t.Logf("problem: %s", p)
			}
			require.Equal(t, tc.missing, missing, "offsets reported missing; problems: %v", problems)
			require.Equal(t, tc.damage, damage, "damage reported; problems: %v", problems)
			got := map[int64]bool{}
			for _, r := range recs {
				require.Equal(t, string(corruptPayload(int(r.Offset))), string(r.Value), "offset %d delivered another record", r.Offset)
				require.False(t, got[r.Offset], "offset %d delivered twice", r.Offset)
				got[r.Offset] = true
			}
			for off := range int64(53) {
				require.True(t, got[off] || slices.Contains(tc.missing, off), "offset %d neither delivered nor reported missing", off)
			}

			rep, err := Inspect(dir, "t")
			require.NoError(t, err)
			require.EqualValues(t, 53, rep.End, "inspect's next offset")
			require.Equal(t, tc.damage, len(rep.Damage) > 0, "inspect's verdict: %v", rep.Damage)
			var inspectMissing int64
			for _, c := range rep.Chunks {
				inspectMissing += c.Missing
			}
			require.EqualValues(t, len(tc.missing), inspectMissing, "inspect counts what the consumer reports missing")
			golden := filepath.Join("testdata", "inspect", tc.name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(rep.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), rep.String())

			// A consumer started at each offset after the damage starts
			// exactly there: a group that acked inside a damaged chunk
			// resumes at the right record.
			for _, from := range []int64{22, 24, 29, 35, 52} {
				if slices.Contains(tc.missing, from) {
					continue
				}
				first := firstFrom(t, dir, from)
				require.Equal(t, string(corruptPayload(int(from))), first, "seek to offset %d", from)
			}
		})
	}
}

// readDamaged reads the whole log from the earliest record with a
// consumer that collects problems.
func readDamaged(t *testing.T, dir string) ([]Record, []Problem) {
	t.Helper()
	tp, err := Open(dir, "t", Options{MustExist: true})
	require.NoError(t, err)
	defer tp.Close()
	var problems []Problem
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: WaitPoll, OnProblem: func(p Problem) { problems = append(problems, p) }})
	require.NoError(t, err)
	defer c.Close()
	var out []Record
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		recs, err := c.TryPoll(100)
		require.NoError(t, err)
		if len(recs) == 0 {
			return out, problems
		}
		for _, r := range recs {
			r.Value = bytes.Clone(r.Value)
			out = append(out, r)
		}
	}
	t.Fatal("the consumer did not reach the end of the log")
	return nil, nil
}

// firstFrom returns the value of the first record a consumer started at
// offset from delivers.
func firstFrom(t *testing.T, dir string, from int64) string {
	t.Helper()
	tp, err := Open(dir, "t", Options{MustExist: true})
	require.NoError(t, err)
	defer tp.Close()
	c, err := tp.NewConsumer(ConsumerOptions{From: FromOffset, Offset: from, Wait: WaitPoll})
	require.NoError(t, err)
	defer c.Close()
	recs, err := c.TryPoll(1)
	require.NoError(t, err)
	require.NotEmpty(t, recs, "nothing from offset %d", from)
	require.Equal(t, from, recs[0].Offset)
	return string(recs[0].Value)
}

// TestLargeRecordIsReadWithDefaultOptions: a producer process that
// raised its record limit writes a 5 MB record between two small ones; a
// reader opened with the default options (a 1 MiB limit) delivers all
// three, because it learns the topic's limit from the control file.
func TestLargeRecordIsReadWithDefaultOptions(t *testing.T) {
	dir := t.TempDir()
	for i, size := range []int{100, 5_000_000, 100} {
		p := startHelper(t, "producer", dir, "p"+strconv.Itoa(i), map[string]int{"SIZE": size, "N": 1, "FROM": i, "MAX_RECORD": 10_000_000})
		require.NoError(t, p.wait(t, time.Minute))
		require.Equal(t, []int{i}, p.confirmed())
	}
	tp := openTopic(t, dir, Options{})
	var problems []Problem
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, OnProblem: func(p Problem) { problems = append(problems, p) }})
	require.NoError(t, err)
	defer c.Close()
	recs := readAll(t, c, 3, 30*time.Second)
	require.Empty(t, problems)
	for i, r := range recs {
		_, seq, err := parseTestPayload(r.Value)
		require.NoError(t, err)
		require.Equal(t, i, seq)
		require.EqualValues(t, i, r.Offset)
	}
	rep, err := Inspect(dir, "t")
	require.NoError(t, err)
	require.Empty(t, rep.Damage)
}

// TestReadersCreateNothing: opening a missing topic with MustExist, or
// inspecting it, fails with ErrNoTopic and leaves no file behind.
func TestReadersCreateNothing(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"typo", ""} {
		d := filepath.Join(dir, sub)
		_, err := Open(d, "t", Options{MustExist: true})
		require.ErrorIs(t, err, ErrNoTopic)
		_, err = Inspect(d, "t")
		require.ErrorIs(t, err, ErrNoTopic)
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "t"), 0o755))
	_, err := Open(dir, "t", Options{MustExist: true})
	require.ErrorIs(t, err, ErrNoTopic, "a topic directory without chunks")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	inner, err := os.ReadDir(filepath.Join(dir, "t"))
	require.NoError(t, err)
	require.Empty(t, inner)
}
