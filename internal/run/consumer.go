package run

import (
	"context"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// caughtUpPolls is how many consecutive empty polls, all invoked after
// every producer finished, tell a consumer it has caught up.
const caughtUpPolls = 3

// runConsumer polls for client c of group g until every producer finished
// and c caught up, or ctx ends. It acks by the group's policy, restarts
// every RestartEveryPolls polls (cleanly, start acked) and after kills that
// ask for it (start acked).
func (r *runner) runConsumer(ctx context.Context, c *client, g scenario.ConsumerGroup) error {
	defer c.stop()
	start := g.Start
	needStart := true
	empty := 0
	sessionPolls := 0
	for {
		if needStart {
			err := c.startSession(ctx, start)
			start = protocol.StartAcked
			if err != nil {
				if cont, err := c.afterError(ctx, err); !cont {
					return err
				}
				continue
			}
			needStart, sessionPolls = false, 0
		}
		afterProducers := r.producersFinished()
		rep, err := c.call(ctx, &protocol.Request{Op: protocol.OpPoll, Max: g.PollMax, TimeoutMS: g.PollTimeoutMS})
		if err != nil {
			if cont, err := c.afterError(ctx, err); !cont {
				return err
			}
			needStart = true
			continue
		}
		sessionPolls++
		if !rep.OK || len(rep.Records) == 0 {
			if afterProducers {
				empty++
			}
			if empty >= caughtUpPolls {
				return c.closeSession(ctx)
			}
		} else {
			empty = 0
			if err := r.ack(ctx, c, g.Ack, rep.Records); err != nil {
				if cont, err := c.afterError(ctx, err); !cont {
					return err
				}
				needStart = true
				continue
			}
		}
		if !sleepCtx(ctx, time.Duration(g.DelayMS)*time.Millisecond) {
			return nil
		}
		if g.RestartEveryPolls > 0 && sessionPolls >= g.RestartEveryPolls {
			if err := c.closeSession(ctx); err != nil {
				return err
			}
			needStart = true
		}
	}
}

// ack acknowledges polled records by policy: every record, the last one,
// or none.
func (r *runner) ack(ctx context.Context, c *client, policy string, recs []protocol.Record) error {
	var offsets []int64
	switch policy {
	case scenario.AckEach:
		for _, rec := range recs {
			offsets = append(offsets, rec.Offset)
		}
	case scenario.AckBatch:
		offsets = append(offsets, recs[len(recs)-1].Offset)
	}
	for _, off := range offsets {
		if _, err := c.call(ctx, &protocol.Request{Op: protocol.OpAck, Offset: protocol.Int64(off)}); err != nil {
			return err
		}
	}
	return nil
}
