package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/ref"
)

// Published figures of the original Python proof of concept, each from a
// whole script run as a process.
const (
	publishedProduce  = "1115 ms"
	publishedProcess  = "443 ms"
	publishedParallel = "about 23 µs"
)

// suiteParams are the sizes of one run of the experiments.
type suiteParams struct {
	Count       int     `json:"count"`
	Size        int     `json:"size"`
	Reps        int     `json:"reps"`
	Rate        float64 `json:"rate"`
	RateCount   int     `json:"rateCount"`
	WakeSamples int     `json:"wakeSamples"`
	// Batch is the protocol's append batch, and the batched write limit's.
	Batch int `json:"batch,omitempty"`
}

// suite runs the experiments.
type suite struct {
	params suiteParams
	impls  []impl
	waits  []ref.WaitStrategy // rate-limited e2e rows, one per strategy
	wait   ref.WaitStrategy   // full-speed parallel row
	base   string
	prog   *progress
	col    *collector
	failed map[string]string // impl → first failure
	// wakeModes are the bare wake-up limits measured (inotify, spin).
	wakeModes []ref.WaitStrategy
	// exps are the experiments to run (see Experiments).
	exps map[string]bool
	// cli are the programs of the cli experiment, nil if it does not run;
	// cliErr is why it failed, if it did.
	cli    *cliTools
	cliErr string
}

// Experiments are the experiments of a run, in the order they run, for
// --only. scale is the scale section.
var Experiments = []string{"produce", "process", "parallel", "e2e", "cli", "scale"}

// suiteExperiments are the experiments newSuite runs by default: the
// proof of concept's.
var suiteExperiments = []string{"produce", "process", "parallel", "e2e"}

// newSuite prepares a run of impls with topics under base. waits are the
// strategies of the rate-limited rows; the first is also the full-speed
// parallel row's.
func newSuite(params suiteParams, impls []impl, base string, prog *progress, waits ...ref.WaitStrategy) *suite {
	if params.Batch == 0 {
		params.Batch = defaultBatch
	}
	s := &suite{params: params, impls: impls, wait: waits[0], waits: waits, base: base, prog: prog,
		col: newCollector(), failed: map[string]string{}, exps: map[string]bool{},
		wakeModes: []ref.WaitStrategy{ref.WaitInotify, ref.WaitSpin}}
	for _, e := range suiteExperiments {
		s.exps[e] = true
	}
	return s
}

// has says whether experiment exp runs.
func (s *suite) has(exp string) bool { return s.exps[exp] }

// hasProtocol says whether an implementation runs behind the protocol:
// then the batched write limit is measured too.
func (s *suite) hasProtocol() bool {
	for _, im := range s.impls {
		if _, ok := im.(*protoImpl); ok {
			return true
		}
	}
	return false
}

// cliRuns says whether the cli experiment runs, or is to be reported as
// failed.
func (s *suite) cliRuns() bool { return s.has("cli") && (s.cli != nil || s.cliErr != "") }

// cliFail records the cli experiment's failure; it is not run again.
func (s *suite) cliFail(err error) {
	if s.cliErr == "" {
		s.cliErr = err.Error()
		s.prog.warn("cli experiment failed: " + s.cliErr)
	}
}

func (s *suite) stepf(format string, a ...any) { s.prog.step(fmt.Sprintf(format, a...)) }

func (s *suite) fail(im impl, exp string, err error) {
	msg := fmt.Sprintf("%s: %v", exp, err)
	s.failed[im.Name()] = msg
	s.prog.warn(fmt.Sprintf("impl %s failed in %s", im.Name(), msg))
}

// live are the implementations that have not failed yet.
func (s *suite) live() []impl {
	var out []impl
	for _, im := range s.impls {
		if s.failed[im.Name()] == "" {
			out = append(out, im)
		}
	}
	return out
}

// inputs are the messages every repetition sends, made once.
type inputs struct {
	vals     []string // the --count values
	frames   [][]byte // each framed as ref frames it, for the raw loops
	batches  [][]byte // the frames joined --batch at a time
	rateVals []string // the rate-limited rows' values
	cliLines string   // file of vals, one a line, for the cli experiment
}

// repRun is one repetition in progress.
type repRun struct {
	tag string // "rep 2/9"
	dir string
	// refChunk is the chunk ref's produce wrote, which the read limit
	// reads; rawLog the raw loop's file, read when ref did not run.
	refChunk, rawLog string
	// wake are the bare wake-up pairs' p50 and p99 of this repetition, µs.
	wake map[ref.WaitStrategy][2]float64
}

