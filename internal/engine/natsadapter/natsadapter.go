// Package natsadapter serves adapter protocol v1 over NATS JetStream, so
// that kafka-lite scenarios and benchmarks run unchanged against a NATS
// server or cluster.
//
// A kafka-lite topic is one JetStream stream with one subject; a record's
// offset is its stream sequence. A consumer group is a durable pull
// consumer with AckPolicy "all"; docs/ENGINES.md lists every mapping and
// every semantic difference.
package natsadapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Impl is what init answers.
const Impl = "nats-jetstream (nats.go " + nats.Version + ")"

// DefaultAckWait is the AckWait of the group consumers the adapter creates
// unless the URL sets ack_wait. It is long because a kafka-lite ack is a
// position, not a per-message deadline; see docs/ENGINES.md.
const DefaultAckWait = 5 * time.Minute

// refFsyncInterval is the period of the reference log's fsync "interval"
// mode; a server that syncs at least this often honours it.
const refFsyncInterval = 100 * time.Millisecond

// opTimeout bounds every request to the server.
const opTimeout = 30 * time.Second

// initBound bounds an init: stream creation (createBound of it),
// then the consumer's requests, each retried.
const initBound = 26 * time.Second

// Options are the settings taken from a nats:// URL.
type Options struct {
	// Servers is the comma-separated server list for nats.Connect.
	Servers string
	// Replicas is the stream's replica count (URL replicas, default 1).
	Replicas int
	// SyncAlways says that the server runs with sync_interval: always (URL
	// sync=always); the client cannot see that setting, so the user vouches
	// for it.
	SyncAlways bool
	// SyncInterval is the server's sync_interval as the user declares it
	// (URL sync=DURATION); 0 means JetStream's default, 2 minutes.
	SyncInterval time.Duration
	// AckWait is the AckWait of group consumers (URL ack_wait, default
	// DefaultAckWait).
	AckWait time.Duration
}

// ParseOptions reads Options from a parsed nats:// URL.
func ParseOptions(u *enginekit.URL) (Options, error) {
	if u.Scheme != "nats" {
		return Options{}, fmt.Errorf("natsadapter: scheme %q, want nats", u.Scheme)
	}
	if err := u.CheckParams("replicas", "sync", "ack_wait"); err != nil {
		return Options{}, err
	}
	o := Options{Replicas: 1, AckWait: DefaultAckWait}
	servers := make([]string, len(u.Hosts))
	for i, h := range u.Hosts {
		servers[i] = "nats://" + h
	}
	o.Servers = strings.Join(servers, ",")
	if s := u.Query.Get("replicas"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5 {
			return o, fmt.Errorf("nats URL: replicas=%q: want 1 to 5", s)
		}
		o.Replicas = n
	}
	switch s := u.Query.Get("sync"); s {
	case "":
	case "always":
		o.SyncAlways = true
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("nats URL: sync=%q: want always or a positive duration", s)
		}
		o.SyncInterval = d
	}
	if s := u.Query.Get("ack_wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("nats URL: ack_wait=%q: want a positive duration", s)
		}
		o.AckWait = d
	}
	return o, nil
}

// Serve runs one protocol v1 client over the JetStream server(s) of u
// until close or the end of in.
func Serve(ctx context.Context, u *enginekit.URL, in io.Reader, out io.Writer) error {
	o, err := ParseOptions(u)
	if err != nil {
		return err
	}
	return enginekit.ServeHandler(ctx, in, out, NewHandler(ctx, o))
}

// NewHandler returns a protocol.Handler for one client; ctx bounds its
// background work.
func NewHandler(ctx context.Context, o Options) protocol.Handler {
	return &handler{ctx: ctx, opts: o}
}

// Names returns the stream, subject and durable consumer names for a topic
// and group of the run whose init dir is dir. The stream name carries a
// hash of dir so that runs sharing a server do not see each other's
// records.
func Names(dir, topic, group string) (stream, subject, durable string) {
	t := enginekit.Escape(topic)
	id := enginekit.RunID(dir)
	stream = "KL_" + t + "_" + id
	subject = "kl." + t + "." + id
	if group != "" {
		durable = "kl-" + enginekit.Escape(group)
	}
	return stream, subject, durable
}

