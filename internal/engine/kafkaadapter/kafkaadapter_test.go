package kafkaadapter_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit/enginetest"
	"github.com/kafka-lite/kafka-lite/internal/engine/kafkaadapter"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// These tests run against kfake, franz-go's in-process FAKE Kafka cluster:
// it speaks the Kafka protocol but is not Kafka (no real log segments, no
// fsync, its own config validation). They show that the adapter drives the
// Kafka protocol correctly; they say nothing about a real broker's
// durability. No real broker can be installed in this environment.

func startFake(t *testing.T) (url string, addrs []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	addrs = c.ListenAddrs()
	return "kafka://" + strings.Join(addrs, ","), addrs
}

// mustOpen opens a session whose init must succeed.
func mustOpen(t *testing.T, url string, init protocol.Request) *enginetest.Client {
	t.Helper()
	return enginetest.MustOpen(t, url, init, kafkaadapter.Impl)
}

func producer(dir string) protocol.Request {
	return protocol.Request{Dir: dir, Topic: "t", Client: "p1", Role: protocol.RoleProducer,
		Config: &protocol.Config{ChunkBytes: 1 << 20, Fsync: protocol.FsyncNever}}
}

func consumer(dir, group, start string) protocol.Request {
	return protocol.Request{Dir: dir, Topic: "t", Client: "c", Role: protocol.RoleConsumer,
		Group: group, Start: start, Config: &protocol.Config{ChunkBytes: 1 << 20, Fsync: protocol.FsyncNever}}
}

func values(prefix string, n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return v
}

func TestSessionEndToEndOnKfake(t *testing.T) {
	url, addrs := startFake(t)
	dir := t.TempDir()

	p := mustOpen(t, url, producer(dir))
	offs := append(p.Append(values("a", 5)...), p.Append("a-5")...)
	// Idempotent produce without transactions: dense offsets from 0.
	require.Equal(t, []int64{0, 1, 2, 3, 4, 5}, offs)

	// The topic has one partition and the mapped configs.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := kafkaadapter.TopicName(dir, "t")
	details, err := adm.ListTopics(context.Background(), topic)
	require.NoError(t, err)
	require.Len(t, details[topic].Partitions, 1)
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	require.NoError(t, err)
	rc, err := rcs.On(topic, nil)
	require.NoError(t, err)
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			got[c.Key] = *c.Value
		}
	}
	require.Equal(t, "1048576", got["segment.bytes"])
	require.Equal(t, "-1", got["retention.ms"])

	e := mustOpen(t, url, consumer(dir, "", protocol.StartEarliest))
	recs := e.PollN(6)
	for i, r := range recs {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, fmt.Sprintf("a-%d", i), r.Value)
	}
	start := time.Now()
	require.Empty(t, e.Poll(10, 300*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	rep := e.Ack(1)
	require.False(t, rep.OK)
	require.Equal(t, protocol.CodeInvalid, rep.Code)

	l := mustOpen(t, url, consumer(dir, "", protocol.StartLatest))
	go func() {
		time.Sleep(200 * time.Millisecond)
		p.Append("b-0")
	}()
	start = time.Now()
	recs = l.Poll(10, 5*time.Second)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, []protocol.Record{{Offset: 6, Value: "b-0"}}, recs)

	g := mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	require.Equal(t, int64(0), g.PollN(7)[0].Offset)
	require.True(t, g.Ack(2).OK)
	g.Close()

	// Kafka convention: the committed offset is ack+1.
	resps, err := adm.FetchOffsets(context.Background(), kafkaadapter.GroupName(dir, "g"))
	require.NoError(t, err)
	r, ok := resps.Lookup(topic, 0)
	require.True(t, ok)
	require.Equal(t, int64(3), r.At)

	g = mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	recs = g.PollN(4)
	require.Equal(t, int64(3), recs[0].Offset)
	require.True(t, g.Ack(4).OK)
	require.ErrorIs(t, g.S.Wait(5*time.Second), io.ErrUnexpectedEOF) // a crash, no close

	h := mustOpen(t, url, consumer(dir, "h", protocol.StartAcked))
	require.Equal(t, int64(0), h.PollN(7)[0].Offset)
	h.Close()

	g = mustOpen(t, url, consumer(dir, "g", protocol.StartAcked))
	recs = g.PollN(2)
	require.Equal(t, []int64{5, 6}, []int64{recs[0].Offset, recs[1].Offset})
	g.Close()

	p.Close()
	e.Close()
	l.Close()
}

