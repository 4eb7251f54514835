// Package enginetest drives a built-in engine adapter through whole
// protocol v1 sessions in tests, over engine.Serve and a pipe: the client
// helpers that the NATS and Kafka adapter tests share. Every helper fails
// the test on an error or a refused request.
package enginetest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Client is one protocol session with the adapter for an engine URL.
type Client struct {
	t testing.TB
	// S is the session, for what the helpers do not cover (a crash
	// without close: S.Wait).
	S *enginekit.Session
}

// Open starts a session for url and sends init (its Op is set here); it
// returns the init reply, whatever it says.
func Open(t testing.TB, url string, init protocol.Request) (*Client, protocol.Reply) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := enginekit.StartSession(ctx, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return engine.Serve(ctx, url, in, out)
	})
	init.Op = protocol.OpInit
	rep, err := s.Do(init)
	require.NoError(t, err)
	return &Client{t: t, S: s}, rep
}

// MustOpen is Open for an init that must succeed with implementation
// name impl.
func MustOpen(t testing.TB, url string, init protocol.Request, impl string) *Client {
	t.Helper()
	c, rep := Open(t, url, init)
	require.True(t, rep.OK, "init: %+v", rep)
	require.Equal(t, impl, rep.Impl)
	return c
}

// Append appends values and returns their offsets, which must be known.
func (c *Client) Append(values ...string) []int64 {
	c.t.Helper()
	rep, err := c.S.Do(protocol.Request{Op: protocol.OpAppend, Values: values})
	require.NoError(c.t, err)
	require.True(c.t, rep.OK, "append: %+v", rep)
	require.Len(c.t, rep.Offsets, len(values))
	offs := make([]int64, len(values))
	for i, o := range rep.Offsets {
		require.NotNil(c.t, o)
		offs[i] = *o
	}
	return offs
}

// Poll polls once.
func (c *Client) Poll(max int, timeout time.Duration) []protocol.Record {
	c.t.Helper()
	rep, err := c.S.Do(protocol.Request{Op: protocol.OpPoll, Max: max, TimeoutMS: int(timeout.Milliseconds())})
	require.NoError(c.t, err)
	require.True(c.t, rep.OK, "poll: %+v", rep)
	return rep.Records
}

// PollN polls until n records came (within 10 s), or fails.
func (c *Client) PollN(n int) []protocol.Record {
	c.t.Helper()
	var out []protocol.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, c.Poll(n-len(out), 500*time.Millisecond)...)
	}
	require.Len(c.t, out, n)
	return out
}

// Ack acks off and returns the reply, whatever it says.
func (c *Client) Ack(off int64) protocol.Reply {
	c.t.Helper()
	rep, err := c.S.Do(protocol.Request{Op: protocol.OpAck, Offset: protocol.Int64(off)})
	require.NoError(c.t, err)
	return rep
}

// Close closes the session cleanly and waits for the adapter to end.
func (c *Client) Close() {
	c.t.Helper()
	rep, err := c.S.Do(protocol.Request{Op: protocol.OpClose})
	require.NoError(c.t, err)
	require.True(c.t, rep.OK, "close: %+v", rep)
	require.NoError(c.t, c.S.Wait(5*time.Second))
}
