package check

import (
	"fmt"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// liveness: the harness records a stuck event when a reader made no
// progress although the log held records it had not read; each is an
// anomaly. So is a definite failure (ok:false) of an append, poll or ack
// that the scenario did not provoke: a "pass" over refused operations would
// prove nothing. A client that cannot start again after a power loss (its
// init refused, or it died before answering) is an unrecoverable anomaly.
func liveness(ix *index, opts Options) Result {
	c := newCollector("liveness")
	for i := range ix.h {
		op := &ix.h[i]
		if op.Outcome != history.Fail || opts.MayFail["*"] || opts.MayFail[op.Client] {
			continue
		}
		switch op.F {
		case history.FAppend, history.FPoll, history.FAck:
			c.add("refused", Example{
				Explanation: fmt.Sprintf("%s's %s failed with %q, and the scenario provokes no failure there", clientName(op), op.F, op.Error),
				Clients:     []string{clientName(op)},
				TimesNS:     []int64{op.Invoke, op.Complete},
				Ops:         []int{op.Index},
			})
		}
	}
	for i := range ix.h {
		op := &ix.h[i]
		if op.F != history.FUnrecoverable {
			continue
		}
		c.add("unrecoverable", Example{
			Explanation: fmt.Sprintf("%s could not start again after a power loss: %s", clientName(op), op.Error),
			Clients:     []string{clientName(op)},
			TimesNS:     []int64{op.Invoke, op.Complete},
			Ops:         []int{op.Index},
		})
	}
	if ix.polls == 0 && len(ix.stucks) == 0 && len(c.anoms) == 0 {
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
