// Package kafkaadapter serves adapter protocol v1 over Apache Kafka (any
// broker speaking the Kafka protocol), so that kafka-lite scenarios and
// benchmarks run unchanged against a Kafka cluster.
//
// A kafka-lite topic is a Kafka topic with one partition (one total
// order); a record's offset is its Kafka offset. A group's ack is the
// group's committed offset, offset+1 by Kafka convention. Consumers read
// the partition directly and commit without joining the group, so no
// rebalance delays a start. docs/ENGINES.md lists every mapping and every
// semantic difference.
package kafkaadapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Impl is what init answers.
const Impl = "kafka (franz-go)"

// refFsyncInterval is the period of the reference log's fsync "interval"
// mode, used as flush.ms.
const refFsyncInterval = 100 * time.Millisecond

// opTimeout bounds every request to the cluster.
const opTimeout = 30 * time.Second

// Options are the settings taken from a kafka:// URL.
type Options struct {
	// Brokers are the seed brokers.
	Brokers []string
	// Replicas is the topic's replication factor (URL replicas); -1, the
	// default, lets the broker choose (default.replication.factor).
	Replicas int16
}

// ParseOptions reads Options from a parsed kafka:// URL.
func ParseOptions(u *enginekit.URL) (Options, error) {
	if u.Scheme != "kafka" {
		return Options{}, fmt.Errorf("kafkaadapter: scheme %q, want kafka", u.Scheme)
	}
	if err := u.CheckParams("replicas"); err != nil {
		return Options{}, err
	}
	o := Options{Brokers: u.Hosts, Replicas: -1}
	if s := u.Query.Get("replicas"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 32767 {
			return o, fmt.Errorf("kafka URL: replicas=%q: want a positive number", s)
		}
		o.Replicas = int16(n)
	}
	return o, nil
}

// Serve runs one protocol v1 client over the cluster of u until close or
// the end of in.
func Serve(ctx context.Context, u *enginekit.URL, in io.Reader, out io.Writer) error {
	o, err := ParseOptions(u)
	if err != nil {
		return err
	}
	return enginekit.ServeHandler(ctx, in, out, NewHandler(ctx, o))
}

// NewHandler returns a protocol.Handler for one client; ctx bounds its
// requests.
func NewHandler(ctx context.Context, o Options) protocol.Handler {
	return &handler{ctx: ctx, opts: o}
}

// TopicName returns the Kafka topic for a kafka-lite topic of the run whose
// init dir is dir: it carries a hash of dir so that runs sharing a cluster
// do not see each other's records.
func TopicName(dir, topic string) string {
	return "kl-" + enginekit.Escape(topic) + "-" + enginekit.RunID(dir)
}

// GroupName returns the Kafka consumer group for a kafka-lite group.
func GroupName(dir, group string) string {
	return "kl-" + enginekit.Escape(group) + "-" + enginekit.RunID(dir)
}

// TopicConfigs maps a protocol topic config to Kafka topic configs, or
// answers protocol.Unsupported / protocol.Invalid where no honest mapping
// exists. docs/ENGINES.md explains every line.
func TopicConfigs(c *protocol.Config) (map[string]*string, error) {
	str := func(v int64) *string { s := strconv.FormatInt(v, 10); return &s }
	m := map[string]*string{
		"cleanup.policy": new(string),
		"retention.ms":   str(-1), // kafka-lite has no time-based retention
	}
	*m["cleanup.policy"] = "delete"
	if c == nil {
		return m, nil
	}
	if c.ChunkRecords < 0 || c.ChunkBytes < 0 || c.RetainChunks < 0 || c.RetainBytes < 0 {
		return nil, protocol.Invalid("negative limit in config %+v", *c)
	}
	if c.ChunkBytes > 0 {
		if c.ChunkBytes > 1<<31-1 {
			return nil, protocol.Unsupported("chunk_bytes %d: over Kafka's segment.bytes maximum (an int32)", c.ChunkBytes)
		}
		m["segment.bytes"] = str(c.ChunkBytes)
	}
	retention := int64(-1)
	if c.RetainChunks > 0 {
		switch {
		case c.ChunkRecords > 0:
			return nil, protocol.Unsupported("retain_chunks with chunk_records: Kafka rolls segments by bytes or time, never by record count")
		case c.ChunkBytes > 0:
			retention = c.ChunkBytes * int64(c.RetainChunks)
		}
	}
	if c.RetainBytes > 0 && (retention < 0 || c.RetainBytes < retention) {
		retention = c.RetainBytes
	}
	if retention >= 0 {
		m["retention.bytes"] = str(retention)
	}
	switch c.Fsync {
	case "", protocol.FsyncNever:
	case protocol.FsyncAlways:
		m["flush.messages"] = str(1)
	case protocol.FsyncInterval:
		m["flush.ms"] = str(refFsyncInterval.Milliseconds())
	default:
		return nil, protocol.Invalid("fsync mode %q: want never, always or interval", c.Fsync)
	}
	return m, nil
}

