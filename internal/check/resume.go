package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// groupOf returns the consumer group of the op at position p.
func (ix *index) groupOf(p int) string {
	if g := ix.h[p].Group; g != "" {
		return g
	}
	if s := ix.sessionAt(p); s != nil {
		return s.group
	}
	return ""
}

// firstRecord returns the first record s delivered and the position of its
// poll.
func (ix *index) firstRecord(s *session) (history.Record, int, bool) {
	for _, p := range s.polls {
		if len(ix.h[p].Records) > 0 {
			return ix.h[p].Records[0], p, true
		}
	}
	return history.Record{}, 0, false
}

// showOffset prints an expected offset.
func showOffset(o int64) string {
	if o == endOfLog {
		return "past the end of the log"
	}
	return fmt.Sprintf("offset %d", o)
}

// resume: each consumer session whose init Start was "acked" first delivers
// the successor in L of its group's last ok ack completed before the init
// (L's first offset when there was none). Successors of acks that may have
// taken effect by then (indeterminate ones, or ok ones still in flight)
// after that last ack are accepted too. With Retention, a start after the
// expected offset and at most the drain's first offset is accepted when
// the expected offset is below the drain's first offset (retention deleted
// the records in between). Sessions that delivered nothing are skipped.
func resume(ix *index, opts Options) Result {
	c := newCollector("resume")
	type groupAcks struct {
		okByComplete []int // ok acks by completion time
		byInvoke     []int // ok and indeterminate acks by invoke time
	}
	groups := map[string]*groupAcks{}
	for _, p := range ix.acks {
		op := &ix.h[p]
		if op.Outcome == history.Fail {
			continue
		}
		g := ix.groupOf(p)
		ga := groups[g]
		if ga == nil {
			ga = &groupAcks{}
			groups[g] = ga
		}
		if op.Outcome == history.OK {
			ga.okByComplete = append(ga.okByComplete, p)
		}
		ga.byInvoke = append(ga.byInvoke, p)
	}
	for _, ga := range groups {
		sort.SliceStable(ga.okByComplete, func(a, b int) bool {
			return ix.h[ga.okByComplete[a]].Complete < ix.h[ga.okByComplete[b]].Complete
		})
		sort.SliceStable(ga.byInvoke, func(a, b int) bool { return ix.h[ga.byInvoke[a]].Invoke < ix.h[ga.byInvoke[b]].Invoke })
	}
	checked := 0
	for _, s := range ix.sessions {
		if s.start != protocol.StartAcked {
			continue
		}
		first, fp, ok := ix.firstRecord(s)
		if !ok {
			continue
		}
		checked++
		ga := groups[s.group]
		last := -1
		if ga != nil {
			k := sort.Search(len(ga.okByComplete), func(k int) bool { return ix.h[ga.okByComplete[k]].Complete >= s.initInvoke })
			if k > 0 {
				last = ga.okByComplete[k-1]
			}
		}
		expected := endOfLog
		why := "the group had acked nothing, so it should start at the log's first offset"
		ops := []int{}
		if last >= 0 {
			lo := &ix.h[last]
			expected = ix.successor(*lo.Offset)
			why = fmt.Sprintf("the group's last ack before it (op %d, offset %d, completed at %dns) puts the next record at", lo.Index, *lo.Offset, lo.Complete)
			ops = append(ops, lo.Index)
		} else if len(ix.log) > 0 {
			expected = ix.log[0]
		}
		cands := []int64{expected}
		if ga != nil {
			from := 0
			if last >= 0 {
				li := ix.h[last].Invoke
				from = sort.Search(len(ga.byInvoke), func(k int) bool { return ix.h[ga.byInvoke[k]].Invoke > li })
			}
			for _, q := range ga.byInvoke[from:] {
				a := &ix.h[q]
				if a.Invoke >= s.initInvoke {
					break
				}
				if q == last || (a.Outcome == history.OK && a.Complete < s.initInvoke) {
					continue
				}
				cands = append(cands, ix.successor(*a.Offset))
				ops = append(ops, a.Index)
			}
		}
		f := first.Offset
		matched := -1
		for i, e := range cands {
			if e == f {
				matched = i
				break
			}
		}
		if matched == 0 {
			continue
		}
		if matched > 0 {
			c.stats["resumed-after-uncertain-ack"]++
			continue
		}
		if opts.Retention && ix.hasDrain && expected < ix.drainFirst && f > expected && f <= ix.drainFirst {
			c.stats["retention-resets"]++
			continue
		}
		lowest := cands[0]
		for _, e := range cands {
			lowest = min(lowest, e)
		}
		also := ""
		if len(cands) > 1 {
			alts := make([]string, 0, len(cands)-1)
			for _, e := range cands[1:] {
				alts = append(alts, showOffset(e))
			}
			also = " (or " + strings.Join(alts, ", ") + " after acks that may have taken effect)"
		}
		po := &ix.h[fp]
		ex := Example{
			Explanation: fmt.Sprintf("%s (group %s) resumed at offset %d (%q) but %s %s%s",
				s.name(), s.group, f, abbr(first.Value), why, showOffset(expected), also),
			Offsets: []int64{f},
			Values:  []string{abbr(first.Value)},
			Clients: []string{s.name()},
			TimesNS: []int64{s.initInvoke, po.Invoke},
			Ops:     append(ops, po.Index),
		}
		if expected != endOfLog {
			ex.Offsets = append(ex.Offsets, expected)
		}
		if f < lowest {
			c.add("resume-rewind", ex)
		} else {
			c.add("resume-skip", ex)
		}
	}
	if checked == 0 {
		return c.nothing()
	}
	c.stats["sessions"] = checked
	return c.result("")
}
