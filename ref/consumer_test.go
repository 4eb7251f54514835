package ref

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func appendN(t testing.TB, p *Producer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := p.Append(fmt.Appendf(nil, `{"i":%d}`, i))
		require.NoError(t, err)
	}
}

func TestResumeAfterAck(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 5})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 20)

	c, err := tp.NewConsumer(ConsumerOptions{Group: "g"})
	require.NoError(t, err)
	recs := readAll(t, c, 8, 5*time.Second)
	require.NoError(t, c.Ack(recs[7].Offset))
	// A second live consumer of the group is refused.
	_, err = tp.NewConsumer(ConsumerOptions{Group: "g"})
	require.ErrorIs(t, err, ErrGroupBusy)
	require.NoError(t, c.Close())

	c, err = tp.NewConsumer(ConsumerOptions{Group: "g"})
	require.NoError(t, err)
	recs = readAll(t, c, 1, 5*time.Second)
	require.Equal(t, int64(8), recs[0].Offset, "resumes at the first record after the ack")
	require.NoError(t, c.Close())

	// Many acks later, resume still reads only the tail of the ack log.
	c, err = tp.NewConsumer(ConsumerOptions{Group: "g"})
	require.NoError(t, err)
	for i := range 5000 {
		require.NoError(t, c.Ack(int64(i%20)))
	}
	require.NoError(t, c.Ack(14))
	require.NoError(t, c.Close())
	ackChunks, err := os.ReadDir(tp.dir + "/groups/g")
	require.NoError(t, err)
	require.LessOrEqual(t, len(ackChunks), ackRetainChunks+2, "ack log is compacted by retention")
	c, err = tp.NewConsumer(ConsumerOptions{Group: "g"})
	require.NoError(t, err)
	defer c.Close()
	recs = readAll(t, c, 1, 5*time.Second)
	require.Equal(t, int64(15), recs[0].Offset)
}

func TestStartPositions(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 3})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 10)
	for _, tc := range []struct {
		name string
		o    ConsumerOptions
		want int64
	}{
		{"earliest", ConsumerOptions{From: FromEarliest}, 0},
		{"offset in a middle chunk", ConsumerOptions{From: FromOffset, Offset: 7}, 7},
		{"offset at a chunk start", ConsumerOptions{From: FromOffset, Offset: 6}, 6},
		{"acked without acks", ConsumerOptions{Group: "fresh"}, 0},
		{"latest", ConsumerOptions{From: FromLatest}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tp.NewConsumer(tc.o)
			require.NoError(t, err)
			defer c.Close()
			if tc.want == 10 {
				appendN(t, p, 10, 1)
				defer func() {}()
			}
			recs := readAll(t, c, 1, 5*time.Second)
			require.Equal(t, tc.want, recs[0].Offset)
		})
	}
}

func TestWakeUpAndClose(t *testing.T) {
	for _, w := range []WaitStrategy{WaitInotify, WaitPoll, WaitSpin} {
		t.Run(string(w), func(t *testing.T) {
			tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 2})
			c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: w})
			require.NoError(t, err)
			p, err := tp.NewProducer()
			require.NoError(t, err)
			defer p.Close()
			got := make(chan []Record, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				recs, _ := c.Poll(ctx, 10)
				got <- recs
			}()
			time.Sleep(50 * time.Millisecond)
			appendN(t, p, 0, 1)
			select {
			case recs := <-got:
				require.Len(t, recs, 1)
			case <-time.After(5 * time.Second):
				t.Fatal("the waiting consumer did not wake up")
			}
			// Close stops a wait in progress promptly.
			errc := make(chan error, 1)
			go func() {
				_, err := c.Poll(context.Background(), 10)
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond)
			require.NoError(t, c.Close())
			select {
			case err := <-errc:
				require.ErrorIs(t, err, ErrClosed)
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not stop the wait")
			}
		})
	}
}