// handler serves one client.
type handler struct {
	ctx  context.Context
	opts Options

	cl    *kgo.Client
	adm   *kadm.Client
	role  string
	topic string
	group string // Kafka group name, "" without a group
	last  int64  // highest offset returned by Poll, -1 before any
	recs  []*kgo.Record
}

func (h *handler) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, opTimeout)
}

func (h *handler) Init(req *protocol.Request) (string, error) {
	if err := protocol.CheckInit(req); err != nil {
		return "", err
	}
	configs, err := TopicConfigs(req.Config)
	if err != nil {
		return "", err
	}
	topic := TopicName(req.Dir, req.Topic)
	base := []kgo.Opt{
		kgo.SeedBrokers(h.opts.Brokers...),
		kgo.ClientID("kafka-lite-" + enginekit.Escape(req.Client)),
	}
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return "", fmt.Errorf("kafka client for %v: %w", h.opts.Brokers, err)
	}
	adm := kadm.NewClient(admin)
	defer adm.Close()
	ctx, cancel := h.opCtx()
	defer cancel()
	if err := h.createTopic(ctx, adm, topic, configs); err != nil {
		return "", err
	}
	h.topic, h.role, h.last = topic, req.Role, -1
	var opts []kgo.Opt
	if req.Role == protocol.RoleProducer {
		opts = []kgo.Opt{
			kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()), // the default, with idempotence
			kgo.ProducerLinger(0),
			kgo.RecordDeliveryTimeout(opTimeout),
		}
	} else {
		if req.Group != "" {
			h.group = GroupName(req.Dir, req.Group)
		}
		start, err := h.startOffset(ctx, adm, req.Start)
		if err != nil {
			return "", err
		}
		opts = []kgo.Opt{
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: start}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(100 * time.Millisecond),
		}
	}
	h.cl, err = kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return "", fmt.Errorf("kafka client for %v: %w", h.opts.Brokers, err)
	}
	h.adm = kadm.NewClient(h.cl)
	return Impl, nil
}

// createTopic creates topic with one partition, or checks that the
// existing one has exactly one.
func (h *handler) createTopic(ctx context.Context, adm *kadm.Client, topic string, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, 1, h.opts.Replicas, configs, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return fmt.Errorf("describe topic %s: %w", topic, err)
		}
		d, ok := details[topic]
		if !ok || d.Err != nil {
			return fmt.Errorf("describe topic %s: %v", topic, d.Err)
		}
		if n := len(d.Partitions); n != 1 {
			return protocol.Invalid("topic %s exists with %d partitions; kafka-lite needs exactly 1", topic, n)
		}
		return nil
	case errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.PolicyViolation),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidRequest):
		return protocol.Unsupported("the cluster refused topic %s with configs %s: %v %s", topic, show(configs), err, resp.ErrMessage)
	default:
		return fmt.Errorf("create topic %s: %w %s", topic, err, resp.ErrMessage)
	}
}

func show(m map[string]*string) string {
	s := ""
	for k, v := range m {
		if s != "" {
			s += ","
		}
		s += k + "=" + *v
	}
	return s
}