func (s *suite) makeInputs() (*inputs, error) {
	pr := s.params
	in := &inputs{vals: make([]string, pr.Count), frames: make([][]byte, pr.Count)}
	ts := time.Now().UnixNano()
	for i := range in.vals {
		in.vals[i] = makeValue(i, pr.Size)
		in.frames[i] = frameRecord(ts, jsonPayload(in.vals[i]))
	}
	for i := 0; i < len(in.frames); i += pr.Batch {
		var b []byte
		for _, f := range in.frames[i:min(i+pr.Batch, len(in.frames))] {
			b = append(b, f...)
		}
		in.batches = append(in.batches, b)
	}
	in.rateVals = in.vals[:min(pr.RateCount, len(in.vals))]
	if pr.RateCount > len(in.vals) {
		in.rateVals = make([]string, pr.RateCount)
		for i := range in.rateVals {
			in.rateVals[i] = makeValue(i, pr.Size)
		}
	}
	if s.has("cli") && s.cli != nil {
		in.cliLines = filepath.Join(s.base, "cli-lines.txt")
		if err := os.WriteFile(in.cliLines, []byte(strings.Join(in.vals, "\n")+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("cli: write the lines: %w", err)
		}
	}
	return in, nil
}

// run runs the repetitions; within each, the raw limits and every impl run
// back to back so that machine noise hits both alike. An implementation
// that fails is reported and left out of the rest; an error of the harness
// itself (a raw limit that fails) ends the run.
func (s *suite) run(ctx context.Context) error {
	in, err := s.makeInputs()
	if err != nil {
		return err
	}
	for n := 0; n < s.params.Reps; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := &repRun{tag: fmt.Sprintf("rep %d/%d", n+1, s.params.Reps), dir: filepath.Join(s.base, fmt.Sprintf("rep%d", n)),
			wake: map[ref.WaitStrategy][2]float64{}}
		if err := os.MkdirAll(filepath.Join(r.dir, "raw"), 0o755); err != nil {
			return fmt.Errorf("%s: %w", r.tag, err)
		}
		steps := []struct {
			on  bool
			run func(context.Context, *inputs, *repRun) error
		}{
			{s.has("produce"), s.produceRep},
			{s.has("process"), s.processRep},
			{s.has("cli") && s.cli != nil && s.cliErr == "", s.cliStep(n == 0)},
			{s.has("parallel") || s.has("e2e"), s.wakeRep},
			{s.has("parallel"), s.parallelRep},
			{s.has("e2e"), s.e2eRep},
		}
		for _, st := range steps {
			if !st.on {
				continue
			}
			if err := st.run(ctx, in, r); err != nil {
				return fmt.Errorf("%s: %w", r.tag, err)
			}
		}
		os.RemoveAll(r.dir)
	}
	return nil
}

// produceRep is one repetition of produce: the raw write loops, then
// every implementation appends the values to a fresh topic.
func (s *suite) produceRep(ctx context.Context, in *inputs, r *repRun) error {
	s.stepf("%s: produce, raw O_APPEND loop, one write per record", r.tag)
	r.rawLog = filepath.Join(r.dir, "raw", "produce.log")
	rawNs, h, err := rawProduce(r.rawLog, in.frames)
	if err != nil {
		return err
	}
	s.col.add(timeKey(expProduce, implRaw), ms(rawNs))
	s.col.hist(histKey{expProduce, "publish", implRaw, true}, "limit: bare write(2), one per record", h)
	batchNs := int64(0)
	if s.hasProtocol() {
		s.stepf("%s: produce, raw O_APPEND loop, one write per %d records", r.tag, s.params.Batch)
		var hb *hdrhistogram.Histogram
		if batchNs, hb, err = rawProduceBatches(filepath.Join(r.dir, "raw", "produce-batch.log"), in.batches, s.params.Batch); err != nil {
			return err
		}
		s.col.add(timeKey(expProduce, implRawBatch), ms(batchNs))
		s.col.hist(histKey{expProduce, "publish", implRawBatch, true}, fmt.Sprintf("limit: bare write(2), one per %d records", s.params.Batch), hb)
	}
	for _, im := range s.live() {
		s.stepf("%s: produce, %s", r.tag, im.Name())
		dir := filepath.Join(r.dir, im.Name())
		res, err := im.produce(ctx, dir, in.vals)
		if err != nil {
			s.fail(im, "produce", err)
			continue
		}
		lim := rawNs
		if _, ok := im.(*protoImpl); ok {
			lim = batchNs
		}
		s.col.add(timeKey(expProduce, im.Name()), ms(res.elapsed))
		s.col.add(ratioKey(expProduce, im.Name()), float64(lim)/float64(res.elapsed))
		s.col.hist(histKey{expProduce, "publish", im.Name(), false}, "produce: append latency, "+im.Name(), res.publish)
		if _, ok := im.(*refImpl); ok {
			if chunks, err := refChunks(im.chunkDir(dir)); err == nil {
				r.refChunk = chunks[0] // one chunk, unless the run is over 64 MiB
			}
		}
	}
	return nil
}

