package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// Published figures of the original Python proof of concept.
const (
	publishedProduce  = "1115 ms"
	publishedProcess  = "443 ms"
	publishedParallel = "about 23 µs"
)

// suiteParams are the sizes of one run of the three experiments.
type suiteParams struct {
	Count       int     `json:"count"`
	Size        int     `json:"size"`
	Reps        int     `json:"reps"`
	Rate        float64 `json:"rate"`
	RateCount   int     `json:"rateCount"`
	WakeSamples int     `json:"wakeSamples"`
}

// collector gathers per-repetition values and merged histograms.
type collector struct {
	vals   map[string][]float64
	units  map[string]string
	order  []string
	hists  map[string]*report.BenchHistogram
	horder []string
}

func newCollector() *collector {
	return &collector{vals: map[string][]float64{}, units: map[string]string{}, hists: map[string]*report.BenchHistogram{}}
}

func (c *collector) add(key, unit string, v float64) {
	if _, ok := c.vals[key]; !ok {
		c.order = append(c.order, key)
		c.units[key] = unit
	}
	c.vals[key] = append(c.vals[key], v)
}

func (c *collector) median(key string) float64 {
	_, m, _ := report.BenchMinMedianMax(c.vals[key])
	return m
}

func (c *collector) min(key string) float64 {
	m, _, _ := report.BenchMinMedianMax(c.vals[key])
	return m
}

// hist merges h into the histogram name (experiment, kind, impl).
func (c *collector) hist(experiment, kind, implName, title string, h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	name := benchSlug(experiment + "-" + kind + "-" + implName)
	if old, ok := c.hists[name]; ok {
		old.H.Merge(h)
		return
	}
	c.horder = append(c.horder, name)
	c.hists[name] = &report.BenchHistogram{Name: name, Experiment: experiment, Kind: kind, Impl: implName, Title: title, H: mergeHists(h)}
}

func (c *collector) histograms() []*report.BenchHistogram {
	var out []*report.BenchHistogram
	for _, n := range c.horder {
		h := c.hists[n]
		out = append(out, report.NewBenchHistogram(h.Name, h.Experiment, h.Kind, h.Impl, h.Title, h.H))
	}
	return out
}

func benchSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-' || r == '.' || r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return b.String()
}

func p(h *hdrhistogram.Histogram, q float64) float64 { return report.BenchQuantileNS(h, q) }

// suite runs the experiments.
type suite struct {
	params  suiteParams
	impls   []impl
	waits   []ref.WaitStrategy // rate-limited e2e rows, one per strategy
	wait    ref.WaitStrategy   // full-speed parallel row
	base    string
	prog    *progress
	col     *collector
	goBench []report.BenchGoResult
	failed  map[string]string // impl → first failure
	// wakeModes are the bare wake-up limits measured (inotify, spin).
	wakeModes []string
	// exps are the experiments to run (see experimentNames).
	exps map[string]bool
	// cli are the programs of the cli experiment, nil if it does not run;
	// cliErr is why it failed, if it did.
	cli    *cliTools
	cliErr string
}

// experimentNames are the experiments of a run, in the order they run,
// for --only. scale is the scale section (runScale).
var experimentNames = []string{"produce", "process", "parallel", "e2e", "cli", "scale"}

// suiteExperiments are the experiments newSuite runs by default: the
// proof of concept's (the gate runs these).
var suiteExperiments = []string{"produce", "process", "parallel", "e2e"}

// newSuite prepares a run of impls with topics under base. waits are the
// strategies of the rate-limited rows; the first is also the full-speed
// parallel row's.
func newSuite(params suiteParams, impls []impl, base string, prog *progress, waits ...ref.WaitStrategy) *suite {
	s := &suite{params: params, impls: impls, wait: waits[0], waits: waits, base: base, prog: prog,
		col: newCollector(), failed: map[string]string{}, exps: map[string]bool{}}
	for _, e := range suiteExperiments {
		s.exps[e] = true
	}
	return s
}

// has says whether experiment exp runs.
func (s *suite) has(exp string) bool { return s.exps[exp] }

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

