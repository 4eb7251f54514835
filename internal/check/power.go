package check

import (
	"fmt"
	"sort"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Power losses divide a history into epochs: epoch 0 is the machine's life
// before the first power loss, epoch k its life after the k-th. An op
// belongs to the epoch it was invoked in (history.FPowerLoss's Invoke is
// the moment after every client was SIGKILLed, so nothing invoked before it
// can have taken effect after it). What one epoch's readers saw of the log
// may be gone in the next: the checks that compare offsets and values
// across sessions ask whether a value existed in the epoch at hand.
//
// A value is lost when no poll of a later epoch than its append's and its
// last delivery's delivered it, that is, when it is missing from the log
// after some power loss; it is lost at the first power loss it did not
// come through (lazyfs makes everything that came through a power loss
// durable). Values appended after the last power loss are never lost in
// this sense: lost-write judges them.

// powerIndex is what the checks derive from a history's power losses,
// computed once on first need.
type powerIndex struct {
	losses []int   // positions of the power-loss ops, by invoke time
	at     []int64 // their invoke times, ascending
	// lastSeen: the highest epoch of a poll that delivered each value.
	lastSeen map[string]int
	// atOffset: every distinct value delivered at each offset, in order of
	// first delivery, with the epochs that saw it there.
	atOffset map[int64][]offsetSight
}

// offsetSight is one value seen at one offset.
type offsetSight struct {
	value       string
	first, last int // epochs of the first and last poll that delivered it there
	pos         int // position of the first such poll
}

// power returns the power-loss index (built on first use).
func (ix *index) power() *powerIndex {
	if ix.pw != nil {
		return ix.pw
	}
	pw := &powerIndex{}
	for i := range ix.h {
		if ix.h[i].F == history.FPowerLoss {
			pw.losses = append(pw.losses, i)
		}
	}
	sort.SliceStable(pw.losses, func(a, b int) bool { return ix.h[pw.losses[a]].Invoke < ix.h[pw.losses[b]].Invoke })
	for _, p := range pw.losses {
		pw.at = append(pw.at, ix.h[p].Invoke)
	}
	ix.pw = pw
	if len(pw.losses) == 0 {
		return pw
	}
	pw.lastSeen = make(map[string]int, len(ix.minOff))
	pw.atOffset = make(map[int64][]offsetSight, len(ix.offVal))
	for _, s := range ix.sessions {
		for _, p := range s.polls {
			op := &ix.h[p]
			e := ix.epochOf(op.Invoke)
			for _, r := range op.Records {
				if l, ok := pw.lastSeen[r.Value]; !ok || e > l {
					pw.lastSeen[r.Value] = e
				}
				sights := pw.atOffset[r.Offset]
				found := false
				for k := range sights {
					if sights[k].value == r.Value {
						sights[k].first = min(sights[k].first, e)
						sights[k].last = max(sights[k].last, e)
						found = true
						break
					}
				}
				if !found {
					pw.atOffset[r.Offset] = append(sights, offsetSight{value: r.Value, first: e, last: e, pos: p})
				}
			}
		}
	}
	return pw
}

// hasLosses tells whether the history has a power loss.
func (ix *index) hasLosses() bool { return len(ix.power().losses) > 0 }

// epochs is the number of the last epoch: the number of power losses.
func (ix *index) epochs() int { return len(ix.power().losses) }

// epochOf returns the epoch of a moment: how many power losses were
// invoked at or before t.
func (ix *index) epochOf(t int64) int {
	at := ix.power().at
	return sort.Search(len(at), func(i int) bool { return at[i] > t })
}

// lossOp returns power loss k (1-based).
func (ix *index) lossOp(k int) *history.Op { return &ix.h[ix.power().losses[k-1]] }

// appendEpoch returns the epoch of the first append that sent v, or -1
// when no append did (a phantom).
func (ix *index) appendEpoch(v string) int {
	st, ok := ix.appended[v]
	if !ok {
		return -1
	}
	return ix.epochOf(ix.h[st.pos].Invoke)
}

// lostAt returns the power loss (1-based) that value v of an append did
// not come through, or 0 when it is in the log after the last one (or was
// appended after it, or was never appended).
func (ix *index) lostAt(v string) int {
	pw := ix.power()
	if len(pw.losses) == 0 {
		return 0
	}
	a := ix.appendEpoch(v)
	if a < 0 {
		return 0
	}
	last := a
	if l, ok := pw.lastSeen[v]; ok {
		last = max(last, l)
	}
	if last >= len(pw.losses) {
		return 0
	}
	return last + 1
}

// existsIn tells whether value v may have been in the log during epoch e:
// it was appended in epoch e or before and not lost at a power loss up to
// e. A value no append sent counts as existing.
func (ix *index) existsIn(v string, e int) bool {
	a := ix.appendEpoch(v)
	if a < 0 {
		return true
	}
	if a > e {
		return false
	}
	l := ix.lostAt(v)
	return l == 0 || l > e
}

// offsetExistsIn tells whether offset o of L held, in epoch e, a value
// that existed then. Without power losses every offset of L does.
func (ix *index) offsetExistsIn(o int64, e int) bool {
	if !ix.hasLosses() {
		return true
	}
	for _, s := range ix.power().atOffset[o] {
		if ix.existsIn(s.value, e) {
			return true
		}
	}
	return false
}

// successorIn returns the first offset of L above o that existed in epoch
// e, or endOfLog.
func (ix *index) successorIn(o int64, e int) int64 {
	for i := ix.logPosAbove(o); i < len(ix.log); i++ {
		if ix.offsetExistsIn(ix.log[i], e) {
			return ix.log[i]
		}
	}
	return endOfLog
}

// logPosAbove returns the position in L of the first offset above o.
func (ix *index) logPosAbove(o int64) int {
	return sort.Search(len(ix.log), func(i int) bool { return ix.log[i] > o })
}

// lossBetween tells whether a power loss was invoked after moment a and
// at or before moment b.
func (ix *index) lossBetween(a, b int64) bool { return ix.epochOf(b) > ix.epochOf(a) }

// lossName describes power loss k for an explanation.
func (ix *index) lossName(k int) string {
	op := ix.lossOp(k)
	mode := ""
	if op.Loss != nil {
		mode = op.Loss.Mode + ", "
	}
	return fmt.Sprintf("power loss %d (%sat %.3fs)", k, mode, float64(op.Invoke)/1e9)
}

// LossWindow is what one power loss took of the acknowledged writes: how
// many records acked since the power loss before it (or the start) are
// missing after it, and how long before it the oldest of them was acked.
type LossWindow struct {
	// PowerLoss is its number, from 1; AtNS its invoke time; Mode and
	// Trigger are the fault's.
	PowerLoss int    `json:"power_loss"`
	AtNS      int64  `json:"at_ns"`
	Mode      string `json:"mode,omitempty"`
	Trigger   string `json:"trigger,omitempty"`
	// Acked is the records acked in the epoch that the power loss ended;
	// Lost those of them, and of earlier epochs, that did not come through
	// it.
	Acked int `json:"acked"`
	Lost  int `json:"lost"`
	// WindowNS is how long before the power loss the oldest lost record was
	// acked (0 when none was lost).
	WindowNS int64 `json:"window_ns"`
	// UnackedLost counts values of indeterminate appends (killed by the
	// power loss) that did not come through: allowed in every fsync mode.
	UnackedLost int `json:"unacked_lost"`
}

// durability: across each power loss, an append acknowledged under fsync
// always is never lost (anomaly lost-acked). Under never and interval the
// loss of acknowledged records is allowed and counted, per power loss, in
// records and in how long before the power loss the oldest lost record was
// acked (Result.Windows). Values acked after the last power loss are
// lost-write's.
func durability(ix *index, opts Options) Result {
	c := newCollector("durability")
	if !ix.hasLosses() {
		return c.nothing()
	}
	always := opts.Fsync == protocol.FsyncAlways
	n := ix.epochs()
	windows := make([]LossWindow, n+1) // 1-based
	oldest := make([]int64, n+1)       // complete time of the oldest lost ack
	for k := 1; k <= n; k++ {
		op := ix.lossOp(k)
		windows[k] = LossWindow{PowerLoss: k, AtNS: op.Invoke, Trigger: op.Error}
		if op.Loss != nil {
			windows[k].Mode = op.Loss.Mode
		}
		oldest[k] = -1
	}
	var before func(t int64) int64
	if opts.Retention && ix.hasDrain {
		before = ix.knownOffsetBefore()
	}
	seen := map[string]bool{}
	for _, p := range ix.appends {
		op := &ix.h[p]
		e := ix.epochOf(op.Invoke)
		if e >= n || op.Outcome == history.Fail {
			continue
		}
		for i, v := range op.Values {
			if seen[v] {
				continue
			}
			if op.Outcome == history.Indeterminate {
				if !ix.appended[v].ok && ix.lostAt(v) > 0 {
					seen[v] = true
					windows[ix.lostAt(v)].UnackedLost++
				}
				continue
			}
			seen[v] = true
			windows[e+1].Acked++
			k := ix.lostAt(v)
			if k == 0 {
				continue
			}
			if before != nil {
				o, known := ix.offsetOf(p, i)
				pv := producerValue{value: v, pos: p, off: o, known: known}
				if mayBeDeleted(pv, before(op.Invoke), ix.drainFirst) {
					c.stats["retention-deleted"]++
					continue
				}
			}
			windows[k].Lost++
			if oldest[k] < 0 || op.Complete < oldest[k] {
				oldest[k] = op.Complete
			}
			c.stats["lost-acked"]++
			if !always {
				continue
			}
			loss := ix.lossOp(k)
			seenBy := "no poll delivered it before"
			if _, ok := ix.minOff[v]; ok {
				seenBy = "it was delivered before it, yet no poll after it delivered it"
			}
			ex := Example{
				Values:  []string{abbr(v)},
				Clients: []string{op.Client},
				TimesNS: []int64{op.Complete, loss.Invoke},
				Ops:     []int{op.Index, loss.Index},
			}
			if o, known := ix.offsetOf(p, i); known {
				ex.Offsets = []int64{o}
			}
			ex.Explanation = fmt.Sprintf("%s's append of %q (op %d) was acknowledged under fsync always %s %s, and is not in the log after it (%s)",
				op.Client, abbr(v), op.Index, beforeLoss(op.Complete, loss.Invoke), ix.lossName(k), seenBy)
			c.add("lost-acked", ex)
		}
	}
	maxRecords, maxNS := 0, int64(0)
	for k := 1; k <= n; k++ {
		if oldest[k] >= 0 {
			windows[k].WindowNS = max(0, windows[k].AtNS-oldest[k])
		}
		maxRecords = max(maxRecords, windows[k].Lost)
		maxNS = max(maxNS, windows[k].WindowNS)
		c.stats["acked-before-power-loss"] += windows[k].Acked
		c.stats["unacked-lost"] += windows[k].UnackedLost
	}
	c.stats["power-losses"] = n
	c.stats["window-records-max"] = maxRecords
	c.stats["window-ms-max"] = int(maxNS / 1e6)
	note := ""
	if !always {
		note = fmt.Sprintf("fsync %s: %d power losses took %d of the %d records acknowledged before them (allowed, counted); the most one took: %d records, the oldest acked %.1f ms before it",
			orDefault(opts.Fsync, protocol.FsyncNever), n, c.stats["lost-acked"], c.stats["acked-before-power-loss"], maxRecords, float64(maxNS)/1e6)
	}
	r := c.result(note)
	r.Windows = windows[1:]
	return r
}

// beforeLoss says how long before a power loss at loss an op completed at
// done: its reply may have been read just after the SIGKILLs, which the
// process had written before them.
func beforeLoss(done, loss int64) string {
	if d := loss - done; d >= 0 {
		return fmt.Sprintf("%.1f ms before", float64(d)/1e6)
	}
	return "(its reply was read as the machine went down) just before"
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