// StreamConfig maps a protocol topic config to a JetStream stream config,
// or answers protocol.Unsupported / protocol.Invalid where no honest
// mapping exists. docs/ENGINES.md explains every line.
func StreamConfig(name, subject string, c *protocol.Config, o Options) (jetstream.StreamConfig, error) {
	sc := jetstream.StreamConfig{
		Name:      name,
		Subjects:  []string{subject},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		Replicas:  o.Replicas,
		MaxMsgs:   -1,
		MaxBytes:  -1,
	}
	if c == nil {
		return sc, nil
	}
	if c.ChunkRecords < 0 || c.ChunkBytes < 0 || c.RetainChunks < 0 || c.RetainBytes < 0 {
		return sc, protocol.Invalid("negative limit in config %+v", *c)
	}
	// Chunks: a stream has no segment size a client can set (the file
	// store's block size is a server internal), so chunk_records and
	// chunk_bytes only matter through retention.
	if c.RetainChunks > 0 {
		if c.ChunkRecords > 0 {
			sc.MaxMsgs = int64(c.ChunkRecords) * int64(c.RetainChunks)
		}
		if c.ChunkBytes > 0 {
			sc.MaxBytes = c.ChunkBytes * int64(c.RetainChunks)
		}
	}
	if c.RetainBytes > 0 && (sc.MaxBytes < 0 || c.RetainBytes < sc.MaxBytes) {
		sc.MaxBytes = c.RetainBytes
	}
	switch c.Fsync {
	case "", protocol.FsyncNever:
	case protocol.FsyncAlways:
		if !o.SyncAlways {
			return sc, protocol.Unsupported("fsync always: JetStream syncs per server (sync_interval), not per stream; " +
				"run the server with sync_interval: always (klnats --sync always) and add ?sync=always to the URL")
		}
	case protocol.FsyncInterval:
		if !o.SyncAlways && (o.SyncInterval <= 0 || o.SyncInterval > refFsyncInterval) {
			return sc, protocol.Unsupported("fsync interval: the server must sync at least every %v; "+
				"declare its sync_interval with ?sync=DURATION (JetStream's default is 2m)", refFsyncInterval)
		}
	default:
		return sc, protocol.Invalid("fsync mode %q: want never, always or interval", c.Fsync)
	}
	return sc, nil
}

// handler serves one client.
type handler struct {
	ctx  context.Context
	opts Options

	nc      *nats.Conn
	js      jetstream.JetStream
	stream  string
	subject string

	// consumer side
	role      string
	group     string
	it        jetstream.MessagesContext
	msgs      chan jetstream.Msg
	pumpErr   chan error
	pumpDone  chan struct{}
	lastSeq   uint64          // highest stream sequence returned by Poll
	delivered []jetstream.Msg // group: returned, not yet acked, by sequence
	acked     uint64          // group: highest sequence acked in this session
	closeOnce sync.Once
}

func (h *handler) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, opTimeout)
}

func (h *handler) Init(req *protocol.Request) (string, error) {
	if err := protocol.CheckInit(req); err != nil {
		return "", err
	}
	stream, subject, durable := Names(req.Dir, req.Topic, req.Group)
	sc, err := StreamConfig(stream, subject, req.Config, h.opts)
	if err != nil {
		return "", err
	}
	nc, err := nats.Connect(h.opts.Servers, nats.Name("kafka-lite "+req.Client), nats.Timeout(5*time.Second))
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", h.opts.Servers, err)
	}
	h.nc = nc
	h.js, err = jetstream.New(nc)
	if err != nil {
		h.closeConn()
		return "", fmt.Errorf("jetstream: %w", err)
	}
	// The whole init ends before klcheck's default init timeout (30 s),
	// so that a cluster that does not answer is reported, not a hang.
	ctx, cancel := context.WithTimeout(h.ctx, initBound)
	defer cancel()
	s, err := h.createStream(ctx, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		h.closeConn()
		return "", protocol.Invalid("stream %s exists with another config than %+v: %v", stream, sc, err)
	}
	if err != nil {
		h.closeConn()
		return "", fmt.Errorf("create stream %s: %w", stream, err)
	}
	h.stream, h.subject, h.role = stream, subject, req.Role
	if req.Role == protocol.RoleProducer {
		return Impl, nil
	}
	var cons jetstream.Consumer
	if req.Group == "" {
		cons, err = h.ephemeral(ctx, s, req.Start)
	} else {
		h.group = req.Group
		cons, err = h.durable(ctx, s, durable, req.Start)
	}
	if err != nil {
		h.closeConn()
		return "", err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		h.closeConn()
		return "", fmt.Errorf("stream %s: consume: %w", stream, err)
	}
	h.it = it
	h.msgs = make(chan jetstream.Msg, 256)
	h.pumpErr = make(chan error, 1)
	h.pumpDone = make(chan struct{})
	go h.pump()
	return Impl, nil
}

