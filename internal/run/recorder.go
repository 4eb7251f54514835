package run

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// Histogram names.
const (
	HistAppend = "append"
	HistPoll   = "poll"
	HistE2E    = "e2e"
)

// maxLatency is the largest latency a histogram records; longer ones are
// clamped to it.
const maxLatency = int64(10 * time.Minute)

// maxErrorExamples bounds the examples kept per error type.
const maxErrorExamples = 3

// recorder collects the history of one run, with the counts, error types
// and latency histograms derived from it. It is safe for concurrent use.
type recorder struct {
	start time.Time

	mu      sync.Mutex
	h       history.History
	counts  Counts
	errs    map[string]*ErrorType
	errKeys []string
	hists   map[string]*hdrhistogram.Histogram
	sent    map[values.ID]int64 // invoke time of the first append of each value

	knownEnd atomic.Int64 // the highest offset any poll delivered (-1: none)
}

func newRecorder(start time.Time, hists []string) *recorder {
	r := &recorder{start: start, errs: map[string]*ErrorType{}, hists: map[string]*hdrhistogram.Histogram{}, sent: map[values.ID]int64{}}
	if len(hists) == 0 {
		hists = []string{HistAppend, HistPoll, HistE2E}
	}
	for _, n := range hists {
		r.hists[n] = hdrhistogram.New(1, maxLatency, 3)
	}
	r.knownEnd.Store(-1)
	return r
}

// now is the time since the start of the run on the monotonic clock.
func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// noteSent remembers when value id was first sent, for e2e latency.
func (r *recorder) noteSent(ids []values.ID, at int64) {
	if r.hists[HistE2E] == nil {
		return
	}
	r.mu.Lock()
	for _, id := range ids {
		if _, ok := r.sent[id]; !ok {
			r.sent[id] = at
		}
	}
	r.mu.Unlock()
}

// add appends op to the history, setting its index, and updates the
// derived data. errType classifies a failed or indeterminate op ("" for
// none).
func (r *recorder) add(op history.Op, errType string) history.Op {
	if op.F == history.FPoll {
		for _, rec := range op.Records {
			for {
				cur := r.knownEnd.Load()
				if rec.Offset <= cur || r.knownEnd.CompareAndSwap(cur, rec.Offset) {
					break
				}
			}
		}
	}
	var e2e []int64
	if op.F == history.FPoll && op.Phase == phaseMain && len(op.Records) > 0 && r.hists[HistE2E] != nil {
		// Parse outside the lock: it checksums every value.
		ids := make([]values.ID, 0, len(op.Records))
		for _, rec := range op.Records {
			if id, err := values.Parse(rec.Value); err == nil {
				ids = append(ids, id)
			}
		}
		r.mu.Lock()
		for _, id := range ids {
			if at, ok := r.sent[id]; ok {
				e2e = append(e2e, op.Complete-at)
			}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = len(r.h)
	r.h = append(r.h, op)
	c := &r.counts
	c.Ops++
	switch op.F {
	case history.FAppend:
		c.Appends++
		c.ValuesSent += len(op.Values)
		if op.Outcome == history.OK {
			c.ValuesAcked += len(op.Values)
			r.record(HistAppend, op.Complete-op.Invoke)
		}
	case history.FPoll:
		c.Polls++
		c.Delivered += len(op.Records)
		if op.Outcome == history.OK && len(op.Records) > 0 {
			r.record(HistPoll, op.Complete-op.Invoke)
		}
		for _, d := range e2e {
			r.record(HistE2E, d)
		}
	case history.FAck:
		c.Acks++
	case history.FKill:
		c.Kills++
	case history.FPause:
		c.Pauses++
	case history.FStart:
		c.Starts++
	case history.FStuck:
		c.Stuck++
	}
	switch op.Outcome {
	case history.Fail:
		c.Failed++
	case history.Indeterminate:
		c.Indeterminate++
	}
	if errType != "" {
		et := r.errs[errType]
		if et == nil {
			et = &ErrorType{Type: errType}
			r.errs[errType] = et
			r.errKeys = append(r.errKeys, errType)
		}
		et.Count++
		if len(et.Examples) < maxErrorExamples {
			et.Examples = append(et.Examples, fmt.Sprintf("%s#%d op %d at %.3fs: %s",
				op.Client, op.Session, op.Index, float64(op.Invoke)/1e9, op.Error))
		}
	}
	return op
}

// record adds one latency sample; the caller holds mu.
func (r *recorder) record(name string, ns int64) {
	h := r.hists[name]
	if h == nil {
		return
	}
	_ = h.RecordValue(min(max(ns, 1), maxLatency))
}

// history returns a copy of the history so far.
func (r *recorder) history() history.History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(history.History(nil), r.h...)
}

// snapshot returns the counts so far.
func (r *recorder) snapshot() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// errorTypes returns the error types in order of first appearance.
func (r *recorder) errorTypes() []ErrorType {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ErrorType, 0, len(r.errKeys))
	for _, k := range r.errKeys {
		et := *r.errs[k]
		et.Examples = append([]string(nil), et.Examples...)
		out = append(out, et)
	}
	return out
}

// latencies summarizes the histograms.
func (r *recorder) latencies() map[string]Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Latency{}
	for name, h := range r.hists {
		if h.TotalCount() == 0 {
			out[name] = Latency{}
			continue
		}
		out[name] = Latency{
			Count: h.TotalCount(),
			P50NS: h.ValueAtQuantile(50),
			P99NS: h.ValueAtQuantile(99),
			MaxNS: h.Max(),
		}
	}
	return out
}

// errorTypeOf classifies an op's failure: "append fail: error",
// "poll indeterminate: killed", …; "" for an ok op.
func errorTypeOf(f string, outcome history.Outcome, code string, err error) string {
	switch outcome {
	case history.Fail:
		return fmt.Sprintf("%s fail: %s", f, code)
	case history.Indeterminate:
		var ce *protocol.CallError
		if errors.As(err, &ce) {
			return fmt.Sprintf("%s indeterminate: %s", f, ce.Kind)
		}
		return fmt.Sprintf("%s indeterminate", f)
	}
	return ""
}
