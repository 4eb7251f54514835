package enginekit_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

type stub struct{ closed bool }

func (s *stub) Init(*protocol.Request) (string, error) { return "stub", nil }
func (s *stub) Append(v []string) ([]*int64, error) {
	if v[0] == "lost" {
		return nil, enginekit.Indeterminate("ack timed out")
	}
	return nil, protocol.Invalid("refused")
}
func (s *stub) Poll(context.Context, int, time.Duration) ([]protocol.Record, error) { return nil, nil }
func (s *stub) Ack(int64) error                                                     { return nil }
func (s *stub) Close() error                                                        { s.closed = true; return nil }

// An indeterminate outcome is never answered: the session ends with the
// error, as a client that died; a definite failure is answered.
func TestIndeterminateIsNotAnswered(t *testing.T) {
	h := &stub{}
	s := enginekit.StartSession(context.Background(), func(ctx context.Context, in io.Reader, out io.Writer) error {
		return enginekit.ServeHandler(ctx, in, out, h)
	})
	rep, err := s.Do(protocol.Request{Op: protocol.OpInit})
	require.NoError(t, err)
	require.True(t, rep.OK)
	rep, err = s.Do(protocol.Request{Op: protocol.OpAppend, Values: []string{"x"}})
	require.NoError(t, err)
	require.Equal(t, protocol.CodeInvalid, rep.Code)
	_, err = s.Do(protocol.Request{Op: protocol.OpAppend, Values: []string{"lost"}})
	require.Error(t, err) // no reply line
	require.ErrorIs(t, s.Wait(5*time.Second), enginekit.ErrIndeterminate)
	require.True(t, h.closed)
}

func TestParseURLAndNames(t *testing.T) {
	u, err := enginekit.ParseURL("Kafka://a:1, b:2/?replicas=3")
	require.NoError(t, err)
	require.Equal(t, "kafka", u.Scheme)
	require.Equal(t, []string{"a:1", "b:2"}, u.Hosts)
	require.Equal(t, "3", u.Query.Get("replicas"))
	require.Error(t, u.CheckParams("sync"))
	for _, bad := range []string{"a:1", "nats://", "nats://u@a:1", "nats://a:1?%zz", "nats://:x", "nats://a:x", "nats://a", "nats://:4222", "nats://a:0", "nats://a:70000", "nats://a b:1", "nats://a:1,b"} {
		_, err := enginekit.ParseURL(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "my-topic_2ev1", enginekit.Escape("my-topic.v1"))
	require.NotEqual(t, enginekit.Escape("a.b"), enginekit.Escape("a_2eb"))
	require.Len(t, enginekit.RunID("/tmp/x"), 8)
	require.NotEqual(t, enginekit.RunID("/tmp/x"), enginekit.RunID("/tmp/y"))
}

func TestCheckIncreasing(t *testing.T) {
	one, two := int64(1), int64(2)
	if err := enginekit.CheckIncreasing([]*int64{&one, &two}, "x"); err != nil {
		t.Fatal(err)
	}
	for _, offs := range [][]*int64{{&two, &one}, {&one, &one}} {
		if err := enginekit.CheckIncreasing(offs, "x"); !errors.Is(err, enginekit.ErrIndeterminate) {
			t.Fatalf("%v: got %v, want an indeterminate error", offs, err)
		}
	}
}
