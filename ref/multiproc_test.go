package ref

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// verifyLog checks what a reader delivered against what producers
// confirmed: every record whole, offsets dense and increasing, no record
// twice, each producer's records in its order, and no confirmed record
// missing. It returns every violation found (nil if none).
func verifyLog(recs []Record, confirmed map[string][]int) error {
	var errs []string
	seen := map[string]bool{}
	lastSeq := map[string]int{}
	for i, r := range recs {
		if i > 0 && r.Offset != recs[i-1].Offset+1 {
			errs = append(errs, fmt.Sprintf("offset %d follows %d", r.Offset, recs[i-1].Offset))
		}
		id, seq, err := parseTestPayload(r.Value)
		if err != nil {
			errs = append(errs, fmt.Sprintf("offset %d: damaged record delivered: %v", r.Offset, err))
			continue
		}
		key := fmt.Sprintf("%s:%d", id, seq)
		if seen[key] {
			errs = append(errs, fmt.Sprintf("offset %d: %s delivered twice", r.Offset, key))
		}
		seen[key] = true
		if last, ok := lastSeq[id]; ok && seq <= last {
			errs = append(errs, fmt.Sprintf("offset %d: %s after seq %d of the same producer", r.Offset, key, last))
		}
		lastSeq[id] = seq
	}
	for id, seqs := range confirmed {
		for _, seq := range seqs {
			if !seen[fmt.Sprintf("%s:%d", id, seq)] {
				errs = append(errs, fmt.Sprintf("confirmed %s:%d never delivered", id, seq))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Sprintf("… and %d more", len(errs)-10))
	}
	return errors.New(strings.Join(errs, "\n"))
}

// readToEnd reads at least want records, within timeout (a reader stuck at
// a chunk boundary fails the test), and then whatever else is in the log.
func readToEnd(t testing.TB, c *Consumer, want int, timeout time.Duration) []Record {
	t.Helper()
	recs := readAll(t, c, want, timeout)
	for {
		got, err := c.read(t.Context(), 1<<20, false)
		require.NoError(t, err)
		if len(got) == 0 {
			return recs
		}
		for _, r := range got {
			r.Value = append([]byte(nil), r.Value...)
			recs = append(recs, r)
		}
	}
}

func TestConcurrentProducerProcesses(t *testing.T) {
	for _, tc := range []struct {
		size, each, chunkRecords int
	}{
		{100, 1500, 7},
		{4196, 300, 7},
		{65636, 60, 5},
		{1<<20 + 100, 8, 3},
	} {
		t.Run(fmt.Sprintf("%dB", tc.size), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{ChunkRecords: tc.chunkRecords, MaxRecordSize: 2 << 20}
			tp := openTopic(t, dir, o)
			// A live reader started before the producers, beside them.
			live, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			require.NoError(t, err)
			defer live.Close()
			env := map[string]int{"SIZE": tc.size, "N": tc.each, "CHUNK_RECORDS": tc.chunkRecords, "MAX_RECORD": 2 << 20}
			var procs []*proc
			for i := range 4 {
				procs = append(procs, startHelper(t, "producer", dir, fmt.Sprintf("p%d", i), env))
			}
			total := 4 * tc.each
			liveRecs := make(chan []Record, 1)
			go func() { liveRecs <- readAll(t, live, total, 2*time.Minute) }()
			confirmed := map[string][]int{}
			for _, p := range procs {
				require.NoError(t, p.wait(t, 2*time.Minute))
				confirmed[p.id] = p.confirmed()
				require.Len(t, confirmed[p.id], tc.each)
			}
			after, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			require.NoError(t, err)
			defer after.Close()
			recs := readToEnd(t, after, total, time.Minute)
			require.NoError(t, verifyLog(recs, confirmed))
			lr := <-liveRecs
			require.NoError(t, verifyLog(lr, confirmed))
			require.Equal(t, recs, lr, "the live reader and the later reader disagree on the order")
			chunks, err := tp.chunks()
			require.NoError(t, err)
			require.Greater(t, len(chunks), total/tc.chunkRecords/2, "expected many rotations")
		})
	}
}

