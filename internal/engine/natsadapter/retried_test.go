package natsadapter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// TestRetried: a request whose attempt times out (a reply the cluster
// lost) or finds no responders is tried again until it succeeds; an
// error that is not the cluster settling is returned at once; and the
// retries end with ctx, with the last error.
func TestRetried(t *testing.T) {
	ctx := context.Background()
	calls := 0
	v, err := retried(ctx, func(actx context.Context) (int, error) {
		calls++
		if _, ok := actx.Deadline(); !ok {
			t.Error("an attempt without its own deadline")
		}
		switch calls {
		case 1:
			return 0, context.DeadlineExceeded
		case 2:
			return 0, nats.ErrNoResponders
		}
		return 42, nil
	})
	require.NoError(t, err)
	require.Equal(t, 42, v)
	require.Equal(t, 3, calls)

	calls = 0
	bad := errors.New("stream not found")
	_, err = retried(ctx, func(context.Context) (int, error) { calls++; return 0, bad })
	require.ErrorIs(t, err, bad)
	require.Equal(t, 1, calls)

	short, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = retried(short, func(context.Context) (int, error) { return 0, nats.ErrTimeout })
	require.ErrorIs(t, err, nats.ErrTimeout)
	require.Less(t, time.Since(start), 2*time.Second)
}
