package run

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// schedule is a producer's open-loop timetable: message seq (0-based) is
// due at start + seq/rate, whatever happened to the earlier ones, so a
// slow or restarted producer catches up instead of drifting.
type schedule struct {
	start time.Time
	rate  int // messages per second; 0 = as fast as possible
}

// due returns when message seq should be sent.
func (s schedule) due(seq int64) time.Time {
	if s.rate <= 0 {
		return s.start
	}
	return s.start.Add(time.Duration(float64(seq) * float64(time.Second) / float64(s.rate)))
}

// batches splits messages into append requests of at most batch values;
// it returns the size of each request.
func batches(messages, batch int) []int {
	batch = max(1, batch)
	var out []int
	for left := messages; left > 0; left -= batch {
		out = append(out, min(batch, left))
	}
	return out
}

// producerRNG is the seeded random source of the run's client number
// index: the same seed and client give the same sizes.
func producerRNG(seed int64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(index)))
}

// runProducer appends the group's Messages values for client c (the
// group's client gi), restarting its process after kills that ask for it.
// Sequence numbers continue across sessions: a value is never reused.
func (r *runner) runProducer(ctx context.Context, c *client, g scenario.ProducerGroup, gi int) error {
	defer c.stop()
	rng := producerRNG(r.sc.Seed, c.index)
	if !sleepCtx(ctx, time.Duration(g.StartDelayMS)*time.Millisecond) {
		return nil
	}
	sched := schedule{start: time.Now(), rate: g.Rate}
	seq := int64(0) // values sent so far
	plan := batches(g.Messages, g.Batch)
	needStart := true
	for len(plan) > 0 {
		if needStart {
			if err := c.startSession(ctx, ""); err != nil {
				if cont, err := c.afterError(ctx, err); !cont {
					return err
				}
				continue
			}
			needStart = false
		}
		n := plan[0]
		plan = plan[1:]
		if !sleepUntil(ctx, sched.due(seq)) {
			return nil
		}
		vals := make([]string, n)
		ids := make([]values.ID, n)
		for k := range vals {
			s := seq + int64(k) + 1
			vals[k] = values.Make(c.name, s, g.SizeFor(gi, rng))
			ids[k] = values.ID{Producer: c.name, Seq: s}
		}
		seq += int64(n)
		r.rec.noteSent(ids, r.rec.now())
		if _, err := c.call(ctx, &protocol.Request{Op: protocol.OpAppend, Values: vals}); err != nil {
			cont, err := c.afterError(ctx, err)
			if !cont {
				return err
			}
			needStart = true
		}
	}
	if needStart {
		return nil // killed after its last append: nothing left to close
	}
	return c.closeSession(ctx)
}

// sleepUntil sleeps until t; it returns false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	return sleepCtx(ctx, time.Until(t))
}
