package check

import (
	"fmt"
	"math"
	"sort"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// endOfLog stands for "past the last offset of the log".
const endOfLog = int64(math.MaxInt64)

// sessKey names one consumer session: a client process.
type sessKey struct {
	client  string
	session int
}

// session is one consumer process: its init and its polls.
type session struct {
	client     string
	session    int
	group      string
	start      string
	phase      string
	initInvoke int64 // invoke time of init, or of its first op without one
	polls      []int // positions of its poll ops in the history, by invoke time
	records    int
}

// name is how examples name a session: the client, plus "#n" after a
// restart.
func (s *session) name() string {
	if s.session <= 1 {
		return s.client
	}
	return fmt.Sprintf("%s#%d", s.client, s.session)
}

// drainEarliest tells whether s is a drain-phase consumer reading from the
// earliest offset: the reference reading of the log.
func (s *session) drainEarliest() bool {
	return s.phase == "drain" && s.start == protocol.StartEarliest
}

// appendStatus is what the appends that sent one value achieved.
type appendStatus struct {
	ok, indet, fail bool
	okSends         int // how many ok appends sent it
	pos             int // position of the first append op that sent it
}

// offsetSource is the value of one offset of the log and who delivered it.
type offsetSource struct {
	value string
	pos   int // position of the poll op
}

// producerValue is one value of a confirmed append, in its producer's
// order.
type producerValue struct {
	value string
	pos   int // position of the append op
	off   int64
	known bool
}

// index holds what several checks derive from a history, computed once in
// linear time (plus sorting).
type index struct {
	h        history.History
	sessions []*session // in order of first appearance
	bySess   map[sessKey]*session
	appends  []int // positions of append ops
	acks     []int // positions of ack ops with an offset
	stucks   []int // positions of stuck events
	appended map[string]appendStatus
	// minOff is the lowest offset each delivered value was delivered at.
	minOff map[string]int64
	// offVal is the log L: each delivered offset's value, as the drain from
	// earliest saw it when it did, else as the first poll that saw it.
	offVal map[int64]offsetSource
	log    []int64 // L's offsets, sorted
	// drainFirst is the lowest offset a drain-from-earliest consumer
	// delivered (hasDrain false when none delivered anything).
	drainFirst int64
	hasDrain   bool
	polls      int
	records    int

	seqs        map[string][]producerValue // lazily, by producerSeqs
	seqsClients []string
	pw          *powerIndex // lazily, by power
}

// newIndex indexes h.
func newIndex(h history.History) *index {
	sent := 0
	for i := range h {
		if h[i].F == history.FAppend {
			sent += len(h[i].Values)
		}
	}
	ix := &index{
		h:        h,
		bySess:   map[sessKey]*session{},
		appended: make(map[string]appendStatus, sent),
	}
	for i := range h {
		op := &h[i]
		switch op.F {
		case history.FInit, history.FPoll, history.FAck:
			if op.Role == protocol.RoleProducer {
				break
			}
			s := ix.sessionOf(op)
			if op.F == history.FInit {
				s.start, s.initInvoke = op.Start, op.Invoke
				if op.Phase != "" {
					s.phase = op.Phase
				}
			}
			if op.F == history.FPoll {
				s.polls = append(s.polls, i)
				s.records += len(op.Records)
				ix.polls++
				ix.records += len(op.Records)
			}
			if op.F == history.FAck && op.Offset != nil {
				ix.acks = append(ix.acks, i)
			}
		case history.FAppend:
			ix.appends = append(ix.appends, i)
			for _, v := range op.Values {
				st, ok := ix.appended[v]
				if !ok {
					st.pos = i
				}
				switch op.Outcome {
				case history.OK:
					st.ok = true
					st.okSends++
				case history.Indeterminate:
					st.indet = true
				default:
					st.fail = true
				}
				ix.appended[v] = st
			}
		case history.FStuck:
			ix.stucks = append(ix.stucks, i)
		}
	}
	for _, s := range ix.sessions {
		sort.SliceStable(s.polls, func(a, b int) bool { return h[s.polls[a]].Invoke < h[s.polls[b]].Invoke })
	}

	ix.minOff = make(map[string]int64, ix.records)
	ix.offVal = make(map[int64]offsetSource, ix.records)
	for _, s := range ix.sessions {
		if !s.drainEarliest() {
			continue
		}
		for _, p := range s.polls {
			for _, r := range h[p].Records {
				if _, ok := ix.offVal[r.Offset]; !ok {
					ix.offVal[r.Offset] = offsetSource{r.Value, p}
				}
				if !ix.hasDrain || r.Offset < ix.drainFirst {
					ix.drainFirst, ix.hasDrain = r.Offset, true
				}
			}
		}
	}
	for _, s := range ix.sessions {
		for _, p := range s.polls {
			for _, r := range h[p].Records {
				if _, ok := ix.offVal[r.Offset]; !ok {
					ix.offVal[r.Offset] = offsetSource{r.Value, p}
				}
				if m, ok := ix.minOff[r.Value]; !ok || r.Offset < m {
					ix.minOff[r.Value] = r.Offset
				}
			}
		}
	}
	ix.log = make([]int64, 0, len(ix.offVal))
	for o := range ix.offVal {
		ix.log = append(ix.log, o)
	}
	sort.Slice(ix.log, func(a, b int) bool { return ix.log[a] < ix.log[b] })
	return ix
}

// sessionOf returns op's session, creating it on first sight.
func (ix *index) sessionOf(op *history.Op) *session {
	k := sessKey{op.Client, op.Session}
	s := ix.bySess[k]
	if s == nil {
		s = &session{client: op.Client, session: op.Session, phase: op.Phase, initInvoke: op.Invoke}
		ix.bySess[k] = s
		ix.sessions = append(ix.sessions, s)
	}
	if s.group == "" {
		s.group = op.Group
	}
	return s
}

// sessionAt returns the session of the op at position p.
func (ix *index) sessionAt(p int) *session {
	return ix.bySess[sessKey{ix.h[p].Client, ix.h[p].Session}]
}

// logPos returns the position of offset o in L, or where it would be.
func (ix *index) logPos(o int64) int {
	return sort.Search(len(ix.log), func(i int) bool { return ix.log[i] >= o })
}

// successor returns the first offset of L above o, or endOfLog.
func (ix *index) successor(o int64) int64 {
	i := sort.Search(len(ix.log), func(i int) bool { return ix.log[i] > o })
	if i == len(ix.log) {
		return endOfLog
	}
	return ix.log[i]
}

// offsetOf returns the offset of value i of the append at position p: where
// it was delivered, else what the append returned.
func (ix *index) offsetOf(p, i int) (int64, bool) {
	op := &ix.h[p]
	if o, ok := ix.minOff[op.Values[i]]; ok {
		return o, true
	}
	if i < len(op.Offsets) && op.Offsets[i] != nil {
		return *op.Offsets[i], true
	}
	return 0, false
}

// producerSeqs returns, per producer client, the values of its confirmed
// appends in invoke order (then batch order), each value once, and the
// clients in sorted order.
func (ix *index) producerSeqs() (map[string][]producerValue, []string) {
	if ix.seqs != nil {
		return ix.seqs, ix.seqsClients
	}
	byClient := map[string][]int{}
	for _, p := range ix.appends {
		if ix.h[p].Outcome == history.OK {
			byClient[ix.h[p].Client] = append(byClient[ix.h[p].Client], p)
		}
	}
	ix.seqs = make(map[string][]producerValue, len(byClient))
	for c, ps := range byClient {
		ix.seqsClients = append(ix.seqsClients, c)
		sort.SliceStable(ps, func(a, b int) bool { return ix.h[ps[a]].Invoke < ix.h[ps[b]].Invoke })
		seen := map[string]bool{} // values sent by several ok appends
		var seq []producerValue
		for _, p := range ps {
			for i, v := range ix.h[p].Values {
				if ix.appended[v].okSends > 1 {
					if seen[v] {
						continue
					}
					seen[v] = true
				}
				o, known := ix.offsetOf(p, i)
				seq = append(seq, producerValue{value: v, pos: p, off: o, known: known})
			}
		}
		ix.seqs[c] = seq
	}
	sort.Strings(ix.seqsClients)
	return ix.seqs, ix.seqsClients
}

// abbr abbreviates a value for an example.
func abbr(v string) string { return history.Abbreviate(v, 60) }

// collector gathers one check's anomalies and stats.
type collector struct {
	check string
	anoms map[string]*Anomaly
	stats map[string]int
}

func newCollector(check string) *collector {
	return &collector{check: check, anoms: map[string]*Anomaly{}, stats: map[string]int{}}
}

// add counts one instance of anomaly name, keeping ex if there is room.
func (c *collector) add(name string, ex Example) {
	a := c.anoms[name]
	if a == nil {
		a = &Anomaly{Name: name, Examples: []Example{}}
		c.anoms[name] = a
	}
	a.Count++
	if len(a.Examples) < MaxExamples {
		a.Examples = append(a.Examples, ex)
	}
}

// result returns the Result: FAIL when any anomaly was found.
func (c *collector) result(note string) Result {
	r := Result{Check: c.check, Status: Pass, Note: note}
	for _, a := range c.anoms {
		r.Anomalies = append(r.Anomalies, *a)
	}
	sort.Slice(r.Anomalies, func(a, b int) bool { return r.Anomalies[a].Name < r.Anomalies[b].Name })
	if len(r.Anomalies) > 0 {
		r.Status = Fail
	}
	if len(c.stats) > 0 {
		r.Stats = c.stats
	}
	return r
}

// nothing is the Result of a check with nothing to look at.
func (c *collector) nothing() Result {
	return Result{Check: c.check, Status: Pass, Note: "nothing to check"}
}