func TestConfigMapping(t *testing.T) {
	m, err := kafkaadapter.TopicConfigs(&protocol.Config{ChunkBytes: 1 << 20, RetainChunks: 3, Fsync: protocol.FsyncAlways})
	require.NoError(t, err)
	require.Equal(t, "1048576", *m["segment.bytes"])
	require.Equal(t, "3145728", *m["retention.bytes"])
	require.Equal(t, "1", *m["flush.messages"])

	m, err = kafkaadapter.TopicConfigs(&protocol.Config{ChunkBytes: 1 << 20, RetainChunks: 3, RetainBytes: 1000, Fsync: protocol.FsyncInterval})
	require.NoError(t, err)
	require.Equal(t, "1000", *m["retention.bytes"])
	require.Equal(t, "100", *m["flush.ms"])

	m, err = kafkaadapter.TopicConfigs(&protocol.Config{ChunkRecords: 100})
	require.NoError(t, err) // record-sized chunks alone: nothing observable
	require.NotContains(t, m, "retention.bytes")

	_, err = kafkaadapter.TopicConfigs(&protocol.Config{ChunkRecords: 100, RetainChunks: 2})
	require.Equal(t, protocol.CodeUnsupported, protocol.CodeOf(err))
	_, err = kafkaadapter.TopicConfigs(&protocol.Config{ChunkBytes: -1})
	require.Equal(t, protocol.CodeInvalid, protocol.CodeOf(err))
	_, err = kafkaadapter.TopicConfigs(&protocol.Config{Fsync: "sometimes"})
	require.Equal(t, protocol.CodeInvalid, protocol.CodeOf(err))

	u, err := enginekit.ParseURL("kafka://a:9092,b:9092?replicas=3")
	require.NoError(t, err)
	o, err := kafkaadapter.ParseOptions(u)
	require.NoError(t, err)
	require.Equal(t, kafkaadapter.Options{Brokers: []string{"a:9092", "b:9092"}, Replicas: 3}, o)
	for _, bad := range []string{"kafka://", "kafka://a:1?replicas=x", "kafka://a:1?sync=always", "redis://a:1", "nats:/a"} {
		require.Error(t, engine.Check(bad), bad)
	}
	require.True(t, engine.IsURL("KAFKA://a:1"))
	require.False(t, engine.IsURL("./myimpl --flag"))
}

// FINDING: kfake stores any topic config at CreateTopics without
// validating it, flush.messages included, and never fsyncs; so fsync always
// "works" on kfake without meaning anything. A real broker validates the
// config and honours flush.messages=1.
func TestFsyncAlwaysOnKfakeIsAcceptedButMeaningless(t *testing.T) {
	url, addrs := startFake(t)
	dir := t.TempDir()
	req := producer(dir)
	req.Config.Fsync = protocol.FsyncAlways
	p := mustOpen(t, url, req)
	require.Equal(t, []int64{0}, p.Append("x"))
	p.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer cl.Close()
	topic := kafkaadapter.TopicName(dir, "t")
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(context.Background(), topic)
	require.NoError(t, err)
	rc, err := rcs.On(topic, nil)
	require.NoError(t, err)
	found := false
	for _, c := range rc.Configs {
		if c.Key == "flush.messages" && c.Value != nil && *c.Value == "1" {
			found = true
		}
	}
	require.True(t, found, "flush.messages=1 is stored on the topic")
}

// Retention. FINDING: kfake applies retention.bytes only when the test
// calls Cluster.ApplyRetention, and by record batch (it has no segments),
// while Kafka's log cleaner deletes whole closed segments on its own
// schedule (log.retention.check.interval.ms). So this shows the mapping is
// applied, not Kafka's timing.
func TestRetentionOnKfake(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	url := "kafka://" + strings.Join(fake.ListenAddrs(), ",")
	dir := t.TempDir()
	req := producer(dir)
	req.Config = &protocol.Config{ChunkBytes: 100, RetainChunks: 2} // retention.bytes 200
	p := mustOpen(t, url, req)
	for i := 0; i < 20; i++ {
		p.Append(fmt.Sprintf("v-%02d", i))
	}
	fake.ApplyRetention()
	c := mustOpen(t, url, protocol.Request{Dir: dir, Topic: "t", Client: "c", Role: protocol.RoleConsumer,
		Start: protocol.StartEarliest, Config: req.Config})
	var recs []protocol.Record
	for len(recs) == 0 || recs[len(recs)-1].Offset < 19 {
		got := c.Poll(100, 2*time.Second)
		require.NotEmpty(t, got)
		recs = append(recs, got...)
	}
	t.Logf("retention.bytes=200 after ApplyRetention: first offset kept %d of 0..19", recs[0].Offset)
	require.Positive(t, recs[0].Offset, "old batches were deleted")
	c.Close()
	p.Close()
}
