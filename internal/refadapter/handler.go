package refadapter

import (
	"context"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// handler is a placeholder until ref/ lands.
type handler struct{ mutant string }

func (h *handler) Init(req *protocol.Request) (string, error) {
	return "", protocol.Unsupported("reference adapter not built yet")
}
func (h *handler) Append(values []string) ([]*int64, error) { return nil, protocol.Invalid("no init") }
func (h *handler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	return nil, protocol.Invalid("no init")
}
func (h *handler) Ack(offset int64) error { return protocol.Invalid("no init") }
func (h *handler) Close() error           { return nil }
