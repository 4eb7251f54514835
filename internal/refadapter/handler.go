package refadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/ref"
)

// Impl is what init answers: the implementation's name and version.
const Impl = "klref " + ref.Version

// MaxRecordSize is the record limit the adapter opens topics with: the
// harness sends values of over 1 MiB (1 MiB + 100 B in record-sizes), above
// the library's 1 MiB default.
const MaxRecordSize = 16 << 20

// handler serves one client over the reference log.
type handler struct {
	topic *ref.Topic
	prod  *ref.Producer
	cons  *ref.Consumer
	batch [][]byte
}

func (h *handler) Init(req *protocol.Request) (string, error) {
	if !filepath.IsAbs(req.Dir) {
		return "", protocol.Invalid("dir %q must be an absolute path", req.Dir)
	}
	opts, err := options(req.Config)
	if err != nil {
		return "", err
	}
	// ref refuses FUSE, where O_APPEND may interleave; klcheck's lazyfs
	// keeps the kernel's write-through path, on which it does not
	// (docs/LAZYFS.md), and says so in the request. Nothing else lifts
	// the refusal.
	opts.AllowUnsafeFS = req.Filesystem == protocol.FilesystemLazyFS
	if err := protocol.CheckInit(req); err != nil {
		return "", err
	}
	copts := ref.ConsumerOptions{Group: req.Group, From: ref.FromAcked,
		// What a reader skips is never delivered, so a client's log is
		// the only place it shows: klcheck keeps each client's stderr.
		OnProblem: func(p ref.Problem) { fmt.Fprintf(os.Stderr, "klref adapter: %s\n", p) }}
	switch req.Start {
	case protocol.StartEarliest:
		copts.From = ref.FromEarliest
	case protocol.StartLatest:
		copts.From = ref.FromLatest
	}
	t, err := ref.Open(req.Dir, req.Topic, opts)
	if errors.Is(err, ref.ErrBadName) {
		return "", protocol.Invalid("%v", err)
	}
	if err != nil {
		return "", err
	}
	if req.Role == protocol.RoleProducer {
		h.prod, err = t.NewProducer()
	} else {
		h.cons, err = t.NewConsumer(copts)
		if errors.Is(err, ref.ErrBadName) {
			err = protocol.Invalid("%v", err)
		}
	}
	if err != nil {
		t.Close()
		return "", err
	}
	h.topic = t
	return Impl, nil
}

func options(c *protocol.Config) (ref.Options, error) {
	if c == nil {
		return ref.Options{MaxRecordSize: MaxRecordSize}, nil
	}
	o := ref.Options{
		MaxRecordSize: MaxRecordSize,
		ChunkRecords:  c.ChunkRecords,
		ChunkBytes:    c.ChunkBytes,
		RetainChunks:  c.RetainChunks,
		RetainBytes:   c.RetainBytes,
	}
	if c.Fsync != "" {
		m, err := ref.ParseFsyncMode(c.Fsync)
		if err != nil {
			return o, protocol.Invalid("%v", err)
		}
		o.Fsync = m
	}
	if o.ChunkRecords < 0 || o.ChunkBytes < 0 || o.RetainChunks < 0 || o.RetainBytes < 0 {
		return o, protocol.Invalid("negative limit in config %+v", *c)
	}
	return o, nil
}

func (h *handler) Append(values []string) ([]*int64, error) {
	if h.prod == nil {
		return nil, protocol.Invalid("append needs role producer")
	}
	h.batch = h.batch[:0]
	for _, v := range values {
		h.batch = append(h.batch, quote(v))
	}
	if err := h.prod.AppendBatch(h.batch); err != nil {
		if errors.Is(err, ref.ErrRecordTooLarge) || errors.Is(err, ref.ErrBadPayload) {
			return nil, protocol.Invalid("%v", err)
		}
		return nil, err
	}
	return nil, nil // offsets are assigned by position; ref does not know them at append
}

func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	if h.cons == nil {
		return nil, protocol.Invalid("poll needs role consumer")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	recs, err := h.cons.Poll(ctx, max)
	if errors.Is(err, context.DeadlineExceeded) {
		return []protocol.Record{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Record, len(recs))
	for i, r := range recs {
		v, err := unquote(r.Value)
		if err != nil {
			return nil, fmt.Errorf("offset %d: %w", r.Offset, err)
		}
		out[i] = protocol.Record{Offset: r.Offset, Value: v}
	}
	return out, nil
}

func (h *handler) Ack(offset int64) error {
	if h.cons == nil {
		return protocol.Invalid("ack needs role consumer")
	}
	return h.cons.Ack(offset)
}

func (h *handler) Close() error {
	var errs []error
	if h.prod != nil {
		errs = append(errs, h.prod.Close())
	}
	if h.cons != nil {
		errs = append(errs, h.cons.Close())
	}
	if h.topic != nil {
		errs = append(errs, h.topic.Close())
	}
	h.prod, h.cons, h.topic = nil, nil, nil
	return errors.Join(errs...)
}

// quote encodes v as a JSON string. Harness values are printable ASCII, for
// which this is a copy between quotes.
func quote(v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(v) // a string always marshals
			return b
		}
	}
	b := make([]byte, 0, len(v)+2)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// unquote decodes a JSON string payload.
func unquote(p []byte) (string, error) {
	if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
		simple := true
		for _, c := range p[1 : len(p)-1] {
			if c == '\\' || c == '"' {
				simple = false
				break
			}
		}
		if simple {
			return string(p[1 : len(p)-1]), nil
		}
	}
	var s string
	if err := json.Unmarshal(p, &s); err != nil {
		return "", fmt.Errorf("payload is not a JSON string: %w", err)
	}
	return s, nil
}