// processRep is one repetition of process, which reads what produceRep
// wrote: the raw read limit, then every implementation reads its topic.
func (s *suite) processRep(ctx context.Context, _ *inputs, r *repRun) error {
	s.stepf("%s: process, raw read+split", r.tag)
	chunk := r.refChunk
	if chunk == "" {
		chunk = r.rawLog
	}
	// The best of three: the loop takes a few ms, and whether its
	// fresh 1 MiB buffer comes with page faults moves it by half.
	var rawRead int64
	h := newHist()
	for range 3 {
		t, _, th, err := rawProcess(chunk)
		if err != nil {
			return err
		}
		if rawRead == 0 || t < rawRead {
			rawRead, h = t, th
		}
	}
	s.col.add(timeKey(expProcess, implRaw), ms(rawRead))
	s.col.hist(histKey{expProcess, "poll", implRaw, true}, "limit: bare read+split, per 4096 records", h)
	for _, im := range s.live() {
		s.stepf("%s: process, %s", r.tag, im.Name())
		res, err := im.process(ctx, filepath.Join(r.dir, im.Name()), s.params.Count)
		if err != nil {
			s.fail(im, "process", err)
			continue
		}
		s.col.add(timeKey(expProcess, im.Name()), ms(res.elapsed))
		s.col.add(ratioKey(expProcess, im.Name()), float64(rawRead)/float64(res.elapsed))
		s.col.hist(histKey{expProcess, "poll", im.Name(), false}, "process: poll latency, "+im.Name(), res.poll)
	}
	return nil
}

// cliStep is the cli experiment as a step of run; check makes it verify
// what klref consume prints (the first repetition). Its failure fails the
// cli rows, not the run.
func (s *suite) cliStep(check bool) func(context.Context, *inputs, *repRun) error {
	return func(ctx context.Context, in *inputs, r *repRun) error {
		if err := s.cliRep(ctx, r.tag, r.dir, in.cliLines, check); err != nil {
			s.cliFail(err)
		}
		return nil
	}
}

// wakeRep measures the bare writer/reader pairs, the latency limits, on
// the rate-limited rows' schedule, for at most half a second each.
func (s *suite) wakeRep(ctx context.Context, in *inputs, r *repRun) error {
	n := min(s.params.WakeSamples, max(50, int(s.params.Rate/2)))
	for _, w := range s.wakeModes {
		s.stepf("%s: bare wake-up, %s", r.tag, w)
		wake, write, err := rawWake(filepath.Join(r.dir, "raw"), string(w), n, in.frames[0], int64(1e9/s.params.Rate))
		if err != nil {
			return err
		}
		p50, p99 := us(int64(p(wake, 50))), us(int64(p(wake, 99)))
		r.wake[w] = [2]float64{p50, p99}
		s.col.add(figKey{expWake(w), implBare, metricP50}, p50)
		s.col.add(figKey{expWake(w), implBare, metricP99}, p99)
		s.col.hist(histKey{expWake(w), "wake-up", implBare, true}, fmt.Sprintf("limit: bare %s wake-up", w), wake)
		s.col.hist(histKey{expWake(w), "write", implBare, true}, fmt.Sprintf("limit: bare write(2), %s reader", w), write)
	}
	return nil
}

// wakeMode is the bare wake-up that limits strategy w: spin or inotify
// (polling has none: its latency is its period).
func wakeMode(w ref.WaitStrategy) ref.WaitStrategy {
	if w == ref.WaitSpin {
		return ref.WaitSpin
	}
	return ref.WaitInotify
}

// parallelRep is one repetition of the full-speed parallel row: producer
// and consumer start together; the figure is the newest message's
// latency, against the bare spin wake-up, the least time any reader takes
// to see a write (at full speed the reader is mostly busy reading, not
// asleep, so an inotify wake-up is no limit for it).
func (s *suite) parallelRep(ctx context.Context, in *inputs, r *repRun) error {
	lim, haveLim := r.wake[ref.WaitSpin]
	for _, im := range s.live() {
		if !measuresLatency(im) {
			continue
		}
		s.stepf("%s: parallel, %s", r.tag, im.Name())
		res, err := im.parallel(ctx, filepath.Join(r.dir, im.Name()+"-par"), in.vals, parallelSpec{wait: s.wait})
		if err != nil {
			s.fail(im, "parallel", err)
			continue
		}
		s.col.add(figKey{expParallel, im.Name(), metricNewest}, us(res.newest))
		if haveLim {
			s.col.add(figKey{expParallel, im.Name(), metricNewestRatio}, lim[0]/us(res.newest))
		}
		s.col.add(figKey{expParallel, im.Name(), metricE2EP50}, us(int64(p(res.e2e, 50))))
		s.col.hist(histKey{expParallel, "e2e", im.Name(), false}, "parallel: end-to-end latency at full speed, "+im.Name(), res.e2e)
	}
	return nil
}

