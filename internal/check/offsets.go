package check

import (
	"fmt"
	"sort"
)

// duplicate: no value is delivered at more than one offset. Each such value
// counts once.
func duplicate(ix *index, _ Options) Result {
	c := newCollector("duplicate")
	if ix.records == 0 {
		return c.nothing()
	}
	type first struct {
		off int64
		pos int
	}
	firsts := make(map[string]first, len(ix.minOff))
	reported := map[string]bool{}
	for _, s := range ix.sessions {
		for _, p := range s.polls {
			op := &ix.h[p]
			for _, r := range op.Records {
				f, ok := firsts[r.Value]
				if !ok {
					firsts[r.Value] = first{r.Offset, p}
					continue
				}
				if f.off == r.Offset || reported[r.Value] {
					continue
				}
				reported[r.Value] = true
				fo := &ix.h[f.pos]
				c.add("duplicate", Example{
					Explanation: fmt.Sprintf("value %q is at offset %d for %s and at offset %d for %s: one message stored twice",
						abbr(r.Value), f.off, ix.sessionAt(f.pos).name(), r.Offset, s.name()),
					Offsets: []int64{f.off, r.Offset},
					Values:  []string{abbr(r.Value)},
					Clients: []string{ix.sessionAt(f.pos).name(), s.name()},
					TimesNS: []int64{fo.Invoke, op.Invoke},
					Ops:     []int{fo.Index, op.Index},
				})
			}
		}
	}
	c.stats["values"] = len(firsts)
	return c.result("")
}

// inconsistentOffsets: no offset is delivered with two different values, by
// any consumers. Each such offset counts once.
func inconsistentOffsets(ix *index, _ Options) Result {
	c := newCollector("inconsistent-offsets")
	if ix.records == 0 {
		return c.nothing()
	}
	if ix.hasLosses() {
		return inconsistentAcrossLosses(ix, c)
	}
	reported := map[int64]bool{}
	for _, s := range ix.sessions {
		for _, p := range s.polls {
			op := &ix.h[p]
			for _, r := range op.Records {
				src := ix.offVal[r.Offset]
				if src.value == r.Value || reported[r.Offset] {
					continue
				}
				reported[r.Offset] = true
				so := &ix.h[src.pos]
				ref := ix.sessionAt(src.pos).name()
				c.add("inconsistent-offsets", Example{
					Explanation: fmt.Sprintf("offset %d holds %q for %s but %q for %s",
						r.Offset, abbr(r.Value), s.name(), abbr(src.value), ref),
					Offsets: []int64{r.Offset},
					Values:  []string{abbr(r.Value), abbr(src.value)},
					Clients: []string{s.name(), ref},
					TimesNS: []int64{op.Invoke, so.Invoke},
					Ops:     []int{op.Index, so.Index},
				})
			}
		}
	}
	c.stats["offsets"] = len(ix.log)
	return c.result("")
}

// inconsistentAcrossLosses is inconsistent-offsets over a history with
// power losses: an offset may hold a new value after a power loss only if
// the value it held before is gone, never seen again from that power loss
// on (the durability check counts or flags that loss). Two values at one
// offset within one epoch, or an old value seen again after the new one
// appeared, are anomalies. Each such offset counts once.
func inconsistentAcrossLosses(ix *index, c *collector) Result {
	pw := ix.power()
	offs := make([]int64, 0, len(pw.atOffset))
	for o, sights := range pw.atOffset {
		if len(sights) > 1 {
			offs = append(offs, o)
		}
	}
	sort.Slice(offs, func(a, b int) bool { return offs[a] < offs[b] })
	for _, o := range offs {
		sights := append([]offsetSight(nil), pw.atOffset[o]...)
		sort.SliceStable(sights, func(a, b int) bool { return sights[a].first < sights[b].first })
		bad := -1
		for i := 1; i < len(sights); i++ {
			if sights[i-1].last >= sights[i].first {
				bad = i
				break
			}
		}
		if bad < 0 {
			c.stats["reused-after-power-loss"] += len(sights) - 1
			continue
		}
		a, b := sights[bad-1], sights[bad]
		ao, bo := &ix.h[a.pos], &ix.h[b.pos]
		an, bn := ix.sessionAt(a.pos).name(), ix.sessionAt(b.pos).name()
		why := fmt.Sprintf("both in epoch %d, with no power loss between them", b.first)
		if b.first < a.last {
			why = fmt.Sprintf("and %q was still seen there in epoch %d, after %q appeared in epoch %d: it was not lost, so its offset may not be reused", abbr(a.value), a.last, abbr(b.value), b.first)
		}
		c.add("inconsistent-offsets", Example{
			Explanation: fmt.Sprintf("offset %d holds %q for %s but %q for %s, %s",
				o, abbr(a.value), an, abbr(b.value), bn, why),
			Offsets: []int64{o},
			Values:  []string{abbr(a.value), abbr(b.value)},
			Clients: []string{an, bn},
			TimesNS: []int64{ao.Invoke, bo.Invoke},
			Ops:     []int{ao.Index, bo.Index},
		})
	}
	c.stats["offsets"] = len(ix.log)
	return c.result("")
}
