package check

import "fmt"

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