// ephemeral returns an ordered consumer, for a consumer without a group.
// createRetry is the pause between attempts of createStream, and
// createBound bounds them all.
const (
	createRetry = 250 * time.Millisecond
	createBound = 20 * time.Second
)

// createStream creates (or finds) the stream, trying again while a
// freshly started or restarted cluster has no meta leader or not all its
// peers yet, until ctx ends.
func (h *handler) createStream(ctx context.Context, sc jetstream.StreamConfig) (jetstream.Stream, error) {
	// Give up before klcheck's default init timeout (30 s), so that the
	// init reports the last error instead of hanging.
	ctx, cancel := context.WithTimeout(ctx, createBound)
	defer cancel()
	return retried(ctx, func(ctx context.Context) (jetstream.Stream, error) { return h.js.CreateStream(ctx, sc) })
}

func (h *handler) ephemeral(ctx context.Context, s jetstream.Stream, start string) (jetstream.Consumer, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if start == protocol.StartLatest {
		// DeliverNew would be resolved when the first pull arrives; pin
		// the start to the log's end at init, as kafka-lite defines it.
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: info: %w", h.stream, err)
		}
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = info.State.LastSeq + 1
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: ordered consumer: %w", h.stream, err)
	}
	return c, nil
}

// resetAPI is the first nats-server version with the consumer reset API
// (ADR-60). Older servers do not answer its requests at all, so without
// this check every group consumer's init waited out its timeout.
var resetAPI = [3]int{2, 14, 0}

// serverAtLeast says whether the connected server's version is at least v.
func serverAtLeast(version string, v [3]int) bool {
	var got [3]int
	if _, err := fmt.Sscanf(strings.TrimPrefix(version, "v"), "%d.%d.%d", &got[0], &got[1], &got[2]); err != nil {
		return false
	}
	for i := range got {
		if got[i] != v[i] {
			return got[i] > v[i]
		}
	}
	return true
}

// durableConfig is the group's durable consumer, delivering from seq
// (0: from the start of the stream).
func (h *handler) durableConfig(name string, seq uint64) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "kafka-lite group " + h.group,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       h.opts.AckWait,
		MaxAckPending: -1,
		Replicas:      0, // the stream's
	}
	if seq > 1 {
		c.DeliverPolicy, c.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	return c
}

