package ref

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seekTo opens a consumer at off and returns the offset of the first record
// it delivers, and the problems it reported.
func seekTo(t *testing.T, tp *Topic, off int64, reset ResetPolicy) (int64, []Problem, error) {
	t.Helper()
	var probs []Problem
	c, err := tp.NewConsumer(ConsumerOptions{From: FromOffset, Offset: off, OffsetReset: reset,
		OnProblem: func(p Problem) { probs = append(probs, p) }})
	if err != nil {
		return 0, probs, err
	}
	defer c.Close()
	recs := readAll(t, c, 1, 5*time.Second)
	return recs[0].Offset, probs, nil
}

// Seeking finds the right chunk by number, and falls back to listing the
// directory where numbers alone could mislead it.
func TestSeekOffset(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 3})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 100) // chunks 0..33, 3 records each (33 holds 99)
	for _, off := range []int64{0, 1, 2, 3, 50, 51, 98, 99} {
		got, probs, err := seekTo(t, tp, off, ResetEarliest)
		require.NoError(t, err)
		require.Equal(t, off, got, "seek to %d", off)
		require.Empty(t, probs)
	}

	// A gap: chunk 16 (offsets 48..50) removed by hand, where the search
	// for the earliest chunk by number looks first and so takes chunk 17
	// for the earliest. Offsets before the gap are still found.
	require.NoError(t, os.Remove(tp.chunkPath(16)))
	for _, off := range []int64{0, 4, 47, 51, 60} {
		got, _, err := seekTo(t, tp, off, ResetEarliest)
		require.NoError(t, err)
		require.Equal(t, off, got, "seek to %d with chunk 16 gone", off)
	}

	// Retention's work: the oldest chunks gone. An offset in them resets to
	// the earliest kept (or fails under ResetError); later ones are found.
	for n := uint64(0); n < 10; n++ {
		os.Remove(tp.chunkPath(n))
	}
	got, probs, err := seekTo(t, tp, 7, ResetEarliest)
	require.NoError(t, err)
	require.Equal(t, int64(30), got)
	require.Len(t, probs, 1)
	require.Equal(t, ProblemReset, probs[0].Kind)
	_, _, err = seekTo(t, tp, 7, ResetError)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	got, _, err = seekTo(t, tp, 31, ResetEarliest)
	require.NoError(t, err)
	require.Equal(t, int64(31), got)
}

// Seeking over thousands of chunks does not list the directory: the scale
// section of klbench measures the time; this only checks the answer.
func TestSeekOffsetManyChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3000 chunks")
	}
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 1})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 3000)
	for _, off := range []int64{0, 1, 1499, 2998, 2999} {
		got, _, err := seekTo(t, tp, off, ResetEarliest)
		require.NoError(t, err)
		require.Equal(t, off, got, fmt.Sprintf("seek to %d", off))
	}
}
