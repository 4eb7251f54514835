package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// rowSpec says what one row of the experiments table shows.
type rowSpec struct {
	label     string // the experiment column
	what      string
	published string // the proof of concept's figure, if the row is comparable with it
	impl      string
	value     figKey
	lim       *limit // nil: no limit
	ratio     figKey // the zero figKey: no ratio
}

// row builds a row from the collected figures.
func (s *suite) row(sp rowSpec) report.BenchRow {
	nan := math.NaN()
	r := report.BenchRow{Experiment: sp.label, What: sp.what, Published: sp.published, Impl: sp.impl, Unit: sp.value.metric.unit(),
		BenchStats: s.col.stats(sp.value), Limit: nan, Ratio: nan, RatioLo: nan, RatioHi: nan}
	if sp.lim != nil && s.col.has(sp.lim.key) {
		r.Limit, r.LimitTag = s.col.median(sp.lim.key), sp.lim.tag
	}
	if sp.ratio.valid() && s.col.has(sp.ratio) {
		st := s.col.stats(sp.ratio)
		r.Ratio, r.RatioLo, r.RatioHi = st.Median, st.Lo, st.Hi
	}
	if msg := s.failed[sp.impl]; msg != "" && !s.col.has(sp.value) {
		r.Error = msg
	}
	return r
}

// target sets r's target and its verdict, unless r failed.
func target(r *report.BenchRow, text string, ok bool) {
	if r.Error != "" {
		return
	}
	r.Target, r.Verdict = text, "MISS"
	if ok {
		r.Verdict = "PASS"
	}
}

// produceLimit is the produce limit of im: a write per record, or per
// batch behind the protocol.
func (s *suite) produceLimit(im impl) limit {
	if _, ok := im.(*protoImpl); ok {
		return limitWriteBatch(s.params.Batch)
	}
	return limitWriteRecord()
}

// rows builds the experiments table, experiment by experiment.
func (s *suite) rows() []report.BenchRow {
	var rows []report.BenchRow
	for _, f := range []func() []report.BenchRow{s.produceRows, s.processRows, s.parallelRows, s.e2eRows, s.cliRows, s.speedupRows} {
		rows = append(rows, f()...)
	}
	return rows
}

func (s *suite) produceRows() []report.BenchRow {
	if !s.has("produce") {
		return nil
	}
	var rows []report.BenchRow
	for _, im := range s.impls {
		lim := s.produceLimit(im)
		r := s.row(rowSpec{label: "produce", what: "1 producer appends the messages as JSON, in process", impl: im.Name(),
			value: timeKey(expProduce, im.Name()), lim: &lim, ratio: ratioKey(expProduce, im.Name())})
		if _, ok := im.(*refImpl); ok {
			target(&r, "≥ 0.50×", r.Ratio >= 0.5)
		}
		rows = append(rows, r)
	}
	return rows
}

func (s *suite) processRows() []report.BenchRow {
	if !s.has("process") {
		return nil
	}
	var rows []report.BenchRow
	lim := limitReadSplit()
	for _, im := range s.impls {
		r := s.row(rowSpec{label: "process", what: "1 consumer reads them all, in process", impl: im.Name(),
			value: timeKey(expProcess, im.Name()), lim: &lim, ratio: ratioKey(expProcess, im.Name())})
		if _, ok := im.(*refImpl); ok {
			target(&r, "≥ 0.30×", r.Ratio >= 0.3)
		}
		rows = append(rows, r)
	}
	return rows
}

func (s *suite) parallelRows() []report.BenchRow {
	if !s.has("parallel") {
		return nil
	}
	var rows []report.BenchRow
	lim := limitWake(ref.WaitSpin, false)
	for _, im := range s.impls {
		if !measuresLatency(im) {
			continue
		}
		sp := rowSpec{label: "parallel", what: "newest message end-to-end, full speed, wait " + string(s.wait), impl: im.Name(),
			value: figKey{expParallel, im.Name(), metricNewest}, lim: &lim, ratio: figKey{expParallel, im.Name(), metricNewestRatio}}
		if _, ok := im.(*refImpl); ok {
			sp.published = publishedParallel
		}
		rows = append(rows, s.row(sp))
	}
	return rows
}

