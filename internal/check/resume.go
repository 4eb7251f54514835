package check

import (
	"fmt"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/history"
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
	groups := ix.groupAcks()
	checked := 0
	for _, s := range ix.sessions {
		if !startsFromAcks(s) {
			continue
		}
		first, fp, ok := ix.firstRecord(s)
		if !ok {
			continue
		}
		checked++
		pos := ix.ackPositionAt(groups[s.group], s.initInvoke)
		last := pos.last
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
		for _, q := range pos.cands {
			if q == last {
				continue
			}
			cands = append(cands, ix.successor(*ix.h[q].Offset))
			ops = append(ops, ix.h[q].Index)
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