// e2eRep is one repetition of the rate-limited rows: ref with every wait
// strategy, the protocol implementations (which have none) once.
func (s *suite) e2eRep(ctx context.Context, in *inputs, r *repRun) error {
	for wi, w := range s.waits {
		for _, im := range s.live() {
			_, isRef := im.(*refImpl)
			if !measuresLatency(im) || (!isRef && wi > 0) {
				continue
			}
			exp := expE2E(s.params.Rate, w)
			if !isRef {
				exp = expE2E(s.params.Rate, "")
			}
			name := im.Name()
			s.stepf("%s: %s, %s", r.tag, exp, name)
			res, err := im.parallel(ctx, filepath.Join(r.dir, fmt.Sprintf("%s-rate-%s", name, w)), in.rateVals, parallelSpec{rate: s.params.Rate, wait: w})
			if err != nil {
				s.fail(im, exp.String(), err)
				continue
			}
			p50, p99 := us(int64(p(res.intended, 50))), us(int64(p(res.intended, 99)))
			s.col.add(figKey{exp, name, metricP50}, p50)
			s.col.add(figKey{exp, name, metricP99}, p99)
			s.col.add(figKey{exp, name, metricServiceP50}, us(int64(p(res.e2e, 50))))
			if lim, ok := r.wake[wakeMode(w)]; ok && w != ref.WaitPoll {
				s.col.add(figKey{exp, name, metricRatio}, lim[0]/p50)
				s.col.add(figKey{exp, name, metricRatio99}, lim[1]/p99)
			}
			// One set of histograms per strategy; the protocol
			// implementations (first strategy only) share its plots.
			hexp := expE2E(s.params.Rate, w)
			s.col.hist(histKey{hexp, "e2e-intended", name, false}, exp.String()+": end-to-end latency from intended send time, "+name, res.intended)
			s.col.hist(histKey{hexp, "e2e-service", name, false}, exp.String()+": end-to-end latency from actual send time, "+name, res.e2e)
			s.col.hist(histKey{hexp, "publish", name, false}, exp.String()+": append latency, "+name, res.publish)
		}
	}
	return nil
}

// measuresLatency says whether im takes part in the parallel and
// rate-limited rows: the null adapter stores nothing, and a native driver
// measures produce and process only.
func measuresLatency(im impl) bool {
	_, native := im.(*nativeImpl)
	return !native && im.Name() != "null-adapter"
}

// derive adds the figures computed from others once the run is over: the
// speedups of ref (and of ref-adapter) over the other implementations,
// per repetition.
func (s *suite) derive() {
	for _, pr := range s.speedupPairs() {
		for _, e := range []experiment{expProduce, expProcess} {
			a, b := s.col.vals[timeKey(e, pr.other)], s.col.vals[timeKey(e, pr.base)]
			k := figKey{e, speedupImpl(pr.base, pr.other), metricSpeedup}
			if s.col.has(k) {
				continue
			}
			for i := 0; i < min(len(a), len(b)); i++ {
				s.col.add(k, a[i]/b[i])
			}
		}
	}
}

// speedupPair is a speedup row's two implementations; target says
// whether it carries the ≥ 5× goal.
type speedupPair struct {
	base, other, how string
	target           bool
}

// speedupPairs are the speedups reported: ref over every native driver
// and protocol implementation, and ref-adapter over the protocol ones
// (like for like: both through the protocol, with the same batches).
func (s *suite) speedupPairs() []speedupPair {
	var out []speedupPair
	for _, im := range s.impls {
		switch im := im.(type) {
		case *nativeImpl:
			out = append(out, speedupPair{"ref", im.name, "both in process, one call per message", true})
		case *protoImpl:
			if im.name == "ref-adapter" || im.name == "null-adapter" {
				continue
			}
			// No target: ref's one write(2) per message against an
			// adapter's one per 1000-value request measures the batching,
			// not the implementations.
			out = append(out, speedupPair{"ref", im.name, "ref in process, " + im.name + " through the protocol", false},
				speedupPair{"ref-adapter", im.name, "both through the protocol", false})
		}
	}
	return out
}