// TestSeekWriteIsCaught is the negative control for the multi-process test:
// appending without O_APPEND (seek to the end, then write) from several
// processes loses and damages records, and verifyLog must say so.
func TestSeekWriteIsCaught(t *testing.T) {
	dir := t.TempDir()
	tp := openTopic(t, dir, Options{})
	env := map[string]int{"SIZE": 100, "N": 5000}
	var procs []*proc
	for i := range 4 {
		procs = append(procs, startHelper(t, "seekwrite", dir, fmt.Sprintf("s%d", i), env))
	}
	confirmed := map[string][]int{}
	for _, p := range procs {
		require.NoError(t, p.wait(t, time.Minute))
		confirmed[p.id] = p.confirmed()
	}
	var problems int
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, OnProblem: func(Problem) { problems++ }})
	require.NoError(t, err)
	defer c.Close()
	recs := readToEnd(t, c, 0, time.Minute)
	err = verifyLog(recs, confirmed)
	require.Error(t, err, "4 seek-then-write processes should have overwritten each other")
	t.Logf("caught, as expected (%d damaged spans skipped):\n%v", problems, err)
}

// TestSIGKILLDuringLargeWrite kills a producer in the middle of 16 MiB
// writes while two others append small records. The fragment stays in the
// file; readers skip it, and every confirmed record is delivered intact.
func TestSIGKILLDuringLargeWrite(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under -race; the plain `go test ./...` run covers it")
	}
	dir := t.TempDir()
	o := Options{MaxRecordSize: 32 << 20, ChunkBytes: 256 << 20}
	tp := openTopic(t, dir, o)
	small := map[string]int{"SIZE": 100, "N": 3000, "MAX_RECORD": 32 << 20, "CHUNK_BYTES": 256 << 20}
	confirmed := map[string][]int{}
	torn := 0
	for attempt := 0; attempt < 20 && torn == 0; attempt++ {
		big := startHelper(t, "producer", dir, fmt.Sprintf("big%d", attempt), map[string]int{"SIZE": 16 << 20, "N": 1000, "MAX_RECORD": 32 << 20, "CHUNK_BYTES": 256 << 20})
		a := startHelper(t, "producer", dir, fmt.Sprintf("a%d", attempt), small)
		b := startHelper(t, "producer", dir, fmt.Sprintf("b%d", attempt), small)
		// Kill it during its second write(2) of 16 MiB (the helper says
		// "appending" just before each write; the first Append is slow: it
		// grows buffers). Such a write takes a few milliseconds.
		for range 2 {
			select {
			case <-big.appending:
			case <-time.After(10 * time.Second):
				t.Fatal("the large producer never started appending")
			}
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		big.kill()
		_ = big.wait(t, 10*time.Second)
		require.NoError(t, a.wait(t, time.Minute))
		require.NoError(t, b.wait(t, time.Minute))
		confirmed[big.id], confirmed[a.id], confirmed[b.id] = big.confirmed(), a.confirmed(), b.confirmed()
		torn = 0
		c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, OnProblem: func(p Problem) {
			if p.Kind == ProblemTorn {
				torn++
			}
		}})
		require.NoError(t, err)
		want := 0
		for _, s := range confirmed {
			want += len(s)
		}
		recs := readToEnd(t, c, want, time.Minute)
		c.Close()
		require.NoError(t, verifyLog(recs, confirmed))
	}
	t.Logf("torn records found after %d kills", len(confirmed)/3)
	require.Positive(t, torn, "no kill landed inside a write in 20 attempts; the fragment case was not exercised")
}

// TestSIGKILLDuringRotation kills and restarts producers at random while
// chunks rotate every 2 records, so kills land inside rotations. Every
// confirmed record must be delivered once, and no reader may get stuck.
func TestSIGKILLDuringRotation(t *testing.T) {
	dir := t.TempDir()
	o := Options{ChunkRecords: 2}
	tp := openTopic(t, dir, o)
	live, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
	require.NoError(t, err)
	defer live.Close()
	confirmed := map[string][]int{}
	next := map[string]int{}
	kills := 0
	deadline := time.Now().Add(6 * time.Second)
	for round := 0; time.Now().Before(deadline); round++ {
		var procs []*proc
		for i := range 3 {
			id := fmt.Sprintf("p%d", i)
			procs = append(procs, startHelper(t, "producer", dir, id, map[string]int{"SIZE": 100, "N": 100000, "FROM": next[id], "CHUNK_RECORDS": 2}))
		}
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		for _, p := range procs {
			p.kill()
			_ = p.wait(t, 10*time.Second)
			kills++
			ok := p.confirmed()
			confirmed[p.id] = append(confirmed[p.id], ok...)
			// A killed producer's last record may be in the log without
			// confirmation; never reuse its sequence number.
			next[p.id] += len(ok) + 1
		}
	}
	want := 0
	for _, s := range confirmed {
		want += len(s)
	}
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
	require.NoError(t, err)
	defer c.Close()
	recs := readToEnd(t, c, want, time.Minute)
	require.NoError(t, verifyLog(recs, confirmed))
	liveRecs := readAll(t, live, len(recs), time.Minute)
	require.Equal(t, len(recs), len(liveRecs))
	for i := range recs {
		require.Equal(t, recs[i].Offset, liveRecs[i].Offset)
		require.Equal(t, string(recs[i].Value), string(liveRecs[i].Value), "offset %d", recs[i].Offset)
	}
	t.Logf("%d kills, %d records, %d chunks", kills, len(recs), tp.ActiveChunk()+1)
}