func (s *suite) e2eRows() []report.BenchRow {
	if !s.has("e2e") {
		return nil
	}
	var rows []report.BenchRow
	for wi, w := range s.waits {
		for _, im := range s.impls {
			_, isRef := im.(*refImpl)
			if !measuresLatency(im) || (!isRef && wi > 0) {
				continue
			}
			exp := expE2E(s.params.Rate, w)
			if !isRef {
				exp = expE2E(s.params.Rate, "")
			}
			var l50, l99 *limit
			if w != ref.WaitPoll || !isRef { // polling has no bare counterpart: its latency is its period
				a, b := limitWake(wakeMode(w), false), limitWake(wakeMode(w), true)
				l50, l99 = &a, &b
			}
			what := "e2e from intended send time, open loop"
			r50 := s.row(rowSpec{label: exp.String() + " p50", what: what, impl: im.Name(), value: figKey{exp, im.Name(), metricP50},
				lim: l50, ratio: figKey{exp, im.Name(), metricRatio}})
			r99 := s.row(rowSpec{label: exp.String() + " p99", what: what, impl: im.Name(), value: figKey{exp, im.Name(), metricP99},
				lim: l99, ratio: figKey{exp, im.Name(), metricRatio99}})
			if isRef {
				switch w {
				case ref.WaitInotify:
					target(&r50, "≤ 1.5× limit", r50.Median <= 1.5*r50.Limit)
					target(&r99, "< 200 µs", r99.Median < 200)
				case ref.WaitSpin:
					target(&r50, "< 5 µs", r50.Median < 5)
				}
			}
			rows = append(rows, r50, r99)
		}
	}
	return rows
}

func (s *suite) cliRows() []report.BenchRow {
	if !s.cliRuns() {
		return nil
	}
	var rows []report.BenchRow
	for _, x := range []struct {
		exp       experiment
		what, pub string
		lim       limit
		target    string
		targetMin float64
	}{
		{expCLIProduce, "klref produce < the messages as lines: one process, start included", publishedProduce, limitCLIProduce(), "≥ 0.70×", cliProduceTarget},
		{expCLIConsume, "klref consume > /dev/null: one process, start included", publishedProcess, limitCLIConsume(), "≥ 0.50×", cliConsumeTarget},
	} {
		lim := x.lim
		r := s.row(rowSpec{label: x.exp.String(), what: x.what, published: x.pub, impl: "klref",
			value: timeKey(x.exp, "klref"), lim: &lim, ratio: ratioKey(x.exp, "klref")})
		if !s.col.has(timeKey(x.exp, "klref")) {
			r.Error = s.cliErr
			if r.Error == "" {
				r.Error = "not measured"
			}
		}
		target(&r, x.target, r.Ratio >= x.targetMin)
		rows = append(rows, r)
	}
	return rows
}

