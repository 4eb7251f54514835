package natsadapter_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit/enginetest"
	"github.com/kafka-lite/kafka-lite/internal/engine/natsadapter"
	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// These tests run a real NATS server with JetStream (embedded, file
// storage in a temp dir, a random port on 127.0.0.1): no mocks.

func startServer(t *testing.T) string {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL() // nats://127.0.0.1:PORT
}

// mustOpen opens a session whose init must succeed.
func mustOpen(t *testing.T, url string, init protocol.Request) *enginetest.Client {
	t.Helper()
	return enginetest.MustOpen(t, url, init, natsadapter.Impl)
}

func producer(dir string) protocol.Request {
	return protocol.Request{Dir: dir, Topic: "t", Client: "p1", Role: protocol.RoleProducer,
		Config: &protocol.Config{ChunkRecords: 1000, Fsync: protocol.FsyncNever}}
}

func consumer(dir, group, start string) protocol.Request {
	return protocol.Request{Dir: dir, Topic: "t", Client: "c-" + group + "-" + start, Role: protocol.RoleConsumer,
		Group: group, Start: start, Config: &protocol.Config{ChunkRecords: 1000, Fsync: protocol.FsyncNever}}
}

func values(prefix string, n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return v
}

func TestSessionEndToEnd(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()

	p := mustOpen(t, url, producer(dir))
	offs := append(p.Append(values("a", 5)...), p.Append("a-5")...)
	// Offsets are the stream sequences: dense from 1.
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, offs)

	// The stream holds them with exactly those sequences.
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, subject, _ := natsadapter.Names(dir, "t", "")
	s, err := js.Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.FirstSeq)
	require.Equal(t, uint64(6), info.State.LastSeq)
	require.Equal(t, []string{subject}, info.Config.Subjects)
	require.Equal(t, jetstream.FileStorage, info.Config.Storage)
	require.Equal(t, 1, info.Config.Replicas)
	m, err := s.GetMsg(context.Background(), 4)
	require.NoError(t, err)
	require.Equal(t, "a-3", string(m.Data))

	// Earliest, no group: everything in order, then [] at the timeout.
	e := mustOpen(t, url, consumer(dir, "", protocol.StartEarliest))
	recs := e.PollN(6)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Offset)
		require.Equal(t, fmt.Sprintf("a-%d", i), r.Value)
	}
	start := time.Now()
	require.Empty(t, e.Poll(10, 300*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	// Ack without a group is invalid.
	rep := e.Ack(1)
	require.False(t, rep.OK)
	require.Equal(t, protocol.CodeInvalid, rep.Code)

	// Latest: only what comes after init; a waiting poll returns as soon
	// as one record is there.
	l := mustOpen(t, url, consumer(dir, "", protocol.StartLatest))
	go func() {
		time.Sleep(200 * time.Millisecond)
		p.Append("b-0")
	}()
	start = time.Now()
	recs = l.Poll(10, 5*time.Second)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, []protocol.Record{{Offset: 7, Value: "b-0"}}, recs)
	e.PollN(1)

	// Group g, start acked, first time: from the beginning.
	g := mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	recs = g.PollN(7)
	require.Equal(t, int64(1), recs[0].Offset)
	require.True(t, g.Ack(3).OK)
	// An offset that was not delivered cannot be acked (AckAll needs the
	// message).
	rep = g.Ack(99)
	require.False(t, rep.OK)
	require.Equal(t, protocol.CodeInvalid, rep.Code)
	g.Close()

	// Restart: resumes after the last ack, although 4..7 were delivered.
	g = mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	recs = g.PollN(4)
	require.Equal(t, int64(4), recs[0].Offset)
	require.Equal(t, int64(7), recs[3].Offset)
	require.True(t, g.Ack(5).OK)
	require.True(t, g.Ack(4).OK) // below the floor: a no-op under AckAll
	g.Close()

	// A second group is independent: it starts from the beginning.
	h := mustOpen(t, url, consumer(dir, "h", protocol.StartAcked))
	recs = h.PollN(7)
	require.Equal(t, int64(1), recs[0].Offset)
	h.Close()

	g = mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	recs = g.PollN(2)
	require.Equal(t, []int64{6, 7}, []int64{recs[0].Offset, recs[1].Offset})
	g.Close()

	// A group started at latest then acks: acked resumes after that ack.
	gl := mustOpen(t, url, consumer(dir, "gl", protocol.StartLatest))
	p.Append("c-0", "c-1")
	recs = gl.PollN(2)
	require.Equal(t, int64(8), recs[0].Offset)
	require.True(t, gl.Ack(8).OK)
	gl.Close()
	gl = mustOpen(t, url, consumer(dir, "gl", protocol.StartAcked))
	require.Equal(t, int64(9), gl.PollN(1)[0].Offset)
	gl.Close()

	p.Close()
	e.Close()
	l.Close()
}

// A consumer that dies (its stdin ends without close) after acking: the
// group resumes at once after the ack, not after AckWait.
func TestConsumerCrashResumesAtAck(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()
	p := mustOpen(t, url, producer(dir))
	p.Append(values("v", 50)...)

	c := mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	c.PollN(50)
	require.True(t, c.Ack(20).OK)
	require.ErrorIs(t, c.S.Wait(5*time.Second), io.ErrUnexpectedEOF) // no close: a crash

	c = mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	start := time.Now()
	recs := c.PollN(30)
	require.Less(t, time.Since(start), 5*time.Second)
	for i, r := range recs {
		require.Equal(t, int64(21+i), r.Offset)
	}
	c.Close()
	p.Close()
}

