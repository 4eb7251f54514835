package check

import (
	"fmt"
	"sort"
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
	delivered := map[string]map[int64]bool{} // per client, by its earlier sessions
	for _, s := range sessions {
		prior := delivered[s.client]
		if prior == nil {
			prior = map[int64]bool{}
			delivered[s.client] = prior
		}
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
				if prior[r.Offset] {
					redelivered++
				}
			}
		}
		for _, o := range mine {
			prior[o] = true
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