// TestFileSizeLimitDoesNotPoisonTheLog runs a producer under RLIMIT_FSIZE:
// its appends fail (a short write, then EFBIG) and it is told so, while a
// producer without the limit goes on. Every confirmed record is intact and
// nothing of the failed appends is delivered.
func TestFileSizeLimitDoesNotPoisonTheLog(t *testing.T) {
	dir := t.TempDir()
	tp := openTopic(t, dir, Options{ChunkRecords: 1 << 20, ChunkBytes: 1 << 30})
	limited := startHelper(t, "producer", dir, "lim", map[string]int{"SIZE": 3000, "N": 100, "FSIZE": 64 << 10, "CHUNK_RECORDS": 1 << 20, "CHUNK_BYTES": 1 << 30}, "KLREF_KEEP_GOING=1")
	require.NoError(t, limited.wait(t, time.Minute))
	free := startHelper(t, "producer", dir, "free", map[string]int{"SIZE": 100, "N": 200, "CHUNK_RECORDS": 1 << 20, "CHUNK_BYTES": 1 << 30})
	require.NoError(t, free.wait(t, time.Minute))
	require.NotEmpty(t, limited.fails, "the size limit never made an append fail")
	t.Logf("limited producer: %d ok, %d failed, first failure: %s", len(limited.confirmed()), len(limited.fails), limited.fails[0])
	for _, f := range limited.fails {
		// Each failure names its cause and what was not appended, short
		// write or EFBIG alike.
		require.Contains(t, f, "RLIMIT_FSIZE")
		require.Contains(t, f, "the record (3047 bytes framed) not appended")
	}
	confirmed := map[string][]int{"lim": limited.confirmed(), "free": free.confirmed()}
	var problems []Problem
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, OnProblem: func(p Problem) { problems = append(problems, p) }})
	require.NoError(t, err)
	defer c.Close()
	recs := readToEnd(t, c, len(confirmed["lim"])+len(confirmed["free"]), time.Minute)
	require.NoError(t, verifyLog(recs, confirmed))
	require.Len(t, recs, len(confirmed["lim"])+len(confirmed["free"]), "a failed append was delivered")
}

// TestFullDiskIsNamed fills a small tmpfs from a producer process: every
// append that fails says the filesystem is full and which record was not
// appended, and the records confirmed before are intact. It needs root to
// mount; elsewhere it is skipped.
func TestFullDiskIsNamed(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v)", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	p := startHelper(t, "producer", dir, "full", map[string]int{"SIZE": 3000, "N": 200, "CHUNK_RECORDS": 1 << 20, "CHUNK_BYTES": 1 << 30}, "KLREF_KEEP_GOING=1")
	require.NoError(t, p.wait(t, time.Minute))
	require.NotEmpty(t, p.fails, "the full filesystem never made an append fail")
	t.Logf("%d ok, %d failed, first failure: %s", len(p.confirmed()), len(p.fails), p.fails[0])
	for _, f := range p.fails {
		require.Contains(t, f, "is full")
		require.Contains(t, f, "not appended")
	}
	tp := openTopic(t, dir, Options{MustExist: true})
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
	require.NoError(t, err)
	defer c.Close()
	recs := readToEnd(t, c, len(p.confirmed()), time.Minute)
	require.NoError(t, verifyLog(recs, map[string][]int{"full": p.confirmed()}))
}