// JetStream redelivers what was delivered but not acked once AckWait
// passes; the adapter drops those redeliveries, so poll never goes back.
func TestRedeliveryAfterAckWaitIsHidden(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()
	p := mustOpen(t, url, producer(dir))
	p.Append(values("v", 3)...)

	c := mustOpen(t, url+"?ack_wait=300ms", consumer(dir, "g", protocol.StartAcked))
	recs := c.PollN(3)
	require.Equal(t, int64(3), recs[2].Offset)
	time.Sleep(1200 * time.Millisecond) // redeliveries happen meanwhile
	require.Empty(t, c.Poll(10, 300*time.Millisecond))
	p.Append("w")
	require.Equal(t, []protocol.Record{{Offset: 4, Value: "w"}}, c.PollN(1))

	// The raw consumer state shows the redeliveries.
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, _, durable := natsadapter.Names(dir, "t", "g")
	cons, err := js.Consumer(context.Background(), stream, durable)
	require.NoError(t, err)
	info, err := cons.Info(context.Background())
	require.NoError(t, err)
	require.Positive(t, info.NumRedelivered, "JetStream redelivered unacked messages after AckWait")
	require.True(t, c.Ack(4).OK)
	c.Close()
	p.Close()
}

func TestConfigMapping(t *testing.T) {
	o := natsadapter.Options{Replicas: 1}
	sc, err := natsadapter.StreamConfig("S", "kl.s", &protocol.Config{ChunkRecords: 100, RetainChunks: 4}, o)
	require.NoError(t, err)
	require.Equal(t, int64(400), sc.MaxMsgs)
	require.Equal(t, int64(-1), sc.MaxBytes)
	require.Equal(t, jetstream.DiscardOld, sc.Discard)

	sc, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{ChunkBytes: 1 << 20, RetainChunks: 3, RetainBytes: 2 << 20}, o)
	require.NoError(t, err)
	require.Equal(t, int64(-1), sc.MaxMsgs)
	require.Equal(t, int64(2<<20), sc.MaxBytes)

	sc, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{ChunkRecords: 100}, o)
	require.NoError(t, err) // chunk size alone: no equivalent, nothing observable
	require.Equal(t, int64(-1), sc.MaxMsgs)

	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{Fsync: protocol.FsyncAlways}, o)
	require.Equal(t, protocol.CodeUnsupported, protocol.CodeOf(err))
	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{Fsync: protocol.FsyncInterval}, o)
	require.Equal(t, protocol.CodeUnsupported, protocol.CodeOf(err))
	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{Fsync: protocol.FsyncAlways}, natsadapter.Options{SyncAlways: true})
	require.NoError(t, err)
	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{Fsync: protocol.FsyncInterval}, natsadapter.Options{SyncInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{Fsync: "sometimes"}, o)
	require.Equal(t, protocol.CodeInvalid, protocol.CodeOf(err))
	_, err = natsadapter.StreamConfig("S", "kl.s", &protocol.Config{RetainChunks: -1}, o)
	require.Equal(t, protocol.CodeInvalid, protocol.CodeOf(err))

	u, err := enginekit.ParseURL("nats://a:1,b:2?replicas=3&sync=always&ack_wait=1m")
	require.NoError(t, err)
	po, err := natsadapter.ParseOptions(u)
	require.NoError(t, err)
	require.Equal(t, natsadapter.Options{Servers: "nats://a:1,nats://b:2", Replicas: 3, SyncAlways: true, AckWait: time.Minute}, po)
	for _, bad := range []string{"nats://a:1?replicas=0", "nats://a:1?sync=x", "nats://a:1?color=red", "nats://a:1?ack_wait=-1s"} {
		require.Error(t, engine.Check(bad), bad)
	}
}

// Over a real server: retention by chunk_records × retain_chunks, and
// fsync always answered unsupported unless the URL vouches for the server.
func TestConfigOverServer(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()
	req := producer(dir)
	req.Config = &protocol.Config{ChunkRecords: 10, RetainChunks: 2}
	p := mustOpen(t, url, req)
	p.Append(values("v", 50)...)
	c := mustOpen(t, url, protocol.Request{Dir: dir, Topic: "t", Client: "c", Role: protocol.RoleConsumer,
		Start: protocol.StartEarliest, Config: req.Config})
	recs := c.PollN(20)
	require.Equal(t, int64(31), recs[0].Offset) // the oldest 30 were discarded
	c.Close()
	p.Close()

	req = producer(t.TempDir())
	req.Config.Fsync = protocol.FsyncAlways
	_, rep := enginetest.Open(t, url, req)
	require.False(t, rep.OK)
	require.Equal(t, protocol.CodeUnsupported, rep.Code)

	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir(), SyncAlways: true})
	require.NoError(t, err)
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	p = mustOpen(t, s.ClientURL()+"?sync=always", req)
	require.Equal(t, []int64{1}, p.Append("x"))
	p.Close()
}

// Runs of different dirs on one server do not share records.
func TestRunsAreIsolated(t *testing.T) {
	url := startServer(t)
	d1, d2 := t.TempDir(), t.TempDir()
	mustOpen(t, url, producer(d1)).Append("one")
	c := mustOpen(t, url, consumer(d2, "", protocol.StartEarliest))
	require.Empty(t, c.Poll(10, 300*time.Millisecond))
	c.Close()
}