// speedupRows are how many times faster ref (or ref-adapter) was than
// each other implementation: the other's time ÷ ref's, per repetition.
func (s *suite) speedupRows() []report.BenchRow {
	var rows []report.BenchRow
	for _, pr := range s.speedupPairs() {
		for _, e := range []experiment{expProduce, expProcess} {
			if !s.has(e.String()) || !s.col.has(timeKey(e, pr.base)) {
				continue
			}
			k := figKey{e, speedupImpl(pr.base, pr.other), metricSpeedup}
			r := s.row(rowSpec{label: e.String() + " speedup", impl: k.impl, value: k,
				what: pr.other + " time ÷ " + pr.base + " time, per repetition (" + pr.how + ")"})
			if !s.col.has(k) {
				r.Error = "not measured"
				if msg := s.failed[pr.other]; msg != "" {
					r.Error = msg
				}
			}
			if pr.target {
				target(&r, "≥ 5×", r.Median >= 5)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// limits lists the raw limits measured, for the limits table.
func (s *suite) limits() []report.BenchLimit {
	var out []report.BenchLimit
	for _, l := range []limit{limitWriteRecord(), limitWriteBatch(s.params.Batch), limitReadSplit(),
		limitWake(ref.WaitInotify, false), limitWake(ref.WaitInotify, true), limitWake(ref.WaitSpin, false), limitWake(ref.WaitSpin, true),
		limitCLIProduce(), limitCLIConsume()} {
		if s.col.has(l.key) {
			out = append(out, report.BenchLimit{Tag: l.tag, What: l.what, Unit: l.key.metric.unit(), BenchStats: s.col.stats(l.key)})
		}
	}
	return out
}

// findRow is the row of experiment label and impl, if there is one that
// did not fail.
func findRow(rows []report.BenchRow, label, impl string) (report.BenchRow, bool) {
	for _, r := range rows {
		if r.Experiment == label && r.Impl == impl && r.Error == "" && !math.IsNaN(r.Median) {
			return r, true
		}
	}
	return report.BenchRow{}, false
}

// times is "20×" for a speedup x, "1.5×" under 10; below 1 it is
// turned round by the caller.
func times(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

// faster says x (other's time ÷ base's) as "20× faster" or "1.5× slower".
func faster(x float64) string {
	if x >= 1 {
		return times(x) + " faster"
	}
	return times(1/x) + " slower"
}

// headline is the three to five sentences that open the report: ref
// against the raw limits, against the proof of concept's published
// figures (and which rows are comparable with them), against each other
// implementation measured, and the targets.
func (s *suite) headline(rows []report.BenchRow) []string {
	return []string{s.headLimits(rows), s.headSeed(rows), s.headOthers(rows), headTargets(rows)}
}

// headLimits is ref against the raw limits.
func (s *suite) headLimits(rows []report.BenchRow) string {
	var parts []string
	e2e := func(w ref.WaitStrategy) string { return expE2E(s.params.Rate, w).String() + " p50" }
	for _, x := range []struct{ label, name string }{
		{"produce", "produce"}, {"process", "process"},
		{e2e(ref.WaitInotify), "e2e p50 at " + rateLabel(s.params.Rate) + "/s"}, {e2e(ref.WaitSpin), "with spin"},
	} {
		r, ok := findRow(rows, x.label, "ref")
		if !ok || math.IsNaN(r.Ratio) {
			continue
		}
		phrase := r.LimitTag
		for _, l := range []limit{limitWriteRecord(), limitReadSplit(), limitWake(ref.WaitInotify, false), limitWake(ref.WaitSpin, false)} {
			if l.tag == r.LimitTag {
				phrase = l.phrase
			}
		}
		part := fmt.Sprintf("%s %s %s", x.name, report.BenchFormatValue(r.Ratio, "x"), phrase)
		switch r.RatioMark() {
		case "~":
			part += " (equal within noise)"
		case "!":
			part += " (above 1× beyond noise: no limit here)"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "ref vs the raw limits: not measured in this run."
	}
	return fmt.Sprintf("ref vs the raw limits of this machine (the limit's time ÷ ref's, median of %d repetitions; 1.00× = as fast): %s.",
		s.params.Reps, strings.Join(parts, ", "))
}

// headSeed is ref against the proof of concept's published figures,
// which were whole scripts timed as processes: the cli rows, which run
// klref as a process, are the ones to compare them with.
func (s *suite) headSeed(rows []report.BenchRow) string {
	t := "ref vs the seed: 1115 ms (produce 100k), 443 ms (read them) and about 23 µs (newest message) are the original Python proof of concept's figures, each a whole script run as a process, so the comparable rows are cli produce and cli consume, which run `klref produce` and `klref consume` as processes"
	cp, okp := findRow(rows, expCLIProduce.String(), "klref")
	cc, okc := findRow(rows, expCLIConsume.String(), "klref")
	if okp && okc {
		t += fmt.Sprintf(": %s (%s) and %s (%s)", report.BenchFormatValue(cp.Median, cp.Unit), faster(1115/cp.Median),
			report.BenchFormatValue(cc.Median, cc.Unit), faster(443/cc.Median))
		if s.params.Count != 100000 || s.params.Size != 100 {
			t += fmt.Sprintf(" for %d messages of %d B, not 100k of 100 B", s.params.Count, s.params.Size)
		}
	} else {
		t += " (not run here: --only cli runs them)"
	}
	if r, ok := findRow(rows, "parallel", "ref"); ok {
		t += fmt.Sprintf("; the newest message takes %s (parallel row, in process)", report.BenchFormatValue(r.Median, r.Unit))
	}
	return t + "."
}

// headOthers is ref against each other implementation measured.
func (s *suite) headOthers(rows []report.BenchRow) string {
	var others []string
	adapter := s.col.has(timeKey(expProduce, "ref-adapter"))
	speed := func(base, name string) string {
		var sp []string
		for _, e := range []experiment{expProduce, expProcess} {
			if r, ok := findRow(rows, e.String()+" speedup", speedupImpl(base, name)); ok {
				sp = append(sp, fmt.Sprintf("%s to %s", faster(r.Median), e))
			}
		}
		return strings.Join(sp, ", ")
	}
	for _, im := range s.impls {
		name := im.Name()
		switch im := im.(type) {
		case *nativeImpl:
			if sp := speed("ref", name); sp != "" {
				others = append(others, fmt.Sprintf("%s (own process, one call per message, as the seed was timed): ref %s", name, sp))
			}
		case *protoImpl:
			switch {
			case im.name == "ref-adapter":
			case im.name == "null-adapter":
				a, b := s.col.median(timeKey(expProduce, name)), s.col.median(timeKey(expProcess, name))
				if !math.IsNaN(a) && !math.IsNaN(b) {
					others = append(others, fmt.Sprintf("the protocol alone (null adapter) costs %s to produce, %s to process",
						report.BenchFormatValue(a, "ms"), report.BenchFormatValue(b, "ms")))
				}
			case adapter:
				sp := speed("ref-adapter", name)
				e2e := expE2E(s.params.Rate, "").String() + " p50"
				if a, ok := findRow(rows, e2e, "ref-adapter"); ok {
					if b, ok := findRow(rows, e2e, name); ok {
						sp += fmt.Sprintf(", e2e p50 %s against %s", report.BenchFormatValue(a.Median, a.Unit), report.BenchFormatValue(b.Median, b.Unit))
					}
				}
				if sp != "" {
					others = append(others, fmt.Sprintf("%s (through the protocol): ref-adapter, through the same protocol, %s", name, sp))
				}
			default:
				if sp := speed("ref", name); sp != "" {
					others = append(others, fmt.Sprintf("%s (through the protocol, against ref in process: not like for like, add --impl ref-adapter): ref %s", name, sp))
				}
			}
		}
	}
	if len(others) == 0 {
		return "ref vs other implementations: none measured in this run (--impl adds one behind the protocol, --native one with its own driver)."
	}
	return "ref vs the other implementations measured: " + strings.Join(others, "; ") + "."
}

// headTargets counts the verdicts and names the misses.
func headTargets(rows []report.BenchRow) string {
	var pass int
	var missed []string
	for _, r := range rows {
		switch r.Verdict {
		case "PASS":
			pass++
		case "MISS":
			missed = append(missed, r.Experiment+" "+r.Impl)
		}
	}
	t := fmt.Sprintf("Targets: %d PASS, %d MISS", pass, len(missed))
	if len(missed) > 0 {
		t += " (" + strings.Join(missed, "; ") + ")"
	}
	return t + "."
}

// notes are the report's notes.
func (s *suite) notes(rows []report.BenchRow) []string {
	var n []string
	n = append(n, "Ratios are per repetition (the raw limit and the implementation run back to back), then the median is shown: 1.00× = as fast as the limit.")
	if s.params.Reps < 6 {
		n = append(n, fmt.Sprintf("%d repetitions are too few for a 95%% confidence interval of a median (6 are needed): the CI column says ±∞.", s.params.Reps))
	}
	var wide []string
	for _, r := range rows {
		if r.Error == "" && r.Wide() {
			wide = append(wide, r.Experiment+" "+r.Impl)
		}
	}
	if len(wide) > 0 {
		n = append(n, fmt.Sprintf("Wide spread (max ÷ min of the repetitions above %.0f×): %s. Their medians hide a range; see the min – max column and report.json.", report.BenchWideSpread, strings.Join(wide, "; ")))
	}
	if s.has("produce") && s.hasProtocol() {
		n = append(n, fmt.Sprintf("produce/process through the protocol exclude starting the adapter process; they use append requests of %d values (--batch), so their produce limit is a write per %d records, and polls of up to --poll-max records.", s.params.Batch, s.params.Batch))
	}
	if s.cli != nil {
		n = append(n, fmt.Sprintf("cli: klref %s; the bare limits are clibare, a small Go program klbench builds; each is timed from process start to exit, each consume (klref and bare alike) as the best of three.", s.cli.klrefHow))
	}
	var overhead []string
	for _, e := range []experiment{expProduce, expProcess} {
		if k := timeKey(e, "null-adapter"); s.col.has(k) {
			overhead = append(overhead, fmt.Sprintf("%s %.1f ms", e, s.col.median(k)))
		}
	}
	if len(overhead) > 0 {
		n = append(n, fmt.Sprintf("protocol overhead (null adapter, stores nothing): %s for the same messages (medians).", strings.Join(overhead, ", ")))
	}
	return n
}

// figures lists every collected figure.
func (s *suite) figures() []report.BenchFigure {
	var out []report.BenchFigure
	for _, k := range s.col.order {
		out = append(out, report.NewBenchFigure(k.String(), k.exp.String(), k.impl, string(k.metric), k.metric.unit(), s.col.vals[k]))
	}
	return out
}

// plotTitles name the plots of each kind of histogram.
var plotTitles = map[string]string{
	"publish":      "append latency",
	"poll":         "poll latency",
	"e2e":          "end-to-end latency at full speed",
	"e2e-intended": "end-to-end latency from the intended send time",
	"e2e-service":  "end-to-end latency from the actual send time",
}

// plots are the latency plots: one per experiment and kind of histogram,
// a curve per implementation and the raw limits that bound them.
func (s *suite) plots() []report.BenchPlot {
	type group struct {
		exp  experiment
		kind string
	}
	var order []group
	series := map[group][]string{}
	for _, k := range s.col.horder {
		if k.limit {
			continue
		}
		g := group{k.exp, k.kind}
		if _, ok := series[g]; !ok {
			order = append(order, g)
		}
		series[g] = append(series[g], k.name())
	}
	var out []report.BenchPlot
	for _, g := range order {
		pl := report.BenchPlot{Name: "plot-" + benchSlug(g.exp.String()+"-"+g.kind), Title: g.exp.String() + ": " + plotTitles[g.kind], Series: series[g]}
		var lims []histKey
		switch {
		case g.exp.kind == kindProduce:
			lims = []histKey{{expProduce, "publish", implRaw, true}, {expProduce, "publish", implRawBatch, true}}
		case g.exp.kind == kindProcess:
			lims = []histKey{{expProcess, "poll", implRaw, true}}
		case g.exp.kind == kindParallel:
			lims = []histKey{{expWake(ref.WaitSpin), "wake-up", implBare, true}}
		case g.exp.kind == kindE2E && g.exp.wait == ref.WaitPoll && g.kind == "publish":
			pl.Note = "no limit drawn: the bare pairs' readers block on inotify or spin, none polls"
		case g.exp.kind == kindE2E && g.exp.wait == ref.WaitPoll:
			pl.Note = "no limit drawn: polling's latency is its period, which no bare loop has"
		case g.exp.kind == kindE2E && g.kind == "publish":
			lims = []histKey{{expWake(wakeMode(g.exp.wait)), "write", implBare, true}}
		case g.exp.kind == kindE2E:
			lims = []histKey{{expWake(wakeMode(g.exp.wait)), "wake-up", implBare, true}}
		}
		for _, l := range lims {
			if _, ok := s.col.hists[l]; ok {
				pl.Limits = append(pl.Limits, l.name())
			}
		}
		out = append(out, pl)
	}
	return out
}

// goBench are bench.txt's lines: one per figure group and repetition, with
// every figure of the group as a unit, so benchstat can compare any of
// them between two runs.
func (s *suite) goBench() []report.BenchGoResult {
	type line struct {
		name  string
		units []string
		keys  []figKey
		scale []float64 // value × scale in the unit
	}
	var lines []*line
	byName := map[string]*line{}
	mb := float64(s.params.Count*s.params.Size) / 1e6
	for _, k := range s.col.order {
		name, unit, scale := goBenchName(k)
		if name == "" {
			continue
		}
		l, ok := byName[name]
		if !ok {
			l = &line{name: name}
			byName[name] = l
			lines = append(lines, l)
		}
		l.units, l.keys, l.scale = append(l.units, unit), append(l.keys, k), append(l.scale, scale)
	}
	var out []report.BenchGoResult
	for rep := 0; rep < s.params.Reps; rep++ {
		for _, l := range lines {
			g := report.BenchGoResult{Name: l.name}
			for i, k := range l.keys {
				v := s.col.vals[k]
				if rep >= len(v) {
					continue
				}
				g.Values = append(g.Values, report.BenchGoValue{Value: v[rep] * l.scale[i], Unit: l.units[i]})
				if k.metric == metricTime {
					sec := v[rep] / 1e3
					g.Values = append(g.Values, report.BenchGoValue{Value: mb / sec, Unit: "MB/s"},
						report.BenchGoValue{Value: float64(s.params.Count) / sec, Unit: "msgs/s"})
				}
			}
			if len(g.Values) > 0 {
				out = append(out, g)
			}
		}
	}
	return out
}

// goBenchName is the bench.txt line figure k belongs to, its unit there
// and the factor from k's unit: "Produce/impl=ref", "ns/op", 1e6.
func goBenchName(k figKey) (string, string, float64) {
	impl := strings.ReplaceAll(k.impl, " ", "-")
	var name string
	switch k.exp.kind {
	case kindProduce:
		name = "Produce"
	case kindProcess:
		name = "Process"
	case kindCLIProduce:
		name = "CLIProduce"
	case kindCLIConsume:
		name = "CLIConsume"
	case kindParallel:
		name = "Parallel"
	case kindE2E:
		name = "E2E/rate=" + rateLabel(k.exp.rate)
		if k.exp.wait != "" {
			name += "/wait=" + string(k.exp.wait)
		}
	case kindWake:
		name = "WakeUp/wait=" + string(k.exp.wait)
	}
	if k.metric == metricSpeedup {
		return "Speedup/exp=" + strings.ReplaceAll(k.exp.String(), " ", "-") + "/impl=" + impl, "speedup", 1
	}
	name += "/impl=" + impl
	switch k.metric {
	case metricTime:
		return name, "ns/op", 1e6
	case metricRatio, metricNewestRatio:
		return name, "ratio", 1
	case metricRatio99:
		return name, "p99-ratio", 1
	}
	return name, string(k.metric) + "-ns", 1e3 // µs figures
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
		if h.Limit {
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
		if t := s.col.median(timeKey(expProduce, im.Name())); !math.IsNaN(t) {
			get("produce", im.Name()).PublishRate = float64(s.params.Count) / (t / 1e3)
		}
		if t := s.col.median(timeKey(expProcess, im.Name())); !math.IsNaN(t) {
			get("process", im.Name()).ConsumeRate = float64(s.params.Count) / (t / 1e3)
		}
	}
	out := make([]report.BenchOMBResult, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}
