package mutant

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"

	"golang.org/x/sys/unix"
)

// implVersion is the version in init replies.
const implVersion = "0.1.0"

// handler is one protocol client over the mutant log.
type handler struct {
	bug  string
	prod *producer
	cons *consumer
}

// Init opens the topic for the request's role.
func (h *handler) Init(req *protocol.Request) (string, error) {
	cfg := protocol.Config{Fsync: protocol.FsyncNever}
	if req.Config != nil {
		cfg = *req.Config
	}
	switch {
	case req.Dir == "" || req.Topic == "":
		return "", protocol.Invalid("init needs dir and topic")
	case cfg.Fsync == protocol.FsyncInterval:
		return "", protocol.Unsupported("fsync %q", cfg.Fsync)
	case cfg.Fsync != "" && cfg.Fsync != protocol.FsyncNever && cfg.Fsync != protocol.FsyncAlways:
		return "", protocol.Invalid("unknown fsync mode %q", cfg.Fsync)
	case cfg.RetainBytes > 0:
		return "", protocol.Unsupported("retain_bytes")
	case filepath.Base(req.Topic) != req.Topic || req.Topic == "." || req.Topic == "..":
		return "", protocol.Invalid("bad topic name %q", req.Topic)
	}
	t := &topic{dir: filepath.Join(req.Dir, req.Topic), cfg: cfg, bug: h.bug}
	if err := ensureDir(t.dir, t.durable()); err != nil {
		return "", fmt.Errorf("create topic directory: %w", err)
	}
	var fst unix.Statfs_t
	t.onFUSE = unix.Statfs(t.dir, &fst) == nil && fst.Type == fuseMagic
	if t.durable() {
		// The process that made it may have died before syncing it.
		if err := syncDir(req.Dir); err != nil {
			return "", err
		}
	}
	var err error
	switch req.Role {
	case protocol.RoleProducer:
		h.prod, err = newProducer(t)
	case protocol.RoleConsumer:
		if req.Group != "" && filepath.Base(req.Group) != req.Group {
			return "", protocol.Invalid("bad group name %q", req.Group)
		}
		h.cons, err = newConsumer(t, req.Group, req.Start)
	default:
		return "", protocol.Invalid("unknown role %q", req.Role)
	}
	if err != nil {
		return "", err
	}
	name := "kl-mutant"
	if h.bug != "" {
		name += "/" + h.bug
	}
	return name + " " + implVersion, nil
}

// Append appends values and returns their offsets.
func (h *handler) Append(values []string) ([]*int64, error) {
	if h.prod == nil {
		return nil, protocol.Invalid("append by a client that is not a producer")
	}
	return h.prod.append(values)
}

// Poll returns the next records.
func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	if h.cons == nil {
		return nil, protocol.Invalid("poll by a client that is not a consumer")
	}
	return h.cons.poll(ctx, max, timeout)
}

// Ack records the group's position.
func (h *handler) Ack(offset int64) error {
	if h.cons == nil {
		return protocol.Invalid("ack by a client that is not a consumer")
	}
	return h.cons.ack(offset)
}

// Close releases the client's files (flushing what a mutant buffered).
func (h *handler) Close() error {
	var err error
	if h.prod != nil {
		err = h.prod.close()
		h.prod = nil
	}
	if h.cons != nil {
		err = h.cons.close()
		h.cons = nil
	}
	return err
}
