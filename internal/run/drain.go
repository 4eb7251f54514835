package run

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// drainSpec is one fresh consumer of the final drain.
type drainSpec struct {
	name, group, start string
	// from is its known position: the highest offset its group acked
	// (ok or indeterminate), or -1.
	from int64
}

// drainSpecs lists the drain's consumers: one reading a fresh group from
// the earliest record, then one per group the scenario used, resuming
// from that group's acks; acked holds each group's highest ack of the main
// phase that did not fail (recorder.ackedByGroup).
func drainSpecs(sc *scenario.Scenario, acked map[string]int64) []drainSpec {
	var groups []string
	used := map[string]bool{}
	for _, g := range sc.Consumers {
		for i := range g.Count {
			grp := g.GroupFor(i)
			if !used[grp] {
				used[grp] = true
				groups = append(groups, grp)
			}
		}
	}
	fresh := "klcheck-drain"
	for n := 2; used[fresh]; n++ {
		fresh = fmt.Sprintf("klcheck-drain-%d", n)
	}
	specs := []drainSpec{{name: "drain-earliest", group: fresh, start: protocol.StartEarliest, from: -1}}
	for i, grp := range groups {
		from, ok := acked[grp]
		if !ok {
			from = -1
		}
		specs = append(specs, drainSpec{name: fmt.Sprintf("drain-%d", i+1), group: grp, start: protocol.StartAcked, from: from})
	}
	return specs
}

// drain runs the final drain: all its consumers at once, each until it has
// caught up with the highest offset any poll has shown to exist. A
// consumer that makes no progress for StuckMS while records remain beyond
// its position, or that is still reading when DrainS is over, is recorded
// as stuck.
func (r *runner) drain(ctx context.Context) error {
	specs := drainSpecs(r.sc, r.rec.ackedByGroup())
	pollMax := 0
	for _, g := range r.sc.Consumers {
		if pollMax == 0 || g.PollMax < pollMax {
			pollMax = g.PollMax
		}
	}
	if pollMax == 0 {
		pollMax = scenario.DefaultPollMax
	}
	deadline := time.Now().Add(time.Duration(r.sc.Timeouts.DrainS) * time.Second)
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for i, sp := range specs {
		c := r.newClient(sp.name, roleConsumer, sp.group, phaseDrain)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.recoverInto(&errs[i])
			errs[i] = r.drainOne(ctx, c, sp, pollMax, deadline)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// drainOne reads with one drain consumer until it caught up or is stuck.
func (r *runner) drainOne(ctx context.Context, c *client, sp drainSpec, pollMax int, deadline time.Time) error {
	defer c.stop()
	for {
		err := c.startSession(ctx, sp.start)
		if err == nil {
			break
		}
		// An init refused while the server recovers from a fault is
		// retried (startSession excuses only that); anything else ends
		// the drain consumer.
		cont, err := c.afterError(ctx, err)
		if err != nil {
			return err
		}
		if !cont || time.Now().After(deadline) {
			return nil
		}
	}
	pos := sp.from
	stuckAfter := time.Duration(r.sc.Timeouts.StuckMS) * time.Millisecond
	lastProgress := time.Now()
	lastProgressNS := r.rec.now()
	empty := 0
	for {
		if time.Now().After(deadline) {
			r.recordStuck(c, lastProgressNS, fmt.Sprintf("the drain did not finish within drain_s=%ds: %s read up to offset %d, the log holds records up to %d",
				r.sc.Timeouts.DrainS, c.name, pos, r.rec.knownEnd.Load()))
			return c.closeSession(ctx)
		}
		rep, err := c.call(ctx, &protocol.Request{Op: protocol.OpPoll, Max: pollMax, TimeoutMS: scenario.DefaultPollTimeoutMS})
		if err != nil {
			_, err := c.afterError(ctx, err)
			return err
		}
		if rep.OK && len(rep.Records) > 0 {
			for _, rec := range rep.Records {
				pos = max(pos, rec.Offset)
			}
			lastProgress, lastProgressNS, empty = time.Now(), r.rec.now(), 0
			continue
		}
		empty++
		end := r.rec.knownEnd.Load()
		if pos >= end {
			if empty >= caughtUpPolls {
				return c.closeSession(ctx)
			}
			continue
		}
		if time.Since(lastProgress) >= stuckAfter {
			r.recordStuck(c, lastProgressNS, fmt.Sprintf("%s (group %s, start %s) made no progress for %v at offset %d while the log holds records up to offset %d",
				c.name, c.group, sp.start, stuckAfter, pos, end))
			return c.closeSession(ctx)
		}
	}
}

// recordStuck records a stuck event for c's current session.
func (r *runner) recordStuck(c *client, since int64, why string) {
	c.mu.Lock()
	sess := c.session
	c.mu.Unlock()
	op := c.op(history.FStuck, sess)
	op.Invoke, op.Complete, op.Outcome, op.Error = since, r.rec.now(), history.OK, why
	r.rec.add(op, "")
}
