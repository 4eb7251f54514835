package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sync/errgroup"

	"github.com/kafka-lite/kafka-lite/ref"
)

const topicName = "t"

// produceResult is one produce run.
type produceResult struct {
	elapsed int64                   // ns from the first append to the last return
	publish *hdrhistogram.Histogram // per-message append (service) latency, ns
}

// processResult is one process run.
type processResult struct {
	elapsed int64
	poll    *hdrhistogram.Histogram // per-poll latency, ns
}

// parallelResult is one parallel run.
type parallelResult struct {
	elapsed  int64
	publish  *hdrhistogram.Histogram
	e2e      *hdrhistogram.Histogram // from the actual send to the consumer holding the record
	intended *hdrhistogram.Histogram // from the intended send time (rate-limited runs)
	newest   int64                   // e2e of the last message, ns
}

// openLoop is the schedule and the measurements of one parallel run of n
// messages: message i is intended to be sent at start + i×interval
// (interval 0: as fast as possible), and its actual send time is in sent[i].
type openLoop struct {
	start, interval int64
	sent            []atomic.Int64
	res             parallelResult
}

// newOpenLoop schedules n messages at rate msgs/s (0: full speed), the first
// lead from now.
func newOpenLoop(n int, rate float64, lead time.Duration) *openLoop {
	ol := &openLoop{start: mono() + int64(lead), sent: make([]atomic.Int64, n),
		res: parallelResult{publish: newHist(), e2e: newHist(), intended: newHist()}}
	if rate > 0 {
		ol.interval = int64(1e9 / rate)
	}
	return ol
}

// intended is message i's intended send time.
func (ol *openLoop) intended(i int64) int64 { return ol.start + i*ol.interval }

// delivered records that the consumer has held message i since now: its
// end-to-end latency from the actual send and, in a rate-limited run, from
// the intended one (so a producer that fell behind is charged).
func (ol *openLoop) delivered(i, now int64) {
	s := ol.sent[i].Load()
	record(ol.res.e2e, now-s)
	if ol.interval > 0 {
		record(ol.res.intended, now-ol.intended(i))
	}
	if i == int64(len(ol.sent)-1) {
		ol.res.newest = now - s
	}
}

// parallelSpec says how to run the parallel experiment.
type parallelSpec struct {
	rate float64 // msgs/s; 0 = as fast as possible
	wait ref.WaitStrategy
}

// impl is an implementation under test.
type impl interface {
	Name() string
	produce(ctx context.Context, dir string, vals []string) (produceResult, error)
	process(ctx context.Context, dir string, n int) (processResult, error)
	parallel(ctx context.Context, dir string, vals []string, spec parallelSpec) (parallelResult, error)
	// chunkDir is where produce left its data, for the raw read limit.
	chunkDir(dir string) string
}

// refImpl is the reference log, in process.
type refImpl struct {
	opts ref.Options
	slow time.Duration // KLBENCH_SLOW_APPEND
}

func (r *refImpl) Name() string               { return "ref" }
func (r *refImpl) chunkDir(dir string) string { return dir + "/" + topicName }

func payloads(vals []string) [][]byte {
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = jsonPayload(v)
	}
	return out
}

func (r *refImpl) produce(ctx context.Context, dir string, vals []string) (produceResult, error) {
	pl := payloads(vals)
	t, err := ref.Open(dir, topicName, r.opts)
	if err != nil {
		return produceResult{}, err
	}
	defer t.Close()
	p, err := t.NewProducer()
	if err != nil {
		return produceResult{}, err
	}
	h := newHist()
	slow := int64(r.slow)
	t0 := mono()
	prev := t0
	for _, v := range pl {
		if _, err := p.Append(v); err != nil {
			p.Close()
			return produceResult{}, err
		}
		if slow > 0 {
			spinUntil(mono() + slow)
		}
		// One clock read per append: the sample includes recording the
		// previous one (a few ns).
		now := mono()
		record(h, now-prev)
		prev = now
	}
	if err := p.Close(); err != nil {
		return produceResult{}, err
	}
	return produceResult{elapsed: prev - t0, publish: h}, nil
}

func (r *refImpl) process(ctx context.Context, dir string, n int) (processResult, error) {
	t, err := ref.Open(dir, topicName, r.opts)
	if err != nil {
		return processResult{}, err
	}
	defer t.Close()
	h := newHist()
	t0 := mono()
	c, err := t.NewConsumer(ref.ConsumerOptions{From: ref.FromEarliest})
	if err != nil {
		return processResult{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	got := 0
	prev := mono()
	var last int64 = -1
	for got < n {
		recs, err := c.Poll(ctx, 4096)
		if err != nil {
			return processResult{}, fmt.Errorf("poll after %d of %d records: %w", got, n, err)
		}
		got += len(recs)
		if len(recs) > 0 {
			last = recs[len(recs)-1].Offset
		}
		now := mono()
		record(h, now-prev)
		prev = now
	}
	if last != int64(n-1) {
		return processResult{}, fmt.Errorf("read %d records, last offset %d, want %d", got, last, n-1)
	}
	return processResult{elapsed: prev - t0, poll: h}, nil
}

func (r *refImpl) parallel(ctx context.Context, dir string, vals []string, spec parallelSpec) (parallelResult, error) {
	pl := payloads(vals)
	n := len(pl)
	t, err := ref.Open(dir, topicName, r.opts)
	if err != nil {
		return parallelResult{}, err
	}
	defer t.Close()
	p, err := t.NewProducer()
	if err != nil {
		return parallelResult{}, err
	}
	defer p.Close()
	c, err := t.NewConsumer(ref.ConsumerOptions{From: ref.FromEarliest, Wait: spec.wait})
	if err != nil {
		return parallelResult{}, err
	}
	defer c.Close()
	ol := newOpenLoop(n, spec.rate, 2*time.Millisecond)
	res := &ol.res
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	// The first of the two to fail cancels the other.
	g, gctx := errgroup.WithContext(ctx)
	var cEnd int64
	g.Go(func() error { // consumer
		if spec.wait == ref.WaitSpin {
			// A spinning reader keeps its thread, as a latency-critical
			// consumer would (and as JLBH pins its threads).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		got := 0
		for got < n {
			recs, err := c.Poll(gctx, 4096)
			if err != nil {
				return fmt.Errorf("consumer: poll after %d of %d records: %w", got, n, err)
			}
			now := mono()
			for _, rec := range recs {
				o := rec.Offset
				if o < 0 || o >= int64(n) {
					return fmt.Errorf("consumer: offset %d out of range", o)
				}
				ol.delivered(o, now)
			}
			got += len(recs)
		}
		cEnd = mono()
		return nil
	})
	g.Go(func() error { // producer
		spinUntil(ol.start)
		slow := int64(r.slow)
		for i, v := range pl {
			if ol.interval > 0 {
				sleepUntil(ol.intended(int64(i)), spec.wait != ref.WaitSpin)
			}
			s := mono()
			ol.sent[i].Store(s)
			if _, err := p.Append(v); err != nil {
				return fmt.Errorf("producer: append %d: %w", i, err)
			}
			if slow > 0 {
				spinUntil(mono() + slow)
			}
			record(res.publish, mono()-s)
			if gctx.Err() != nil {
				return nil // the consumer failed: its error is the run's
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return *res, err
	}
	res.elapsed = cEnd - ol.start
	return *res, nil
}
