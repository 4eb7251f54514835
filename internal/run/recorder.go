package run

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
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

// Spilling: beyond a threshold the recorder writes the history to a file
// in the run's temporary directory and keeps only the newest ops in memory.
const (
	// spillFileName is the spill file, in the run's temporary directory.
	spillFileName = "history.spill.jsonl"
	// DefaultSpillOps is how many ops the recorder keeps in memory before it
	// writes them to the spill file (Options.SpillOps).
	DefaultSpillOps = 50_000
	// spillBytes is how many bytes of values the recorder keeps in memory
	// before it writes them to the spill file, whatever their number.
	spillBytes = 64 << 20
)

// historyFullError is the recorder's problem when the history outgrew
// scenario.MaxHistoryOps or scenario.MaxHistoryBytes.
type historyFullError struct {
	ops, records, maxOps, maxRecords int
	bytes, maxBytes                  int64
}

func (e *historyFullError) Error() string {
	return fmt.Sprintf("the history reached %d operations, %d delivered records and %d bytes of values, more than klcheck can check (at most %d operations, %d records and %d bytes of values in a run), so the run was stopped",
		e.ops, e.records, e.bytes, e.maxOps, e.maxRecords, e.maxBytes)
}

// recorder collects the history of one run, with the counts, error types
// and latency histograms derived from it. It is safe for concurrent use.
//
// It keeps the history in memory until spill is called; from then on,
// whenever the ops in memory reach the spill threshold (in ops or in bytes
// of values), it appends them to the spill file, in the format of
// history.jsonl with whole values, so that memory holds at most one batch
// during the run. finish ends the spilling; each and readAll then read
// the whole history back, the spilled part first.
type recorder struct {
	start time.Time

	mu        sync.Mutex
	h         history.History // the ops not spilled, oldest first
	hBytes    int64           // bytes of values in h
	allBytes  int64           // bytes of values in the whole history
	counts    Counts
	errs      map[string]*ErrorType
	errKeys   []string
	hists     map[string]*hdrhistogram.Histogram
	sent      map[values.ID]int64 // invoke time of the first append of each value
	acked     map[string]int64    // per group, the highest offset of a main-phase ack that did not fail
	maxOps    int                 // the history's bounds: more is a problem
	maxRecs   int
	maxBytes  int64
	problem   error // the first problem: the history is full, or the spill failed
	onProblem func(error)

	spillPath  string // "" until spill is called
	spillOps   int
	spillBytes int64
	sealed     bool // finish was called: no more spilling
	// spillMu is held while a batch is written. add takes it before it
	// lets go of mu, so batches are written in the order of their ops.
	spillMu  sync.Mutex
	spillF   *os.File
	spillW   *history.Writer
	spilled  int   // ops in the spill file
	spillErr error // the spill file could not be written: the history is incomplete

	knownEnd atomic.Int64 // the highest offset any poll delivered since the last power loss (-1: none)
	// lastLoss is the invoke time of the last power loss (-1: none): polls
	// invoked before it say nothing of the log that is left.
	lastLoss atomic.Int64
}

func newRecorder(start time.Time, hists []string) *recorder {
	r := &recorder{start: start, errs: map[string]*ErrorType{}, hists: map[string]*hdrhistogram.Histogram{},
		sent: map[values.ID]int64{}, acked: map[string]int64{},
		maxOps: scenario.MaxHistoryOps, maxRecs: scenario.MaxHistoryRecords, maxBytes: scenario.MaxHistoryBytes}
	if len(hists) == 0 {
		hists = []string{HistAppend, HistPoll, HistE2E}
	}
	for _, n := range hists {
		r.hists[n] = hdrhistogram.New(1, maxLatency, 3)
	}
	r.knownEnd.Store(-1)
	r.lastLoss.Store(-1)
	return r
}

// powerLoss notes a power loss invoked at at: the log may have lost its
// tail, so knownEnd starts again from what later polls deliver.
func (r *recorder) powerLoss(at int64) {
	r.lastLoss.Store(at)
	r.knownEnd.Store(-1)
}

// spill makes the recorder write its history to path whenever it holds
// ops ops (DefaultSpillOps when ops <= 0) or spillBytes bytes of values in
// memory. Call it before the first add.
func (r *recorder) spill(path string, ops int) {
	if ops <= 0 {
		ops = DefaultSpillOps
	}
	r.mu.Lock()
	r.spillPath, r.spillOps, r.spillBytes = path, ops, spillBytes
	r.mu.Unlock()
}

