package check

import (
	"fmt"
	"sort"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// ackOnce: once an ok ack of offset o by group g completed, no poll of g
// invoked afterwards delivers a record at an offset ≤ o (acks are
// cumulative). Sessions that init with Start "earliest" ask to reread and
// are not checked. Also measures the at-least-once window: records a new
// session of the group delivers that an earlier session delivered but that
// were not acked (stat redelivered-unacked); with MaxRedeliveryPerCrash > 0,
// a session redelivering more than that is a redelivery-window anomaly.
func ackOnce(ix *index, opts Options) Result {
	c := newCollector("ack-once")
	type groupAcks struct {
		byComplete []int // ok acks by completion time
		maxBy      []int // maxBy[k]: the highest ack among byComplete[:k+1]
	}
	groups := map[string]*groupAcks{}
	for _, p := range ix.acks {
		if ix.h[p].Outcome != history.OK {
			continue
		}
		g := ix.groupOf(p)
		if groups[g] == nil {
			groups[g] = &groupAcks{}
		}
		groups[g].byComplete = append(groups[g].byComplete, p)
	}
	if len(groups) == 0 {
		return c.nothing()
	}
	for _, ga := range groups {
		sort.SliceStable(ga.byComplete, func(a, b int) bool {
			return ix.h[ga.byComplete[a]].Complete < ix.h[ga.byComplete[b]].Complete
		})
		ga.maxBy = make([]int, len(ga.byComplete))
		for k, p := range ga.byComplete {
			ga.maxBy[k] = p
			if k > 0 && *ix.h[ga.maxBy[k-1]].Offset >= *ix.h[p].Offset {
				ga.maxBy[k] = ga.maxBy[k-1]
			}
		}
	}
	sessions := make([]*session, 0, len(ix.sessions))
	for _, s := range ix.sessions {
		if groups[s.group] != nil && s.records > 0 {
			sessions = append(sessions, s)
		}
	}
	sort.SliceStable(sessions, func(a, b int) bool { return sessions[a].initInvoke < sessions[b].initInvoke })
	delivered := map[string]map[int64]bool{} // per group, by earlier sessions
	for _, s := range sessions {
		ga := groups[s.group]
		prior := delivered[s.group]
		if prior == nil {
			prior = map[int64]bool{}
			delivered[s.group] = prior
		}
		check := s.start != protocol.StartEarliest
		redelivered := 0
		var mine []int64
		for _, p := range s.polls {
			op := &ix.h[p]
			k := sort.Search(len(ga.byComplete), func(k int) bool { return ix.h[ga.byComplete[k]].Complete >= op.Invoke })
			for _, r := range op.Records {
				mine = append(mine, r.Offset)
				if !check {
					continue
				}
				if k > 0 {
					a := &ix.h[ga.maxBy[k-1]]
					if r.Offset <= *a.Offset {
						c.add("ack-once", Example{
							Explanation: fmt.Sprintf("group %s got offset %d (%q) again on %s at %dns, after its ack of offset %d (op %d) completed at %dns",
								s.group, r.Offset, abbr(r.Value), s.name(), op.Invoke, *a.Offset, a.Index, a.Complete),
							Offsets: []int64{r.Offset, *a.Offset},
							Values:  []string{abbr(r.Value)},
							Clients: []string{s.name(), a.Client},
							TimesNS: []int64{op.Invoke, a.Complete},
							Ops:     []int{op.Index, a.Index},
						})
						continue
					}
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
				Explanation: fmt.Sprintf("%s (group %s) was redelivered %d unacked records that earlier sessions had already received, more than the window of %d",
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
