package check

import (
	"fmt"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// liveness: the harness records a stuck event when a reader made no
// progress although the log held records it had not read; each is an
// anomaly.
func liveness(ix *index, _ Options) Result {
	c := newCollector("liveness")
	if ix.polls == 0 && len(ix.stucks) == 0 {
		return c.nothing()
	}
	for _, p := range ix.stucks {
		op := &ix.h[p]
		why := ""
		if op.Error != "" {
			why = ": " + op.Error
		}
		c.add("stuck", Example{
			Explanation: fmt.Sprintf("%s made no progress from %dns to %dns though the log held records it had not read%s",
				clientName(op), op.Invoke, op.Complete, why),
			Clients: []string{clientName(op)},
			TimesNS: []int64{op.Invoke, op.Complete},
			Ops:     []int{op.Index},
		})
	}
	c.stats["polls"] = ix.polls
	return c.result("")
}

// clientName names op's client as examples do.
func clientName(op *history.Op) string {
	if op.Session <= 1 {
		return op.Client
	}
	return fmt.Sprintf("%s#%d", op.Client, op.Session)
}