// durable returns the group's durable consumer, created on first use, and
// resets its delivery to where start says: acked = the ack floor + 1,
// earliest = sequence 1, latest = after the last message.
func (h *handler) durable(ctx context.Context, s jetstream.Stream, name, start string) (jetstream.Consumer, error) {
	if !serverAtLeast(h.nc.ConnectedServerVersion(), resetAPI) {
		return h.recreateDurable(ctx, s, name, start)
	}
	// Each request is retried on its own (retried): all are safe to
	// repeat, and a lost reply would otherwise hang the init.
	c, err := retried(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return s.CreateOrUpdateConsumer(ctx, h.durableConfig(name, 0))
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: consumer %s: %w", h.stream, name, err)
	}
	seq, err := h.startSeq(ctx, s, start, 0) // 0: back to the ack floor
	if err != nil {
		return nil, err
	}
	// A reset drops what an earlier session of the group had delivered
	// but not acked, which JetStream would otherwise redeliver only after
	// AckWait, out of order.
	_, err = retried(ctx, func(ctx context.Context) (*jetstream.ConsumerResetResponse, error) {
		if seq == 0 {
			return s.ResetConsumer(ctx, name)
		}
		return s.ResetConsumerToSequence(ctx, name, seq)
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: reset consumer %s: %w", h.stream, name, err)
	}
	if seq == 0 {
		info, err := retried(ctx, c.Info)
		if err != nil {
			return nil, fmt.Errorf("stream %s: consumer %s info: %w", h.stream, name, err)
		}
		h.acked = info.AckFloor.Stream
	} else {
		h.acked = seq - 1
	}
	return c, nil
}

// startSeq is the stream sequence a group consumer starts at: 1 for
// earliest, one past the last message for latest, and acked for acked.
func (h *handler) startSeq(ctx context.Context, s jetstream.Stream, start string, acked uint64) (uint64, error) {
	switch start {
	case protocol.StartEarliest:
		return 1, nil
	case protocol.StartLatest:
		info, err := retried(ctx, func(ctx context.Context) (*jetstream.StreamInfo, error) { return s.Info(ctx) })
		if err != nil {
			return 0, fmt.Errorf("stream %s: info: %w", h.stream, err)
		}
		return info.State.LastSeq + 1, nil
	}
	return acked, nil
}

// recreateDurable is durable for servers without the consumer reset API
// (before 2.14, such as Debian bookworm's 2.9.10). It moves the group by
// replacing its durable consumer: each session creates NAME-vN, numbered
// one past the highest there is, delivering from the position start asks
// for (acked: one past the highest ack floor of the group's consumers),
// and only then deletes the others. A session killed at any point leaves
// a consumer that holds the group's position, so the next one finds it.
// Replacing the consumer drops what an earlier session had been delivered
// but not acked, as the reset does.
func (h *handler) recreateDurable(ctx context.Context, s jetstream.Stream, name, start string) (jetstream.Consumer, error) {
	prefix := name + "-v"
	var floor uint64
	version := 0
	var old []string
	names := s.ConsumerNames(ctx)
	for n := range names.Name() {
		v, err := strconv.Atoi(strings.TrimPrefix(n, prefix))
		if !strings.HasPrefix(n, prefix) || err != nil {
			continue
		}
		c, err := s.Consumer(ctx, n)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: consumer %s: %w", h.stream, n, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: consumer %s info: %w", h.stream, n, err)
		}
		// A consumer that has acked nothing yet reports an ack floor of 0,
		// not the one before its start sequence: count its start too.
		cf := info.AckFloor.Stream
		if info.Config.OptStartSeq > 0 {
			cf = max(cf, info.Config.OptStartSeq-1)
		}
		floor, version = max(floor, cf), max(version, v)
		old = append(old, n)
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("stream %s: list consumers: %w", h.stream, err)
	}
	seq, err := h.startSeq(ctx, s, start, floor+1)
	if err != nil {
		return nil, err
	}
	next := fmt.Sprintf("%s%d", prefix, version+1)
	c, err := s.CreateConsumer(ctx, h.durableConfig(next, seq))
	if err != nil {
		return nil, fmt.Errorf("stream %s: consumer %s (server %s, which has no consumer reset API): %w", h.stream, next, h.nc.ConnectedServerVersion(), err)
	}
	for _, n := range old {
		if err := s.DeleteConsumer(ctx, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("stream %s: delete the group's earlier consumer %s: %w", h.stream, n, err)
		}
	}
	h.acked = seq - 1
	return c, nil
}

// pump moves messages from the iterator to h.msgs until the iterator stops.
func (h *handler) pump() {
	defer close(h.pumpDone)
	for {
		m, err := h.it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				h.pumpErr <- err
			}
			close(h.msgs)
			return
		}
		h.msgs <- m
	}
}

func (h *handler) Append(values []string) ([]*int64, error) {
	if h.role != protocol.RoleProducer {
		return nil, protocol.Invalid("append needs role producer")
	}
	if max := h.nc.MaxPayload(); max > 0 {
		for i, v := range values {
			// A margin for the subject and headers of the message.
			if int64(len(v))+int64(len(h.subject))+256 > max {
				return nil, protocol.Invalid("value %d: %d bytes, over the server's max_payload %d", i, len(v), max)
			}
		}
	}
	if len(values) == 0 {
		return nil, protocol.Invalid("append needs at least one value")
	}
	ctx, cancel := h.opCtx()
	defer cancel()
	offs := make([]*int64, len(values))
	// The first value goes alone, and nats.go may retry it after "no
	// responders" (a cluster whose stream interest has not reached this
	// server yet, or is electing a leader). The others are pipelined
	// without such retries: nats.go resends a retried message 250 ms
	// later, after the values behind it were stored, so its PubAck would
	// carry a later sequence than theirs, and the batch would be stored
	// out of order (docs/ENGINES.md).
	first, err := h.js.Publish(ctx, h.subject, []byte(values[0]), jetstream.WithExpectStream(h.stream))
	if err != nil {
		var api *jetstream.APIError
		if errors.As(err, &api) || errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("publish to %s: %w", h.subject, err)
		}
		return nil, enginekit.Indeterminate("publish to %s: value 0 of %d: %v", h.subject, len(values), err)
	}
	offs[0] = protocol.Int64(int64(first.Sequence))
	futs := make([]jetstream.PubAckFuture, 0, len(values)-1)
	for i, v := range values[1:] {
		f, err := h.js.PublishAsync(h.subject, []byte(v), jetstream.WithExpectStream(h.stream), jetstream.WithRetryAttempts(0))
		if err != nil {
			return nil, enginekit.Indeterminate("publish value %d of %d to %s: %v (earlier ones were sent)", i+1, len(values), h.subject, err)
		}
		futs = append(futs, f)
	}
	var rejected, unknown []error
	for j, f := range futs {
		i := j + 1
		select {
		case ack := <-f.Ok():
			offs[i] = protocol.Int64(int64(ack.Sequence))
		case err := <-f.Err():
			var api *jetstream.APIError
			if errors.As(err, &api) {
				rejected = append(rejected, fmt.Errorf("value %d: %w", i, err))
			} else {
				unknown = append(unknown, fmt.Errorf("value %d: %w", i, err))
			}
		case <-ctx.Done():
			return nil, enginekit.Indeterminate("publish to %s: no ack for value %d of %d: %v", h.subject, i, len(values), ctx.Err())
		}
	}
	switch {
	case len(rejected)+len(unknown) > 0:
		return nil, enginekit.Indeterminate("publish to %s: %d of %d values failed: %v", h.subject,
			len(rejected)+len(unknown), len(values), errors.Join(append(rejected, unknown...)...))
	}
	if err := enginekit.CheckIncreasing(offs, "publish to "+h.subject); err != nil {
		return nil, err
	}
	return offs, nil
}