func TestRetentionUnderSlowReader(t *testing.T) {
	for _, reset := range []ResetPolicy{ResetEarliest, ResetError} {
		t.Run(string(reset), func(t *testing.T) {
			tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 4, RetainChunks: 3})
			p, err := tp.NewProducer()
			require.NoError(t, err)
			defer p.Close()
			appendN(t, p, 0, 6) // chunks 0 (0-3), 1 (4-5)
			var problems []Problem
			slow, err := tp.NewConsumer(ConsumerOptions{Group: "slow", OffsetReset: reset, OnProblem: func(p Problem) { problems = append(problems, p) }})
			require.NoError(t, err)
			defer slow.Close()
			recs := readAll(t, slow, 2, 5*time.Second) // now in the middle of chunk 0
			require.Equal(t, int64(1), recs[1].Offset)
			appendN(t, p, 6, 30) // many rotations: chunk 0 and its successors are deleted
			chunks, err := tp.chunks()
			require.NoError(t, err)
			require.Len(t, chunks, 3, "retention keeps 3 chunks")
			// The open chunk is deleted but still readable to its end.
			recs = readAll(t, slow, 2, 5*time.Second)
			require.Equal(t, []int64{2, 3}, []int64{recs[0].Offset, recs[1].Offset})
			// Then the next chunk is gone.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			recs, err = slow.Poll(ctx, 1)
			if reset == ResetError {
				require.ErrorIs(t, err, ErrOffsetOutOfRange)
				return
			}
			require.NoError(t, err)
			base, err := tp.chunkBase(chunks[0])
			require.NoError(t, err)
			require.Equal(t, base, recs[0].Offset, "reset to the earliest kept record")
			require.NotEmpty(t, problems)
			require.Equal(t, ProblemReset, problems[len(problems)-1].Kind)
		})
	}
}

// TestHalfDoneRotationIsRepaired recreates on disk what a rotator killed at
// each step leaves behind, and checks that the next producer or reader
// finishes the rotation without losing or duplicating a record.
func TestHalfDoneRotationIsRepaired(t *testing.T) {
	for _, tc := range []struct {
		name string
		// steps of the rotation the dead rotator completed
		sealed, created bool
		repairer        string
	}{
		{"killed after starting the seal, reader repairs", false, false, "reader"},
		{"killed after starting the seal, producer repairs", false, false, "producer"},
		{"killed after the seal, reader repairs", true, false, "reader"},
		{"killed after the seal, producer repairs", true, false, "producer"},
		{"killed after creating the next chunk, reader repairs", true, true, "reader"},
		{"killed after creating the next chunk, producer repairs", true, true, "producer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := openTopic(t, t.TempDir(), Options{})
			p, err := tp.NewProducer()
			require.NoError(t, err)
			defer p.Close()
			appendN(t, p, 0, 3)
			// The dead rotator's steps.
			require.True(t, tp.ctl.casGen(0, 1))
			if tc.sealed {
				require.NoError(t, tp.appendSeal(0))
			}
			if tc.created {
				require.NoError(t, tp.createChunk(1, 3, false))
			}
			c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			require.NoError(t, err)
			defer c.Close()
			if tc.repairer == "producer" {
				appendN(t, p, 3, 2)
				require.Equal(t, uint64(2), tp.ctl.gen(), "the producer finished the rotation")
				recs := readAll(t, c, 5, 5*time.Second)
				for i, r := range recs {
					require.Equal(t, int64(i), r.Offset)
					require.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(r.Value))
				}
				return
			}
			recs := readAll(t, c, 3, 5*time.Second)
			require.Equal(t, int64(2), recs[2].Offset)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = c.Poll(ctx, 1)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, uint64(2), tp.ctl.gen(), "the reader finished the rotation")
			appendN(t, p, 3, 1)
			recs = readAll(t, c, 1, 5*time.Second)
			require.Equal(t, int64(3), recs[0].Offset, "no reader stuck at the chunk boundary")
		})
	}
}

