package ref

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A spinning consumer that watches the chunk through its mapping gets every
// record, in order, as records end anywhere in a page, on a page boundary,
// and across rotations.
func TestSpinWatchesEveryRecord(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{ChunkRecords: 300})
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: WaitSpin})
	require.NoError(t, err)
	defer c.Close()
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	const n = 1000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			// Sizes from 10 B to about 5 KiB, so record ends fall on
			// every part of a page, and some exactly on its boundary.
			v := fmt.Appendf(nil, `{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", (i*37)%5000))
			if _, err := p.Append(v); err != nil {
				done <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // let the consumer catch up and watch
			}
		}
		done <- nil
	}()
	recs := readAll(t, c, n, 30*time.Second)
	require.NoError(t, <-done)
	for i, r := range recs {
		require.Equal(t, int64(i), r.Offset)
		require.Contains(t, string(r.Value), fmt.Sprintf(`{"i":%d,`, i))
	}
	w := c.w.(*spinWaiter)
	require.False(t, w.noMap, "the waiter gave up its mapping")
}

// Should someone truncate the chunk under a watching consumer, the fault
// is caught: Poll returns normally and the waiter stops mapping.
func TestSpinSurvivesTruncatedChunk(t *testing.T) {
	tp := openTopic(t, t.TempDir(), Options{})
	p, err := tp.NewProducer()
	require.NoError(t, err)
	defer p.Close()
	appendN(t, p, 0, 3)
	c, err := tp.NewConsumer(ConsumerOptions{From: FromEarliest, Wait: WaitSpin})
	require.NoError(t, err)
	defer c.Close()
	readAll(t, c, 3, 5*time.Second)
	// One watch maps the chunk at the current end.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = c.Poll(ctx, 1)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	w := c.w.(*spinWaiter)
	require.NotNil(t, w.mem, "the spin waiter did not map the chunk")
	// Now the watched page lies wholly past the end of the file.
	require.NoError(t, os.Truncate(tp.chunkPath(c.chunk), 0))
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = c.Poll(ctx, 1)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, w.noMap, "the fault was not caught")
	require.Nil(t, w.mem)
}