func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	if h.it == nil {
		return nil, protocol.Invalid("poll needs role consumer")
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	out := []protocol.Record{}
	for len(out) == 0 {
		select {
		case m, ok := <-h.msgs:
			if !ok {
				return nil, h.pumpFailure()
			}
			if err := h.take(m, &out); err != nil {
				return nil, err
			}
		case <-timer.C:
			return out, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("poll: %w", ctx.Err())
		}
	}
	for len(out) < max {
		select {
		case m, ok := <-h.msgs:
			if !ok {
				return out, nil // the next poll reports the failure
			}
			if err := h.take(m, &out); err != nil {
				return nil, err
			}
		default:
			return out, nil
		}
	}
	return out, nil
}

func (h *handler) pumpFailure() error {
	select {
	case err := <-h.pumpErr:
		return fmt.Errorf("consume stream %s: %w", h.stream, err)
	default:
		return fmt.Errorf("consume stream %s: iterator closed", h.stream)
	}
}

// take appends m to out unless it is a redelivery (a sequence not above
// the last one returned).
func (h *handler) take(m jetstream.Msg, out *[]protocol.Record) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("stream %s: message metadata: %w", h.stream, err)
	}
	seq := md.Sequence.Stream
	if seq <= h.lastSeq {
		return nil // JetStream redelivered it after AckWait: already returned
	}
	h.lastSeq = seq
	if h.group != "" {
		h.delivered = append(h.delivered, m)
	}
	*out = append(*out, protocol.Record{Offset: int64(seq), Value: string(m.Data())})
	return nil
}

func (h *handler) Ack(offset int64) error {
	if h.it == nil {
		return protocol.Invalid("ack needs role consumer")
	}
	if h.group == "" {
		return protocol.Invalid("ack needs a group")
	}
	if offset < 0 {
		return protocol.Invalid("ack of negative offset %d", offset)
	}
	seq := uint64(offset)
	if seq <= h.acked {
		return nil // AckAll: already covered
	}
	i := sort.Search(len(h.delivered), func(i int) bool {
		md, _ := h.delivered[i].Metadata() // checked in take
		return md.Sequence.Stream >= seq
	})
	if i == len(h.delivered) {
		return protocol.Invalid("ack %d: not delivered by this consumer (last delivered %d)", offset, h.lastSeq)
	}
	m := h.delivered[i]
	if md, _ := m.Metadata(); md.Sequence.Stream != seq {
		return protocol.Invalid("ack %d: no such record was delivered (next is %d)", offset, md.Sequence.Stream)
	}
	ctx, cancel := h.opCtx()
	defer cancel()
	if err := m.DoubleAck(ctx); err != nil {
		return enginekit.Indeterminate("ack %d on stream %s: %v", offset, h.stream, err)
	}
	h.delivered = h.delivered[i+1:]
	h.acked = seq
	return nil
}

func (h *handler) Close() error {
	h.closeConn()
	return nil
}

func (h *handler) closeConn() {
	h.closeOnce.Do(func() {
		if h.it != nil {
			h.it.Stop()
			// Unblock a pump waiting to hand over a message.
			go func() {
				for range h.msgs {
				}
			}()
			<-h.pumpDone
		}
		if h.nc != nil {
			h.nc.Close()
		}
	})
}
