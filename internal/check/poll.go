package check

import "fmt"

// pollOrder: within one consumer session, consecutive delivered records
// (across polls) are consecutive in the log L, leaving out the offsets of L
// that held nothing in the session's epoch (see power.go).
func pollOrder(ix *index, opts Options) Result {
	c := newCollector("poll-order")
	if ix.records == 0 {
		return c.nothing()
	}
	sessions := 0
	for _, s := range ix.sessions {
		if s.records == 0 {
			continue
		}
		sessions++
		epoch := 0
		if ix.hasLosses() {
			epoch = ix.epochOf(s.initInvoke)
		}
		have := false
		var prevOff int64
		var prevVal string
		var prevPos int
		for _, p := range s.polls {
			op := &ix.h[p]
			for _, r := range op.Records {
				if !have {
					have, prevOff, prevVal, prevPos = true, r.Offset, r.Value, p
					continue
				}
				po := &ix.h[prevPos]
				ex := Example{
					Clients: []string{s.name()},
					TimesNS: []int64{po.Invoke, op.Invoke},
					Ops:     []int{po.Index, op.Index},
				}
				switch pi, ci := ix.logPos(prevOff), ix.logPos(r.Offset); {
				case r.Offset <= prevOff:
					ex.Explanation = fmt.Sprintf("%s got offset %d (%q) after offset %d (%q): offsets went backwards or repeated",
						s.name(), r.Offset, abbr(r.Value), prevOff, abbr(prevVal))
					ex.Offsets = []int64{prevOff, r.Offset}
					ex.Values = []string{abbr(prevVal), abbr(r.Value)}
					c.add("nonmonotonic-poll", ex)
				case ci-pi > 1 && opts.Retention && ix.hasDrain && ix.log[ci-1] < ix.drainFirst:
					c.stats["retention-resets"]++
				case ci-pi > 1:
					// Offsets whose values did not exist in this session's
					// epoch (appended after a power loss that followed it, or
					// lost in one before it) were not there to deliver.
					skipped, n := int64(0), 0
					for _, o := range ix.log[pi+1 : ci] {
						if ix.offsetExistsIn(o, epoch) {
							if n == 0 {
								skipped = o
							}
							n++
						}
					}
					if n == 0 {
						c.stats["skipped-absent-after-power-loss"] += ci - pi - 1
						break
					}
					ex.Explanation = fmt.Sprintf("%s went from offset %d to %d, skipping %d record(s) of the log, the first at offset %d (%q)",
						s.name(), prevOff, r.Offset, n, skipped, abbr(ix.offVal[skipped].value))
					ex.Offsets = []int64{prevOff, skipped, r.Offset}
					ex.Values = []string{abbr(prevVal), abbr(ix.offVal[skipped].value), abbr(r.Value)}
					c.add("poll-skip", ex)
				}
				prevOff, prevVal, prevPos = r.Offset, r.Value, p
			}
		}
	}
	c.stats["sessions"] = sessions
	c.stats["records"] = ix.records
	return c.result("")
}
