package refadapter

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// client runs Serve in a goroutine and returns a Conn to it.
func client(t *testing.T) (*protocol.Conn, chan error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), inR, outW, "")
		outW.Close()
		done <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return protocol.NewConn(inW, outR, protocol.MaxLine), done
}

func call(t *testing.T, c *protocol.Conn, req protocol.Request) *protocol.Reply {
	t.Helper()
	rep, err := c.Call(context.Background(), &req, 10*time.Second)
	require.NoError(t, err)
	return rep
}

func TestSession(t *testing.T) {
	dir := t.TempDir()
	cfg := &protocol.Config{ChunkRecords: 2, Fsync: "never"}
	p, pdone := client(t)
	rep := call(t, p, protocol.Request{Op: "init", Dir: dir, Topic: "t", Client: "p1", Role: "producer", Config: cfg})
	require.True(t, rep.OK, rep.Error)
	require.Equal(t, Impl, rep.Impl)
	rep = call(t, p, protocol.Request{Op: "append", Values: []string{"a", "b", "c\"quoted\"\n"}})
	require.True(t, rep.OK, rep.Error)
	require.Nil(t, rep.Offsets)

	c, cdone := client(t)
	require.True(t, call(t, c, protocol.Request{Op: "init", Dir: dir, Topic: "t", Client: "c1", Role: "consumer", Group: "g", Start: "acked", Config: cfg}).OK)
	rep = call(t, c, protocol.Request{Op: "poll", Max: 2, TimeoutMS: 1000})
	require.True(t, rep.OK, rep.Error)
	require.Equal(t, []protocol.Record{{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}}, rep.Records)
	require.True(t, call(t, c, protocol.Request{Op: "ack", Offset: protocol.Int64(1)}).OK)
	require.True(t, call(t, c, protocol.Request{Op: "close"}).OK)
	require.NoError(t, <-cdone)

	c, _ = client(t)
	require.True(t, call(t, c, protocol.Request{Op: "init", Dir: dir, Topic: "t", Client: "c1", Role: "consumer", Group: "g", Start: "acked", Config: cfg}).OK)
	rep = call(t, c, protocol.Request{Op: "poll", Max: 10, TimeoutMS: 1000})
	require.Equal(t, []protocol.Record{{Offset: 2, Value: "c\"quoted\"\n"}}, rep.Records)
	rep = call(t, c, protocol.Request{Op: "poll", Max: 10, TimeoutMS: 50})
	require.True(t, rep.OK)
	require.NotNil(t, rep.Records)
	require.Empty(t, rep.Records)

	require.True(t, call(t, p, protocol.Request{Op: "close"}).OK)
	require.NoError(t, <-pdone)
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		req  protocol.Request
		code string
	}{
		{"relative dir", protocol.Request{Op: "init", Dir: "rel", Topic: "t", Role: "producer"}, protocol.CodeInvalid},
		{"bad topic", protocol.Request{Op: "init", Dir: dir, Topic: "../x", Role: "producer"}, protocol.CodeInvalid},
		{"bad role", protocol.Request{Op: "init", Dir: dir, Topic: "t", Role: "boss"}, protocol.CodeInvalid},
		{"acked without group", protocol.Request{Op: "init", Dir: dir, Topic: "t", Role: "consumer", Start: "acked"}, protocol.CodeInvalid},
		{"bad fsync", protocol.Request{Op: "init", Dir: dir, Topic: "t", Role: "producer", Config: &protocol.Config{Fsync: "sometimes"}}, protocol.CodeInvalid},
		{"poll before init", protocol.Request{Op: "poll", Max: 1}, protocol.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := client(t)
			rep := call(t, c, tc.req)
			require.False(t, rep.OK)
			require.Equal(t, tc.code, rep.Code, rep.Error)
		})
	}
}
