package check

import (
	"fmt"
	"sort"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// ackOnce: a consumer session that resumes from its group's acks never
// delivers a record at or below the group's position when it started: the
// last ack to take effect before its init (acks are cumulative). Where acks
// overlap or were indeterminate, the lowest position they allow is used, so
// a correct implementation never fails. A session's own later polls are not
// bound by acks made after it started (poll-order checks those), and
// sessions that init with "earliest" or "latest" are not checked.
//
// It also measures the at-least-once window: records a restarted client
// delivers that an earlier session of the same client delivered but did not
// get acked (stat redelivered-unacked); with MaxRedeliveryPerCrash > 0, a
// session redelivering more than that is a redelivery-window anomaly.
//
// Across a power loss, a record at or below the bound that was appended
// after the power loss that took the acked records sits at a reused offset
// and is no redelivery; an acked record that comes back after a power loss
// is a lost-ack anomaly under fsync always and counted otherwise (stat
// redelivered-after-power-loss), as are unacked redeliveries after it.
func ackOnce(ix *index, opts Options) Result {
	c := newCollector("ack-once")
	groups := ix.groupAcks()
	if len(groups) == 0 {
		return c.nothing()
	}
	sessions := make([]*session, 0, len(ix.sessions))
	for _, s := range ix.sessions {
		if groups[s.group] != nil && s.records > 0 {
			sessions = append(sessions, s)
		}
	}
	sort.SliceStable(sessions, func(a, b int) bool { return sessions[a].initInvoke < sessions[b].initInvoke })
	lossy := ix.hasLosses()
	always := opts.Fsync == protocol.FsyncAlways
	delivered := map[string]map[int64]string{} // per client, by its earlier sessions: offset -> value
	lastInit := map[string]int64{}             // per client, its previous session's init
	for _, s := range sessions {
		prior := delivered[s.client]
		if prior == nil {
			prior = map[int64]string{}
			delivered[s.client] = prior
		}
		// After a power loss that may have taken acks (fsync never or
		// interval), redeliveries are the loss's, not the window's.
		prevInit, hadPrev := lastInit[s.client]
		lastInit[s.client] = s.initInvoke
		acksMayBeLost := lossy && !always && hadPrev && ix.lossBetween(prevInit, s.initInvoke)
		// bound: the lowest position the group may have had at init.
		pos := ix.ackPositionAt(groups[s.group], s.initInvoke)
		check := startsFromAcks(s) && pos.last >= 0
		var bound int64
		if check {
			bound = *ix.h[pos.last].Offset
			for _, q := range pos.cands {
				bound = min(bound, *ix.h[q].Offset)
			}
		}
		redelivered := 0
		var mine []int64
		for _, p := range s.polls {
			op := &ix.h[p]
			for _, r := range op.Records {
				mine = append(mine, r.Offset)
				if check && r.Offset <= bound {
					a := &ix.h[pos.last]
					if lossy {
						if ix.appendEpoch(r.Value) > ix.epochOf(a.Invoke) {
							// Appended after a power loss that took the
							// acked records: a new record at a reused offset.
							c.stats["reused-offset-after-power-loss"]++
							continue
						}
						if ix.lossBetween(a.Invoke, s.initInvoke) {
							if !always {
								c.stats["redelivered-after-power-loss"]++
								continue
							}
							k := ix.epochOf(a.Invoke) + 1
							c.add("lost-ack", Example{
								Explanation: fmt.Sprintf("group %s got offset %d (%q) again on %s at %dns, though the group had acked offset %d (op %d) under fsync always before %s: the power loss lost a confirmed ack",
									s.group, r.Offset, abbr(r.Value), s.name(), op.Invoke, *a.Offset, a.Index, ix.lossName(k)),
								Offsets: []int64{r.Offset, *a.Offset},
								Values:  []string{abbr(r.Value)},
								Clients: []string{s.name(), a.Client},
								TimesNS: []int64{op.Invoke, a.Complete, ix.lossOp(k).Invoke},
								Ops:     []int{op.Index, a.Index, ix.lossOp(k).Index},
							})
							continue
						}
					}
					c.add("ack-once", Example{
						Explanation: fmt.Sprintf("group %s got offset %d (%q) again on %s at %dns, though the group had acked offset %d (op %d, completed at %dns) before %s started",
							s.group, r.Offset, abbr(r.Value), s.name(), op.Invoke, *a.Offset, a.Index, a.Complete, s.name()),
						Offsets: []int64{r.Offset, *a.Offset},
						Values:  []string{abbr(r.Value)},
						Clients: []string{s.name(), a.Client},
						TimesNS: []int64{op.Invoke, a.Complete},
						Ops:     []int{op.Index, a.Index},
					})
					continue
				}
				if pv, ok := prior[r.Offset]; ok && (!lossy || pv == r.Value) {
					if acksMayBeLost {
						c.stats["redelivered-after-power-loss"]++
						continue
					}
					redelivered++
				}
			}
		}
		for _, p := range s.polls {
			for _, r := range ix.h[p].Records {
				prior[r.Offset] = r.Value
			}
		}
		c.stats["redelivered-unacked"] += redelivered
		if opts.MaxRedeliveryPerCrash > 0 && redelivered > opts.MaxRedeliveryPerCrash {
			c.add("redelivery-window", Example{
				Explanation: fmt.Sprintf("%s (group %s) was redelivered %d unacked records that its earlier sessions had already received, more than the window of %d",
					s.name(), s.group, redelivered, opts.MaxRedeliveryPerCrash),
				Offsets: []int64{mine[0]},
				Clients: []string{s.name()},
				TimesNS: []int64{s.initInvoke},
				Ops:     []int{ix.h[s.polls[0]].Index},
			})
		}
	}
	c.stats["groups"] = len(groups)
	return c.result("")
}
