package check

import (
	"fmt"
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
//
// Across power losses, successors are taken among the offsets that held a
// value in the session's epoch. A session that starts before a confirmed
// ack made before a power loss has lost that ack: under fsync always a
// lost-ack anomaly, otherwise counted (stat rewound-after-power-loss). A
// session whose first record was appended after a power loss that took the
// acked records (the acked offset was reused) is not a rewind.
func resume(ix *index, opts Options) Result {
	c := newCollector("resume")
	groups := ix.groupAcks()
	lossy := ix.hasLosses()
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
		epoch := 0
		if lossy {
			epoch = ix.epochOf(s.initInvoke)
		}
		pos := ix.ackPositionAt(groups[s.group], s.initInvoke)
		last := pos.last
		expected := endOfLog
		why := "the group had acked nothing, so it should start at the log's first offset"
		ops := []int{}
		if last >= 0 {
			lo := &ix.h[last]
			expected = ix.successorIn(*lo.Offset, epoch)
			why = fmt.Sprintf("the group's last ack before it (op %d, offset %d, completed at %dns) puts the next record at", lo.Index, *lo.Offset, lo.Complete)
			ops = append(ops, lo.Index)
		} else if len(ix.log) > 0 {
			expected = ix.successorIn(ix.log[0]-1, epoch)
		}
		cands := []int64{expected}
		for _, q := range pos.cands {
			if q == last {
				continue
			}
			cands = append(cands, ix.successorIn(*ix.h[q].Offset, epoch))
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
		if f < lowest && lossy && last >= 0 {
			lo := &ix.h[last]
			switch {
			case ix.appendEpoch(first.Value) > ix.epochOf(lo.Invoke):
				// A record appended after a power loss that took the
				// acked ones: the acked offset had been reused.
				c.stats["resumed-at-reused-offset"]++
				continue
			case ix.lossBetween(lo.Invoke, s.initInvoke) && opts.Fsync == protocol.FsyncAlways:
				k := ix.epochOf(lo.Invoke) + 1
				ex.Explanation = fmt.Sprintf("%s (group %s) resumed at offset %d (%q), before the group's ack of offset %d (op %d), which was confirmed under fsync always %s %s: the power loss lost a confirmed ack",
					s.name(), s.group, f, abbr(first.Value), *lo.Offset, lo.Index, beforeLoss(lo.Complete, ix.lossOp(k).Invoke), ix.lossName(k))
				ex.Ops = append(ex.Ops, ix.lossOp(k).Index)
				c.add("lost-ack", ex)
				continue
			case ix.lossBetween(lo.Invoke, s.initInvoke):
				c.stats["rewound-after-power-loss"]++
				continue
			}
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