// startOffset resolves where a consumer starts, at init: acked = the
// group's committed offset (earliest without one), earliest = the log
// start, latest = the log end now.
func (h *handler) startOffset(ctx context.Context, adm *kadm.Client, start string) (kgo.Offset, error) {
	switch start {
	case protocol.StartEarliest:
		return kgo.NewOffset().AtStart(), nil
	case protocol.StartLatest:
		for {
			offs, err := adm.ListEndOffsets(ctx, h.topic)
			if err == nil {
				lo, ok := offs.Lookup(h.topic, 0)
				switch {
				case !ok:
					err = errors.New("partition 0 missing")
				case lo.Err != nil:
					err = lo.Err
				default:
					return kgo.NewOffset().At(lo.Offset), nil
				}
			}
			if !errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, kerr.LeaderNotAvailable) ||
				sleep(ctx, 100*time.Millisecond) != nil {
				return kgo.Offset{}, fmt.Errorf("end offset of %s: %w", h.topic, err)
			}
		}
	default: // acked
		resps, err := adm.FetchOffsets(ctx, h.group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			// Kafka answers an unknown group with no offsets; kfake
			// answers GROUP_ID_NOT_FOUND. Both mean: nothing committed.
			return kgo.NewOffset().AtStart(), nil
		}
		if err != nil {
			return kgo.Offset{}, fmt.Errorf("committed offset of group %s: %w", h.group, err)
		}
		r, ok := resps.Lookup(h.topic, 0)
		if ok && r.Err != nil {
			return kgo.Offset{}, fmt.Errorf("committed offset of group %s: %w", h.group, r.Err)
		}
		if !ok || r.At < 0 {
			return kgo.NewOffset().AtStart(), nil
		}
		return kgo.NewOffset().At(r.At), nil
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *handler) Append(values []string) ([]*int64, error) {
	if h.role != protocol.RoleProducer {
		return nil, protocol.Invalid("append needs role producer")
	}
	h.recs = h.recs[:0]
	for _, v := range values {
		h.recs = append(h.recs, &kgo.Record{Topic: h.topic, Partition: 0, Value: []byte(v)})
	}
	ctx, cancel := h.opCtx()
	defer cancel()
	res := h.cl.ProduceSync(ctx, h.recs...)
	offs := make([]*int64, len(values))
	var tooLarge, other []error
	for i, r := range res {
		switch {
		case r.Err == nil:
			offs[i] = protocol.Int64(r.Record.Offset)
		case errors.Is(r.Err, kerr.MessageTooLarge), errors.Is(r.Err, kerr.RecordListTooLarge):
			tooLarge = append(tooLarge, fmt.Errorf("value %d: %w", i, r.Err))
		default:
			other = append(other, fmt.Errorf("value %d: %w", i, r.Err))
		}
	}
	switch {
	case len(tooLarge) == len(values):
		return nil, protocol.Invalid("produce to %s: %v", h.topic, errors.Join(tooLarge...))
	case len(tooLarge)+len(other) > 0:
		// With retries and idempotence, a failed record may still be in
		// the log.
		return nil, enginekit.Indeterminate("produce to %s: %d of %d records failed: %v", h.topic,
			len(tooLarge)+len(other), len(values), errors.Join(append(tooLarge, other...)...))
	}
	if err := enginekit.CheckIncreasing(offs, "produce to "+h.topic); err != nil {
		return nil, err
	}
	return offs, nil
}

func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	if h.role != protocol.RoleConsumer {
		return nil, protocol.Invalid("poll needs role consumer")
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fetches := h.cl.PollRecords(pctx, max)
	if fetches.IsClientClosed() {
		return nil, fmt.Errorf("poll %s: client closed", h.topic)
	}
	var errs []error
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err))
		}
	})
	out := []protocol.Record{}
	fetches.EachRecord(func(r *kgo.Record) {
		if r.Offset <= h.last {
			return // never goes back, as kafka-lite's poll continues
		}
		h.last = r.Offset
		out = append(out, protocol.Record{Offset: r.Offset, Value: string(r.Value)})
	})
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("poll %s: %w", h.topic, errors.Join(errs...))
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("poll %s: %w", h.topic, ctx.Err())
	}
	return out, nil
}

func (h *handler) Ack(offset int64) error {
	if h.role != protocol.RoleConsumer {
		return protocol.Invalid("ack needs role consumer")
	}
	if h.group == "" {
		return protocol.Invalid("ack needs a group")
	}
	if offset < 0 {
		return protocol.Invalid("ack of negative offset %d", offset)
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: h.topic, Partition: 0, At: offset + 1, LeaderEpoch: -1})
	ctx, cancel := h.opCtx()
	defer cancel()
	resps, err := h.adm.CommitOffsets(ctx, h.group, os)
	if err != nil {
		return enginekit.Indeterminate("commit %d for group %s: %v", offset+1, h.group, err)
	}
	if err := resps.Error(); err != nil {
		return fmt.Errorf("commit %d for group %s: %w", offset+1, h.group, err)
	}
	return nil
}

func (h *handler) Close() error {
	if h.cl != nil {
		h.cl.Close()
		h.cl = nil
	}
	return nil
}