// run runs R repetitions; within each, the raw limit and every impl run
// back to back so that machine noise hits both alike.
func (s *suite) run(ctx context.Context) error {
	pr := s.params
	vals := make([]string, pr.Count)
	frames := make([][]byte, pr.Count)
	ts := time.Now().UnixNano()
	for i := range vals {
		vals[i] = makeValue(i, pr.Size)
		frames[i] = frameRecord(ts, jsonPayload(vals[i]))
	}
	rateVals := vals[:min(pr.RateCount, len(vals))]
	if pr.RateCount > len(vals) {
		rateVals = make([]string, pr.RateCount)
		for i := range rateVals {
			rateVals[i] = makeValue(i, pr.Size)
		}
	}
	cliLines := filepath.Join(s.base, "cli-lines.txt")
	if s.has("cli") && s.cli != nil {
		if err := os.WriteFile(cliLines, []byte(strings.Join(vals, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("cli: write the lines: %w", err)
		}
	}
	for rep := 0; rep < pr.Reps; rep++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rdir := filepath.Join(s.base, fmt.Sprintf("rep%d", rep))
		if err := os.MkdirAll(filepath.Join(rdir, "raw"), 0o755); err != nil {
			return err
		}
		tag := fmt.Sprintf("rep %d/%d", rep+1, pr.Reps)

		if s.has("produce") {
			if err := s.throughputRep(ctx, tag, rdir, vals, frames); err != nil {
				return err
			}
		}
		if s.has("cli") && s.cli != nil && s.cliErr == "" {
			if err := s.cliRep(ctx, tag, rdir, cliLines, rep == 0); err != nil {
				s.cliFail(err)
			}
		}
		if s.has("parallel") || s.has("e2e") {
			if err := s.latencyRep(ctx, tag, rdir, vals, rateVals, frames); err != nil {
				return err
			}
		}
		os.RemoveAll(rdir)
	}
	return nil
}

// throughputRep runs one repetition of produce and, if it runs, of
// process (which reads what produce wrote): the raw limits and every
// implementation.
func (s *suite) throughputRep(ctx context.Context, tag, rdir string, vals []string, frames [][]byte) error {
	pr := s.params
	mb := float64(pr.Count*pr.Size) / 1e6

	// produce
	s.stepf("%s: produce, raw O_APPEND loop", tag)
	rawPath := filepath.Join(rdir, "raw", "produce.log")
	rawNs, err := rawProduce(rawPath, frames)
	if err != nil {
		return err
	}
	s.col.add("produce/raw/time", "ms", ms(rawNs))
	s.goBench = append(s.goBench, goLine("Produce/impl=raw", rawNs, pr.Count, mb))
	refChunk := ""
	for _, im := range s.impls {
		if s.failed[im.Name()] != "" {
			continue
		}
		s.stepf("%s: produce, %s", tag, im.Name())
		dir := filepath.Join(rdir, im.Name())
		r, err := im.produce(ctx, dir, vals)
		if err != nil {
			s.fail(im, "produce", err)
			continue
		}
		s.timed("produce", "Produce", im.Name(), r.elapsed, rawNs, mb)
		s.col.hist("produce", "publish", im.Name(), "produce: append latency, "+im.Name(), r.publish)
		if _, ok := im.(*refImpl); ok {
			if chunks, err := refChunks(im.chunkDir(dir)); err == nil {
				refChunk = chunks[0] // one chunk, unless the run is over 64 MiB
			}
		}
	}

	if !s.has("process") {
		return nil
	}

	// process
	s.stepf("%s: process, raw read+split", tag)
	chunk := refChunk
	if chunk == "" {
		chunk = rawPath
	}
	// The best of three: the loop takes a few ms, and whether its
	// fresh 1 MiB buffer comes with page faults moves it by half.
	var rawRead int64
	for range 3 {
		t, _, err := rawProcess(chunk)
		if err != nil {
			return err
		}
		if rawRead == 0 || t < rawRead {
			rawRead = t
		}
	}
	s.col.add("process/raw/time", "ms", ms(rawRead))
	s.goBench = append(s.goBench, goLine("Process/impl=raw", rawRead, pr.Count, mb))
	for _, im := range s.impls {
		if s.failed[im.Name()] != "" {
			continue
		}
		s.stepf("%s: process, %s", tag, im.Name())
		r, err := im.process(ctx, filepath.Join(rdir, im.Name()), pr.Count)
		if err != nil {
			s.fail(im, "process", err)
			continue
		}
		s.timed("process", "Process", im.Name(), r.elapsed, rawRead, mb)
		s.col.hist("process", "poll", im.Name(), "process: poll latency, "+im.Name(), r.poll)
	}
	return nil
}

// latencyRep runs one repetition of the latency experiments: the bare
// wake-up limits, the full-speed parallel row and the rate-limited rows.
func (s *suite) latencyRep(ctx context.Context, tag, rdir string, vals, rateVals []string, frames [][]byte) error {
	pr := s.params
	// raw wake-up limits
	wake := map[string]float64{}
	modes := s.wakeModes
	if modes == nil {
		modes = []string{"inotify", "spin"}
	}
	for _, mode := range modes {
		s.stepf("%s: bare wake-up, %s", tag, mode)
		// On the rate-limited rows' schedule, for at most half a second.
		n := min(pr.WakeSamples, max(50, int(pr.Rate/2)))
		h, err := rawWake(filepath.Join(rdir, "raw"), mode, n, frames[0], int64(1e9/pr.Rate))
		if err != nil {
			return err
		}
		wake[mode] = us(int64(p(h, 50)))
		wake[mode+"/p99"] = us(int64(p(h, 99)))
		s.col.add("wake/"+mode+"/p50", "us", wake[mode])
		s.col.add("wake/"+mode+"/p99", "us", wake[mode+"/p99"])
		s.col.hist("wake-up", mode, "bare", "bare writer/reader wake-up, "+mode, h)
	}
	// limitFor is the p50 of the bare wake-up of w's kind.
	limitFor := func(w ref.WaitStrategy) float64 { return wake[wakeMode(w)] }

	// parallel, full speed
	for _, im := range s.impls {
		if !s.has("parallel") {
			break
		}
		if s.failed[im.Name()] != "" || !measuresLatency(im) {
			continue
		}
		s.stepf("%s: parallel, %s", tag, im.Name())
		r, err := im.parallel(ctx, filepath.Join(rdir, im.Name()+"-par"), vals, parallelSpec{wait: s.wait})
		if err != nil {
			s.fail(im, "parallel", err)
			continue
		}
		s.col.add("parallel/"+im.Name()+"/newest", "us", us(r.newest))
		s.col.add("parallel/"+im.Name()+"/newest-ratio", "x", limitFor(s.wait)/us(r.newest))
		s.col.add("parallel/"+im.Name()+"/e2e-p50", "us", us(int64(p(r.e2e, 50))))
		s.col.hist("parallel", "e2e", im.Name(), "parallel: end-to-end latency at full speed, "+im.Name(), r.e2e)
	}

	// rate-limited e2e, one row per wait strategy
	for wi, w := range s.waits {
		if !s.has("e2e") {
			break
		}
		exp := fmt.Sprintf("e2e@%s/s %s", rateLabel(pr.Rate), w)
		for _, im := range s.impls {
			if s.failed[im.Name()] != "" || !measuresLatency(im) {
				continue
			}
			if _, isRef := im.(*refImpl); !isRef && wi > 0 {
				continue // the protocol has no wait strategy: one row
			}
			name := im.Name()
			if _, isRef := im.(*refImpl); !isRef {
				exp = fmt.Sprintf("e2e@%s/s", rateLabel(pr.Rate))
			}
			s.stepf("%s: %s, %s", tag, exp, name)
			r, err := im.parallel(ctx, filepath.Join(rdir, fmt.Sprintf("%s-rate-%s", name, w)), rateVals, parallelSpec{rate: pr.Rate, wait: w})
			if err != nil {
				s.fail(im, exp, err)
				continue
			}
			k := exp + "/" + name
			s.col.add(k+"/p50", "us", us(int64(p(r.intended, 50))))
			s.col.add(k+"/p99", "us", us(int64(p(r.intended, 99))))
			s.col.add(k+"/service-p50", "us", us(int64(p(r.e2e, 50))))
			if w != ref.WaitPoll { // polling has no bare counterpart: its latency is its period
				s.col.add(k+"/limit", "us", limitFor(w))
				s.col.add(k+"/ratio", "x", limitFor(w)/us(int64(p(r.intended, 50))))
				if l99 := wake[wakeMode(w)+"/p99"]; l99 > 0 {
					s.col.add(k+"/limit99", "us", l99)
					s.col.add(k+"/ratio99", "x", l99/us(int64(p(r.intended, 99))))
				}
			}
			// One set of histograms per strategy; protocol impls (first
			// strategy only) share its plots, one line each.
			hexp := fmt.Sprintf("e2e@%s/s %s", rateLabel(pr.Rate), w)
			s.col.hist(hexp, "e2e-intended", name, exp+": end-to-end latency from intended send time, "+name, r.intended)
			s.col.hist(hexp, "e2e-service", name, exp+": end-to-end latency from actual send time, "+name, r.e2e)
			s.col.hist(hexp, "publish", name, exp+": append latency, "+name, r.publish)
		}
	}
	return nil
}

// wakeMode is the bare wake-up that limits strategy w: "spin" or "inotify".
func wakeMode(w ref.WaitStrategy) string {
	if w == ref.WaitSpin {
		return "spin"
	}
	return "inotify"
}

// timed records one produce or process run of impl name: its time, its
// ratio to the raw loop's rawNs of the same repetition, and a line of
// bench.txt (goName/impl=name).
func (s *suite) timed(exp, goName, name string, elapsed, rawNs int64, mb float64) {
	s.col.add(exp+"/"+name+"/time", "ms", ms(elapsed))
	s.col.add(exp+"/"+name+"/ratio", "x", float64(rawNs)/float64(elapsed))
	s.goBench = append(s.goBench, goLine(goName+"/impl="+name, elapsed, s.params.Count, mb))
}

// measuresLatency says whether im takes part in the parallel and
// rate-limited rows: the null adapter stores nothing, and a native driver
// measures produce and process only.
func measuresLatency(im impl) bool {
	_, native := im.(*nativeImpl)
	return !native && im.Name() != "null-adapter"
}

func rateLabel(r float64) string {
	if r >= 1000 && math.Mod(r, 1000) == 0 {
		return fmt.Sprintf("%.0fk", r/1000)
	}
	return fmt.Sprintf("%.0f", r)
}

func goLine(name string, ns int64, count int, mb float64) report.BenchGoResult {
	return report.BenchGoResult{Name: name, NsPerOp: float64(ns), Extra: map[string]float64{
		"MB/s": mb / (float64(ns) / 1e9), "msgs/s": float64(count) / (float64(ns) / 1e9)}}
}

func (s *suite) fail(im impl, exp string, err error) {
	msg := fmt.Sprintf("%s: %v", exp, err)
	s.failed[im.Name()] = msg
	s.prog.warn(fmt.Sprintf("impl %s failed in %s", im.Name(), msg))
}

// rows builds the human table from the collected figures.
func (s *suite) rows() []report.BenchRow {
	c := s.col
	nan := math.NaN()
	var rows []report.BenchRow
	row := func(exp, what, pub, implName, unit, key, limitKey, limitName, ratioKey string) report.BenchRow {
		r := report.BenchRow{Experiment: exp, What: what, Published: pub, Impl: implName, Unit: unit,
			Min: c.min(key), Median: c.median(key), Limit: nan, Ratio: nan, LimitName: limitName}
		if limitKey != "" {
			r.Limit = c.median(limitKey)
		}
		if ratioKey != "" {
			r.Ratio = c.median(ratioKey)
		}
		if msg := s.failed[implName]; msg != "" && len(c.vals[key]) == 0 {
			r.Error = msg
		}
		return r
	}
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	for _, im := range s.impls {
		if !s.has("produce") {
			break
		}
		r := row("produce", "1 producer writes the messages as JSON", publishedProduce, im.Name(), "ms",
			"produce/"+im.Name()+"/time", "produce/raw/time", "O_APPEND write loop", "produce/"+im.Name()+"/ratio")
		if _, ok := im.(*refImpl); ok && r.Error == "" {
			r.Target, r.Verdict = "≥ 0.50× raw", verdict(r.Ratio >= 0.5)
		}
		rows = append(rows, r)
	}
	for _, im := range s.impls {
		if !s.has("process") {
			break
		}
		r := row("process", "1 consumer reads them all", publishedProcess, im.Name(), "ms",
			"process/"+im.Name()+"/time", "process/raw/time", "read+split", "process/"+im.Name()+"/ratio")
		if _, ok := im.(*refImpl); ok && r.Error == "" {
			r.Target, r.Verdict = "≥ 0.30× raw", verdict(r.Ratio >= 0.3)
		}
		rows = append(rows, r)
	}
	limitKey := "wake/inotify/p50"
	limitName := "bare inotify wake-up p50"
	if s.wait == ref.WaitSpin {
		limitKey, limitName = "wake/spin/p50", "bare spin wake-up p50"
	}
	for _, im := range s.impls {
		if !s.has("parallel") {
			break
		}
		if !measuresLatency(im) {
			continue
		}
		rows = append(rows, row("parallel", "newest message end-to-end, full speed, wait "+string(s.wait), publishedParallel, im.Name(), "us",
			"parallel/"+im.Name()+"/newest", limitKey, limitName, "parallel/"+im.Name()+"/newest-ratio"))
	}
	for wi, w := range s.waits {
		if !s.has("e2e") {
			break
		}
		for _, im := range s.impls {
			_, isRef := im.(*refImpl)
			if !measuresLatency(im) || (!isRef && wi > 0) {
				continue
			}
			exp := fmt.Sprintf("e2e@%s/s %s", rateLabel(s.params.Rate), w)
			if !isRef {
				exp = fmt.Sprintf("e2e@%s/s", rateLabel(s.params.Rate))
			}
			k := exp + "/" + im.Name()
			l50, l99 := k+"/limit", k+"/limit99"
			n50, n99 := "bare inotify wake-up p50", "bare inotify wake-up p99"
			switch {
			case w == ref.WaitSpin:
				n50, n99 = "bare spin wake-up p50", "bare spin wake-up p99"
			case w == ref.WaitPoll && isRef:
				l50, l99, n50, n99 = "", "", "", ""
			}
			r50 := row(exp+" p50", "e2e from intended send time, open loop", "", im.Name(), "us", k+"/p50", l50, n50, k+"/ratio")
			r99 := row(exp+" p99", "e2e from intended send time, open loop", "", im.Name(), "us", k+"/p99", l99, n99, k+"/ratio99")
			if isRef && r50.Error == "" {
				switch w {
				case ref.WaitInotify:
					r50.Target, r50.Verdict = "≤ 1.5× bare inotify", verdict(r50.Median <= 1.5*r50.Limit)
					r99.Target, r99.Verdict = "< 200 µs", verdict(r99.Median < 200)
				case ref.WaitSpin:
					r50.Target, r50.Verdict = "< 5 µs", verdict(r50.Median < 5)
				}
			}
			rows = append(rows, r50, r99)
		}
	}
	if s.cliRuns() {
		for _, x := range []struct {
			exp, what, pub, limit, target string
			min                           float64
		}{
			{"cli produce", "klref produce < the messages as lines: one process, start included", publishedProduce,
				"bare process, 1 write per line", "≥ 0.70× bare", cliProduceTarget},
			{"cli consume", "klref consume > /dev/null: one process, start included", publishedProcess,
				"bare process, read+split+print", "≥ 0.50× bare", cliConsumeTarget},
		} {
			r := row(x.exp, x.what, x.pub, "klref", "ms", x.exp+"/klref/time", x.exp+"/raw/time", x.limit, x.exp+"/klref/ratio")
			if len(c.vals[x.exp+"/klref/time"]) == 0 {
				r.Error = s.cliErr
			}
			if r.Error == "" {
				r.Target, r.Verdict = x.target, verdict(r.Ratio >= x.min)
			}
			rows = append(rows, r)
		}
	}
	// speedup of ref over the external implementations
	for _, im := range s.impls {
		switch im := im.(type) {
		case *nativeImpl:
			for _, exp := range []string{"produce", "process"} {
				if !s.has(exp) {
					continue
				}
				if r, ok := s.speedupRow(exp, "ref", im.name, "both in process, one call per message", true); ok {
					rows = append(rows, r)
				}
			}
		case *protoImpl:
			if im.name == "ref-adapter" || im.name == "null-adapter" {
				continue
			}
			for _, exp := range []string{"produce", "process"} {
				if !s.has(exp) {
					continue
				}
				if r, ok := s.speedupRow(exp, "ref", im.name, "ref in process, "+im.name+" through the protocol", true); ok {
					rows = append(rows, r)
				}
				// Like for like: both through the protocol, with the same
				// batches. Informational; the null adapter's rows show how
				// much of either is the protocol itself.
				if r, ok := s.speedupRow(exp, "ref-adapter", im.name, "both through the protocol", false); ok {
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// speedupRow is how many times faster base was than other on exp: other's
// time ÷ base's time, per repetition. ok is false when base was not
// measured at all; with target, the row carries the ≥ 5× target.
func (s *suite) speedupRow(exp, base, other, how string, target bool) (report.BenchRow, bool) {
	a, b := s.col.vals[exp+"/"+other+"/time"], s.col.vals[exp+"/"+base+"/time"]
	if len(b) == 0 {
		return report.BenchRow{}, false
	}
	key := exp + "/speedup-vs-" + other
	if base != "ref" {
		key = exp + "/speedup-" + strings.TrimPrefix(base, "ref-") + "-vs-" + other
	}
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		s.col.add(key, "x", a[i]/b[i])
	}
	r := report.BenchRow{Experiment: exp + " speedup", What: other + " time ÷ " + base + " time, per repetition (" + how + ")",
		Impl: base + " vs " + other, Unit: "x", Min: s.col.min(key), Median: s.col.median(key), Limit: math.NaN(), Ratio: math.NaN()}
	switch {
	case n == 0:
		r.Error = "not measured"
	case target:
		r.Target = "≥ 5×"
		r.Verdict = "MISS"
		if r.Median >= 5 {
			r.Verdict = "PASS"
		}
	}
	return r, true
}

// figures lists every collected value series.
func (s *suite) figures() []report.BenchFigure {
	var out []report.BenchFigure
	keys := append([]string(nil), s.col.order...)
	for _, k := range keys {
		parts := strings.SplitN(k, "/", 3)
		exp, implName, metric := parts[0], "", ""
		if len(parts) > 1 {
			implName = parts[1]
		}
		if len(parts) > 2 {
			metric = parts[2]
		}
		out = append(out, report.NewBenchFigure(k, exp, implName, metric, s.col.units[k], s.col.vals[k]))
	}
	return out
}

// ombResults builds the OMB-named results per experiment and impl.
func (s *suite) ombResults(hists []*report.BenchHistogram) []report.BenchOMBResult {
	byKey := map[string]*report.BenchOMBResult{}
	var order []string
	get := func(exp, implName string) *report.BenchOMBResult {
		k := exp + "|" + implName
		if r, ok := byKey[k]; ok {
			return r
		}
		r := &report.BenchOMBResult{Experiment: exp, Impl: implName}
		byKey[k] = r
		order = append(order, k)
		return r
	}
	msf := func(h *hdrhistogram.Histogram, q float64) *float64 {
		v := report.BenchQuantileNS(h, q) / 1e6
		return &v
	}
	for _, h := range hists {
		if h.Impl == "bare" {
			continue
		}
		r := get(h.Experiment, h.Impl)
		switch h.Kind {
		case "publish":
			r.PublishLatency50pct, r.PublishLatency75pct, r.PublishLatency95pct = msf(h.H, 50), msf(h.H, 75), msf(h.H, 95)
			r.PublishLatency99pct, r.PublishLatency999pct, r.PublishLatency9999pct, r.PublishLatencyMax = msf(h.H, 99), msf(h.H, 99.9), msf(h.H, 99.99), msf(h.H, 100)
			r.AggregatedPublishLatencyQuantiles = report.BenchOMBQuantiles(h.H)
		case "e2e", "e2e-intended":
			r.EndToEndLatency50pct, r.EndToEndLatency75pct, r.EndToEndLatency95pct = msf(h.H, 50), msf(h.H, 75), msf(h.H, 95)
			r.EndToEndLatency99pct, r.EndToEndLatency999pct, r.EndToEndLatency9999pct, r.EndToEndLatencyMax = msf(h.H, 99), msf(h.H, 99.9), msf(h.H, 99.99), msf(h.H, 100)
			r.AggregatedEndToEndLatencyQuantiles = report.BenchOMBQuantiles(h.H)
		}
	}
	for _, im := range s.impls {
		if t := s.col.median("produce/" + im.Name() + "/time"); !math.IsNaN(t) {
			get("produce", im.Name()).PublishRate = float64(s.params.Count) / (t / 1e3)
		}
		if t := s.col.median("process/" + im.Name() + "/time"); !math.IsNaN(t) {
			get("process", im.Name()).ConsumeRate = float64(s.params.Count) / (t / 1e3)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return false })
	out := make([]report.BenchOMBResult, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}
