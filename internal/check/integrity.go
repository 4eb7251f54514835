package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// integrity: every delivered value is byte-identical to a value some ok or
// indeterminate append sent. Each distinct (offset, value) pair counts once.
// A value that only failed appends (ok:false: EFBIG, ENOSPC, invalid) sent
// is Jepsen's G1a, an aborted read.
func integrity(ix *index, _ Options) Result {
	c := newCollector("integrity")
	if ix.records == 0 {
		return c.nothing()
	}
	type recKey struct {
		off int64
		v   string
	}
	seen := map[recKey]bool{}
	var sorted []string // every appended value, sorted; built on first need
	for _, s := range ix.sessions {
		for _, p := range s.polls {
			op := &ix.h[p]
			for _, r := range op.Records {
				st, appended := ix.appended[r.Value]
				if appended && (st.ok || st.indet) {
					continue
				}
				k := recKey{r.Offset, r.Value}
				if seen[k] {
					continue
				}
				seen[k] = true
				ex := Example{
					Offsets: []int64{r.Offset},
					Values:  []string{abbr(r.Value)},
					Clients: []string{s.name()},
					TimesNS: []int64{op.Invoke},
					Ops:     []int{op.Index},
				}
				if appended {
					a := &ix.h[st.pos]
					ex.Explanation = fmt.Sprintf("offset %d holds %q for %s, but every append that sent it failed (op %d by %s: %s): an aborted read, a failed append took effect",
						r.Offset, abbr(r.Value), s.name(), a.Index, a.Client, a.Error)
					ex.Ops = append(ex.Ops, a.Index)
					c.add("G1a", ex)
					continue
				}
				if id, err := values.Parse(r.Value); err == nil {
					ex.Explanation = fmt.Sprintf("offset %d holds %q for %s, a well-formed value (%s) that no append sent",
						r.Offset, abbr(r.Value), s.name(), id)
					c.add("phantom", ex)
					continue
				}
				if sorted == nil {
					sorted = make([]string, 0, len(ix.appended))
					for v := range ix.appended {
						sorted = append(sorted, v)
					}
					sort.Strings(sorted)
				}
				if whole, ok := extension(sorted, r.Value); ok {
					a := &ix.h[ix.appended[whole].pos]
					ex.Explanation = fmt.Sprintf("offset %d holds %q for %s: only the first %d of the %d bytes %s appended (op %d)",
						r.Offset, abbr(r.Value), s.name(), len(r.Value), len(whole), a.Client, a.Index)
					ex.Values = append(ex.Values, abbr(whole))
					ex.Ops = append(ex.Ops, a.Index)
					c.add("torn", ex)
					continue
				}
				ex.Explanation = fmt.Sprintf("offset %d holds %q (%d bytes) for %s: it fails its checksum and is no prefix of any appended value (merged, corrupted or garbage)",
					r.Offset, abbr(r.Value), len(r.Value), s.name())
				c.add("merged-or-corrupt", ex)
			}
		}
	}
	c.stats["records"] = ix.records
	return c.result("")
}

// extension returns a value of sorted that v is a strict prefix of. The
// values with prefix v sort together right after v.
func extension(sorted []string, v string) (string, bool) {
	i := sort.SearchStrings(sorted, v)
	for ; i < len(sorted) && strings.HasPrefix(sorted[i], v); i++ {
		if len(sorted[i]) > len(v) {
			return sorted[i], true
		}
	}
	return "", false
}

// lostWrite: every value of a confirmed append is delivered by some poll.
func lostWrite(ix *index, opts Options) Result {
	c := newCollector("lost-write")
	seqs, clients := ix.producerSeqs()
	if len(clients) == 0 {
		return c.nothing()
	}
	confirmed := 0
	var before func(t int64) int64
	if opts.Retention && ix.hasDrain {
		before = ix.knownOffsetBefore()
	}
	for _, cl := range clients {
		seq := seqs[cl]
		confirmed += len(seq)
		// lower: the highest known offset of a value the producer sent
		// before the current one, which must precede it.
		lower := int64(-1)
		for _, pv := range seq {
			prevLower := lower
			if pv.known {
				lower = max(lower, pv.off)
			}
			if _, ok := ix.minOff[pv.value]; ok {
				continue
			}
			if ix.hasLosses() && ix.epochOf(ix.h[pv.pos].Invoke) < ix.epochs() {
				// Acked before a power loss: whether it had to survive is
				// the durability check's to say.
				c.stats["before-power-loss"]++
				continue
			}
			if before != nil && mayBeDeleted(pv, max(prevLower, before(ix.h[pv.pos].Invoke)), ix.drainFirst) {
				c.stats["retention-deleted"]++
				continue
			}
			op := &ix.h[pv.pos]
			ex := Example{
				Values:  []string{abbr(pv.value)},
				Clients: []string{op.Client},
				TimesNS: []int64{op.Invoke, op.Complete},
				Ops:     []int{op.Index},
			}
			where := "no offset returned"
			if pv.known {
				ex.Offsets = []int64{pv.off}
				where = fmt.Sprintf("returned offset %d", pv.off)
			}
			ex.Explanation = fmt.Sprintf("%s's append of %q (op %d, %s) was acknowledged but no poll ever delivered it",
				op.Client, abbr(pv.value), op.Index, where)
			c.add("lost-write", ex)
		}
	}
	seen := map[string]bool{}
	for _, p := range ix.appends {
		if ix.h[p].Outcome != history.Indeterminate {
			continue
		}
		for _, v := range ix.h[p].Values {
			if _, ok := ix.minOff[v]; !ok && !ix.appended[v].ok && !seen[v] {
				seen[v] = true
				c.stats["unseen-indeterminate"]++
			}
		}
	}
	c.stats["confirmed"] = confirmed
	return c.result("")
}

// mayBeDeleted tells whether retention may have deleted a value that no
// poll delivered: with its offset known, whether it is below first; with it
// unknown, whether nothing proves it at or above first. lower is the
// highest known offset of a value that must precede it (-1 if none).
func mayBeDeleted(pv producerValue, lower, first int64) bool {
	if pv.known {
		return pv.off < first
	}
	return lower < first
}

// knownOffsetBefore returns a function that gives, for a time t, the
// highest known offset of a value of an ok append that completed before t.
// Such a value precedes any append invoked at t (realtime order).
func (ix *index) knownOffsetBefore() func(t int64) int64 {
	type done struct{ complete, off int64 }
	var ds []done
	for _, p := range ix.appends {
		op := &ix.h[p]
		if op.Outcome != history.OK {
			continue
		}
		hi, any := int64(-1), false
		for i := range op.Values {
			if o, known := ix.offsetOf(p, i); known {
				hi, any = max(hi, o), true
			}
		}
		if any {
			ds = append(ds, done{op.Complete, hi})
		}
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].complete < ds[b].complete })
	for i := 1; i < len(ds); i++ {
		ds[i].off = max(ds[i].off, ds[i-1].off)
	}
	return func(t int64) int64 {
		k := sort.Search(len(ds), func(k int) bool { return ds[k].complete >= t })
		if k == 0 {
			return -1
		}
		return ds[k-1].off
	}
}
