package check

import (
	"fmt"
	"sort"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// producerOrder: each producer's confirmed values, in invoke and batch
// order, sit at increasing offsets. Each value at or below the offset of the
// previous one (with a known offset) counts once. Values lost in a power
// loss are left out: a later value may rightly take their offset.
func producerOrder(ix *index, _ Options) Result {
	c := newCollector("producer-order")
	seqs, clients := ix.producerSeqs()
	if len(clients) == 0 {
		return c.nothing()
	}
	checked := 0
	for _, cl := range clients {
		var prev *producerValue
		for i := range seqs[cl] {
			pv := &seqs[cl][i]
			if !pv.known {
				continue
			}
			if ix.lostAt(pv.value) > 0 {
				// Lost in a power loss: its offset may hold a later value.
				c.stats["lost-in-power-loss"]++
				continue
			}
			checked++
			if prev != nil && pv.off <= prev.off {
				a, b := &ix.h[prev.pos], &ix.h[pv.pos]
				c.add("producer-order", Example{
					Explanation: fmt.Sprintf("%s sent %q (op %d) before %q (op %d), but they sit at offsets %d and %d",
						cl, abbr(prev.value), a.Index, abbr(pv.value), b.Index, prev.off, pv.off),
					Offsets: []int64{prev.off, pv.off},
					Values:  []string{abbr(prev.value), abbr(pv.value)},
					Clients: []string{cl},
					TimesNS: []int64{a.Invoke, b.Invoke},
					Ops:     []int{a.Index, b.Index},
				})
			}
			prev = pv
		}
	}
	c.stats["producers"] = len(clients)
	c.stats["values"] = checked
	return c.result("")
}

// realtimeOrder: if confirmed append A completed before confirmed append B
// was invoked, every offset of A is below every offset of B. Values lost in
// a power loss are left out, as in producerOrder. Each such B
// counts once. O(n log n): appends sorted by completion with a prefix
// maximum of their highest offset, and a binary search per B.
func realtimeOrder(ix *index, _ Options) Result {
	c := newCollector("realtime-order")
	type span struct {
		pos              int
		minOff, maxOff   int64
		minVal, maxVal   string
		invoke, complete int64
	}
	var spans []span
	for _, p := range ix.appends {
		op := &ix.h[p]
		if op.Outcome != history.OK {
			continue
		}
		sp := span{pos: p, invoke: op.Invoke, complete: op.Complete}
		known := false
		for i, v := range op.Values {
			o, ok := ix.offsetOf(p, i)
			if !ok || ix.lostAt(v) > 0 {
				continue
			}
			if !known || o < sp.minOff {
				sp.minOff, sp.minVal = o, v
			}
			if !known || o > sp.maxOff {
				sp.maxOff, sp.maxVal = o, v
			}
			known = true
		}
		if known {
			spans = append(spans, sp)
		}
	}
	if len(spans) < 2 {
		return c.nothing()
	}
	byComplete := make([]int, len(spans))
	for i := range byComplete {
		byComplete[i] = i
	}
	sort.SliceStable(byComplete, func(a, b int) bool { return spans[byComplete[a]].complete < spans[byComplete[b]].complete })
	// maxBy[k]: the span with the highest offset among the first k+1 to
	// complete.
	maxBy := make([]int, len(spans))
	for k, i := range byComplete {
		maxBy[k] = i
		if k > 0 && spans[maxBy[k-1]].maxOff >= spans[i].maxOff {
			maxBy[k] = maxBy[k-1]
		}
	}
	for _, b := range spans {
		k := sort.Search(len(byComplete), func(k int) bool { return spans[byComplete[k]].complete >= b.invoke })
		if k == 0 {
			continue
		}
		a := spans[maxBy[k-1]]
		if a.maxOff < b.minOff {
			continue
		}
		ao, bo := &ix.h[a.pos], &ix.h[b.pos]
		c.add("realtime-order", Example{
			Explanation: fmt.Sprintf("%s's append (op %d) completed at %dns before %s's append (op %d) was invoked at %dns, yet wrote offset %d (%q), not below offset %d (%q)",
				ao.Client, ao.Index, a.complete, bo.Client, bo.Index, b.invoke, a.maxOff, abbr(a.maxVal), b.minOff, abbr(b.minVal)),
			Offsets: []int64{a.maxOff, b.minOff},
			Values:  []string{abbr(a.maxVal), abbr(b.minVal)},
			Clients: []string{ao.Client, bo.Client},
			TimesNS: []int64{a.complete, b.invoke},
			Ops:     []int{ao.Index, bo.Index},
		})
	}
	c.stats["appends"] = len(spans)
	return c.result("")
}