// valueBytes is the size of the values op holds.
func valueBytes(op *history.Op) int64 {
	n := int64(0)
	for _, v := range op.Values {
		n += int64(len(v))
	}
	for _, rec := range op.Records {
		n += int64(len(rec.Value))
	}
	return n
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
	if op.F == history.FPoll && op.Invoke > r.lastLoss.Load() {
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
	op.Index = r.counts.Ops
	r.h = append(r.h, op)
	nb := valueBytes(&op)
	r.hBytes += nb
	r.allBytes += nb
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
		if op.Offset != nil && op.Outcome != history.Fail && op.Phase == phaseMain {
			if v, ok := r.acked[op.Group]; !ok || *op.Offset > v {
				r.acked[op.Group] = *op.Offset
			}
		}
	case history.FKill:
		c.Kills++
	case history.FPause:
		c.Pauses++
	case history.FStart:
		c.Starts++
	case history.FStuck:
		c.Stuck++
	case history.FPowerLoss:
		c.PowerLosses++
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
	var problem error
	if r.problem == nil && (c.Ops > r.maxOps || c.Delivered > r.maxRecs || r.allBytes > r.maxBytes) {
		r.problem = &historyFullError{ops: c.Ops, records: c.Delivered, bytes: r.allBytes,
			maxOps: r.maxOps, maxRecords: r.maxRecs, maxBytes: r.maxBytes}
		problem = r.problem
	}
	var batch history.History
	if r.spillPath != "" && !r.sealed && r.spillErr == nil && (len(r.h) >= r.spillOps || r.hBytes >= r.spillBytes) {
		batch, r.h, r.hBytes = r.h, make(history.History, 0, min(r.spillOps, 1024)), 0
		r.spillMu.Lock()
	}
	onProblem := r.onProblem
	r.mu.Unlock()
	if batch != nil {
		err := r.writeSpill(batch)
		r.spillMu.Unlock()
		if err != nil {
			r.mu.Lock()
			r.spillErr = err
			if r.problem == nil {
				r.problem, problem = err, err
			}
			r.mu.Unlock()
		}
	}
	if problem != nil && onProblem != nil {
		onProblem(problem)
	}
	return op
}

// writeSpill appends batch to the spill file, creating it on first use;
// the caller holds spillMu.
func (r *recorder) writeSpill(batch history.History) error {
	if r.spillF == nil {
		f, err := os.OpenFile(r.spillPath, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("create the history spill file: %w", err)
		}
		r.spillF, r.spillW = f, history.NewWriter(f, 0)
	}
	for i := range batch {
		if err := r.spillW.Write(&batch[i]); err != nil {
			return fmt.Errorf("%s: %w", r.spillPath, err)
		}
	}
	if err := r.spillW.Flush(); err != nil {
		return fmt.Errorf("%s: %w", r.spillPath, err)
	}
	r.spilled += len(batch)
	return nil
}

// record adds one latency sample; the caller holds mu.
func (r *recorder) record(name string, ns int64) {
	h := r.hists[name]
	if h == nil {
		return
	}
	_ = h.RecordValue(min(max(ns, 1), maxLatency))
}

// finish ends the spilling, once every batch in flight is written: the
// ops added from now on stay in memory. each and readAll need it first. It
// returns the error that made the spill file incomplete, if any.
func (r *recorder) finish() error {
	r.mu.Lock()
	r.sealed = true
	r.mu.Unlock()
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spillErr
}

// each calls fn with every op of the history in order, reading the
// spilled part back from the file one op at a time. Call finish first.
func (r *recorder) each(fn func(op *history.Op) error) error {
	r.spillMu.Lock()
	f, spilled, serr := r.spillF, r.spilled, r.spillErr
	r.spillMu.Unlock()
	if serr != nil {
		return fmt.Errorf("the history is incomplete: %w", serr)
	}
	if f != nil {
		if _, err := f.Seek(0, 0); err != nil {
			return fmt.Errorf("read the history spill file: %w", err)
		}
		n := 0
		err := history.ReadEach(f, func(op *history.Op) error {
			n++
			return fn(op)
		})
		if err != nil {
			return fmt.Errorf("read the history spill file %s: %w", r.spillPath, err)
		}
		if n != spilled {
			return fmt.Errorf("read the history spill file %s: %d ops, want %d", r.spillPath, n, spilled)
		}
	}
	r.mu.Lock()
	tail := r.h[:len(r.h):len(r.h)]
	r.mu.Unlock()
	for i := range tail {
		if err := fn(&tail[i]); err != nil {
			return err
		}
	}
	return nil
}

// readAll returns the whole history. A history that was spilled is read
// back with its strings interned, so that each distinct value is held
// once however often it was delivered. Call finish first.
func (r *recorder) readAll() (history.History, error) {
	r.spillMu.Lock()
	spilled := r.spillF != nil
	r.spillMu.Unlock()
	r.mu.Lock()
	if !spilled {
		h := r.h[:len(r.h):len(r.h)]
		r.mu.Unlock()
		return h, nil
	}
	n := r.counts.Ops
	r.mu.Unlock()
	h := make(history.History, 0, n)
	var in history.Interner
	err := r.each(func(op *history.Op) error {
		in.Op(op)
		h = append(h, *op)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// close closes and removes the spill file.
func (r *recorder) close() {
	r.mu.Lock()
	r.sealed = true
	r.mu.Unlock()
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	if r.spillF != nil {
		_ = r.spillF.Close()
		_ = os.Remove(r.spillPath)
		r.spillF, r.spillW = nil, nil
	}
}

// ackedByGroup returns, per consumer group, the highest offset of an ack
// of the main phase that did not fail (ok or indeterminate).
func (r *recorder) ackedByGroup() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.acked))
	for g, o := range r.acked {
		out[g] = o
	}
	return out
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