// TestLateAppendIsRewritten: a producer whose write lands after the seal
// (another process rotated between its first load of gen and its write)
// writes the record again to the next chunk; readers never see the void
// copy, and Inspect counts it as void.
func TestLateAppendIsRewritten(t *testing.T) {
	dir := t.TempDir()
	tp := openTopic(t, dir, Options{})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 2)
	p.testHookBeforeWrite = func() {
		p.testHookBeforeWrite = nil
		require.NoError(t, tp.rotate(0))
	}
	appendN(t, p, 2, 1)
	rep, err := Inspect(dir, "t")
	require.NoError(t, err)
	require.Empty(t, rep.Damage)
	require.Equal(t, 1, rep.Chunks[0].Void, "the late copy sits after the seal of chunk 0")
	require.Equal(t, int64(1), rep.Chunks[1].Records, "and the record was written again to chunk 1")
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
	require.NoError(t, err)
	defer c.Close()
	recs := readAll(t, c, 3, 5*time.Second)
	require.Equal(t, `{"i":2}`, string(recs[2].Value))
	require.Equal(t, int64(2), recs[2].Offset)
	more, err := c.TryPoll(10)
	require.NoError(t, err)
	require.Empty(t, more, "the void copy is never delivered")
}

// TestLostControlFileIsRebuilt: without its control file, a topic is
// reopened from its chunks, and a rotation that was half done is finished.
func TestLostControlFileIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	tp, err := Open(dir, "t", Options{ChunkRecords: 3})
	require.NoError(t, err)
	p, err := tp.NewProducer()
	require.NoError(t, err)
	appendN(t, p, 0, 7)
	require.True(t, tp.ctl.casGen(4, 5)) // a rotator of chunk 2 dies after starting
	require.NoError(t, tp.appendSeal(2))
	p.Close()
	tp.Close()
	require.NoError(t, os.Remove(tp.dir+"/control"))

	tp2 := openTopic(t, dir, Options{ChunkRecords: 3})
	require.Equal(t, uint64(5), tp2.ctl.gen(), "the sealed last chunk is left for repair")
	p2, err := tp2.NewProducer()
	require.NoError(t, err)
	defer p2.Close()
	appendN(t, p2, 7, 1)
	c, err := tp2.NewConsumer(ConsumerOptions{From: FromEarliest})
	require.NoError(t, err)
	defer c.Close()
	recs := readAll(t, c, 8, 5*time.Second)
	for i, r := range recs {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(r.Value))
	}
}

// TestStalledProducerAndRetention: a producer stalls (think SIGSTOP) around
// its write while other producers rotate so far that retention deletes the
// chunk it wrote to. If its record landed before the seal, it was in the
// log and must not be written again; if after, it was void and must be.
// Either way Append succeeds and no reader sees the record twice.
func TestStalledProducerAndRetention(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beforeWrite bool // the rotations happen before the stalled write (so it lands after the seal)
		wantCopies  int  // copies of the record in the surviving log
	}{
		{"landed before the seal: in the log, deleted by retention", false, 0},
		{"landed after the seal: void, written again", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{ChunkRecords: 2, RetainChunks: 2}
			tp := openTopic(t, dir, o)
			stalled, err := tp.NewProducer()
			require.NoError(t, err)
			defer stalled.Close()
			other, err := tp.NewProducer()
			require.NoError(t, err)
			defer other.Close()
			appendN(t, stalled, 0, 1) // chunk 0 has one record; stalled holds chunk 0
			rotateAway := func() {
				appendN(t, other, 100, 9) // many rotations; retention deletes chunk 0
				_, err := os.Stat(tp.chunkPath(0))
				require.ErrorIs(t, err, os.ErrNotExist, "chunk 0 should be deleted")
			}
			if tc.beforeWrite {
				stalled.testHookBeforeWrite = func() { stalled.testHookBeforeWrite = nil; rotateAway() }
			} else {
				stalled.testHookAfterWrite = func() { stalled.testHookAfterWrite = nil; rotateAway() }
			}
			_, err = stalled.Append([]byte(`{"i":"stalled"}`))
			require.NoError(t, err)
			c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			require.NoError(t, err)
			defer c.Close()
			recs := readToEnd(t, c, 0, 5*time.Second)
			copies := 0
			for _, r := range recs {
				if string(r.Value) == `{"i":"stalled"}` {
					copies++
				}
			}
			require.Equal(t, tc.wantCopies, copies)
		})
	}
}
