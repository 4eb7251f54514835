package ref

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func openTopic(t testing.TB, dir string, o Options) *Topic {
	t.Helper()
	tp, err := Open(dir, "t", o)
	require.NoError(t, err)
	t.Cleanup(func() { tp.Close() })
	return tp
}

// readAll polls c until it has n records or the timeout passes; values are
// copied.
func readAll(t testing.TB, c *Consumer, n int, timeout time.Duration) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []Record
	for len(out) < n {
		recs, err := c.Poll(ctx, n-len(out))
		if err != nil {
			require.FailNowf(t, "poll", "after %d of %d records: %v", len(out), n, err)
		}
		for _, r := range recs {
			r.Value = append([]byte(nil), r.Value...)
			out = append(out, r)
		}
	}
	return out
}

func TestProduceConsumeAcrossChunks(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		n    int
	}{
		{"one chunk", Options{}, 100},
		{"chunk per 7 records", Options{ChunkRecords: 7}, 100},
		{"chunk per 500 bytes", Options{ChunkBytes: 500}, 100},
		{"fsync always", Options{ChunkRecords: 10, Fsync: FsyncAlways}, 30},
		{"fsync interval", Options{ChunkRecords: 10, Fsync: FsyncInterval, FsyncInterval: time.Millisecond}, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := openTopic(t, t.TempDir(), tc.o)
			p, err := tp.NewProducer()
			require.NoError(t, err)
			for i := range tc.n {
				off, err := p.Append(fmt.Appendf(nil, `{"i":%d}`, i))
				require.NoError(t, err)
				require.Equal(t, NoOffset, off)
			}
			require.NoError(t, p.Close())
			c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest})
			require.NoError(t, err)
			defer c.Close()
			recs := readAll(t, c, tc.n, 5*time.Second)
			for i, r := range recs {
				require.Equal(t, int64(i), r.Offset)
				require.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(r.Value))
				require.NotZero(t, r.Time)
			}
			if tc.o.ChunkRecords > 0 {
				chunks, err := tp.chunks()
				require.NoError(t, err)
				require.GreaterOrEqual(t, len(chunks), tc.n/tc.o.ChunkRecords)
			}
			// A reader starting at an offset in the middle agrees.
			c2, err := tp.NewConsumer(ConsumerOptions{From: FromOffset, Offset: int64(tc.n / 2)})
			require.NoError(t, err)
			defer c2.Close()
			recs2 := readAll(t, c2, tc.n-tc.n/2, 5*time.Second)
			require.Equal(t, recs[tc.n/2:], recs2)
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", "..", ".", "a/b", "../x", "x y", "a\x00"} {
		_, err := Open(dir, name, Options{})
		require.ErrorIs(t, err, ErrBadName, "topic %q", name)
	}
	tp := openTopic(t, dir, Options{MaxRecordSize: 100})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Append(make([]byte, 101))
	require.ErrorIs(t, err, ErrRecordTooLarge)
	_, err = p.Append([]byte("\"a\nb\""))
	require.ErrorIs(t, err, ErrBadPayload)
	_, err = p.Append([]byte("\"a\x1eb\""))
	require.ErrorIs(t, err, ErrBadPayload)
	_, err = p.Append(nil)
	require.ErrorIs(t, err, ErrBadPayload)
	_, err = tp.NewConsumer(ConsumerOptions{Group: "../etc"})
	require.ErrorIs(t, err, ErrBadName)
	_, err = tp.NewConsumer(ConsumerOptions{From: FromAcked})
	require.Error(t, err)
	_, err = Open(dir, "u", Options{Fsync: "sometimes"})
	require.Error(t, err)
}

// TestConcurrentClose closes interval-syncing producers from two
// goroutines at once: Close is safe for concurrent use, as the type says.
// It used to close a channel twice, and panic, about once in 2000 tries.
func TestConcurrentClose(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{Fsync: FsyncInterval, FsyncInterval: time.Millisecond})
	for range 2000 {
		p, err := tp.NewProducer()
		require.NoError(t, err)
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- p.Close() }()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
	}
}

// TestAppendAt checks that a record keeps the time it is given, with a
// time before 1970 stored as 0, among records stamped by the clock; and
// that records of one time share their fixed fields without sharing
// their CRCs.
func TestAppendAt(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 3})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	before := time.Now().UnixNano()
	times := []int64{42, 42, 42, -5, 1796297166905693471, 0}
	for i, ts := range times {
		_, err := p.AppendAt(ts, fmt.Appendf(nil, `"value %d, long enough for the vector steps"`, i))
		require.NoError(t, err)
	}
	_, err = p.Append([]byte(`"clock"`))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: WaitPoll})
	require.NoError(t, err)
	defer c.Close()
	recs := readAll(t, c, len(times)+1, 5*time.Second)
	for i, ts := range times {
		require.Equal(t, max(ts, 0), recs[i].Time, "record %d", i)
		require.Equal(t, fmt.Sprintf(`"value %d, long enough for the vector steps"`, i), string(recs[i].Value))
	}
	last := recs[len(times)].Time
	require.True(t, last >= before && last <= time.Now().UnixNano(), "clock time %d", last)
}
