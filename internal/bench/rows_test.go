package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// fakeSuite is a suite of ref, ref-adapter, python (through the protocol),
// python-native and the null adapter, with six repetitions of made-up
// figures: the rows, headline and bench.txt are functions of these alone.
func fakeSuite(t *testing.T) *suite {
	t.Helper()
	impls := []impl{&refImpl{}, &protoImpl{name: "ref-adapter"}, &protoImpl{name: "python"}, &nativeImpl{name: "python-native"}, &protoImpl{name: "null-adapter"}}
	s := newSuite(suiteParams{Count: 100000, Size: 100, Reps: 6, Rate: 10000, Batch: 1000}, impls, t.TempDir(), nil,
		ref.WaitInotify, ref.WaitPoll, ref.WaitSpin)
	s.exps["cli"] = true
	s.cli = &cliTools{klrefHow: "given"}
	six := func(k figKey, v ...float64) {
		for _, x := range v {
			s.col.add(k, x)
		}
	}
	six(timeKey(expProduce, implRaw), 200, 190, 210, 205, 195, 200)
	six(timeKey(expProduce, implRawBatch), 20, 19, 21, 20, 20, 22)
	for name, ms := range map[string]float64{"ref": 240, "ref-adapter": 150, "python": 330, "python-native": 4600, "null-adapter": 128} {
		lim := 200.0
		if name != "ref" && name != "python-native" {
			lim = 20
		}
		for i := 0; i < 6; i++ {
			v := ms * (1 + 0.01*float64(i))
			s.col.add(timeKey(expProduce, name), v)
			s.col.add(ratioKey(expProduce, name), lim/v)
			s.col.add(timeKey(expProcess, name), ms/10*(1+0.01*float64(i)))
			s.col.add(ratioKey(expProcess, name), 3/(ms/10))
		}
	}
	six(timeKey(expProcess, implRaw), 3, 3, 3, 3, 3, 3)
	// The full-speed row beats the spin wake-up in every repetition: a
	// ratio above 1× beyond noise, which must be marked.
	six(figKey{expWake(ref.WaitSpin), implBare, metricP50}, 3.3, 3.2, 3.4, 3.3, 3.3, 3.3)
	six(figKey{expWake(ref.WaitInotify), implBare, metricP50}, 17, 18, 17, 16, 17, 18)
	six(figKey{expWake(ref.WaitInotify), implBare, metricP99}, 117, 120, 110, 100, 130, 125)
	six(figKey{expParallel, "ref", metricNewest}, 2, 2.1, 2.2, 1.9, 2, 2)
	six(figKey{expParallel, "ref", metricNewestRatio}, 1.6, 1.5, 1.55, 1.7, 1.65, 1.6)
	e2e := expE2E(10000, ref.WaitInotify)
	six(figKey{e2e, "ref", metricP50}, 17, 16, 18, 17, 17, 16)
	six(figKey{e2e, "ref", metricRatio}, 1.0, 1.1, 0.95, 1.05, 1.04, 1.06)
	six(figKey{e2e, "ref", metricP99}, 130, 140, 600, 120, 130, 135)
	six(figKey{e2e, "ref", metricRatio99}, 0.9, 0.85, 0.2, 0.9, 0.95, 0.9)
	for name, v := range map[string]float64{"ref-adapter": 173, "python": 1322} {
		six(figKey{expE2E(10000, ""), name, metricP50}, v, v, v, v, v, v)
		six(figKey{expE2E(10000, ""), name, metricRatio}, 17/v, 17/v, 17/v, 17/v, 17/v, 17/v)
	}
	six(timeKey(expCLIProduce, implRaw), 110, 112, 108, 110, 111, 109)
	six(timeKey(expCLIProduce, "klref"), 160, 158, 162, 160, 161, 159)
	six(ratioKey(expCLIProduce, "klref"), 0.69, 0.7, 0.68, 0.69, 0.7, 0.69)
	six(timeKey(expCLIConsume, implRaw), 8, 8, 8, 8, 8, 8)
	six(timeKey(expCLIConsume, "klref"), 22, 22, 22, 22, 22, 22)
	six(ratioKey(expCLIConsume, "klref"), 0.36, 0.36, 0.36, 0.36, 0.36, 0.36)
	s.derive()
	return s
}

func rowOf(t *testing.T, rows []report.BenchRow, exp, impl string) report.BenchRow {
	t.Helper()
	for _, r := range rows {
		if r.Experiment == exp && r.Impl == impl {
			return r
		}
	}
	t.Fatalf("no row %s %s", exp, impl)
	return report.BenchRow{}
}

// Each implementation is held against the limit of its own I/O pattern:
// one write per record for those that append one message a call, one per
// batch behind the protocol, so that no ratio beats its limit; and a
// ratio that does is marked.
func TestRowLimits(t *testing.T) {
	rows := fakeSuite(t).rows()
	for _, tc := range []struct {
		exp, impl, tag, mark, published string
	}{
		{"produce", "ref", "write/rec", "", ""},
		{"produce", "python-native", "write/rec", "", ""},
		{"produce", "ref-adapter", "write/1000", "", ""},
		{"produce", "null-adapter", "write/1000", "", ""},
		{"process", "ref", "read+split", "", ""},
		{"parallel", "ref", "spin p50", "!", publishedParallel},
		{"e2e@10k/s inotify p50", "ref", "inotify p50", "~", ""},
		{"e2e@10k/s p50", "python", "inotify p50", "", ""},
		{"cli produce", "klref", "proc write", "", publishedProduce},
		{"cli consume", "klref", "proc read", "", publishedProcess},
	} {
		r := rowOf(t, rows, tc.exp, tc.impl)
		assert.Equal(t, tc.tag, r.LimitTag, "%s %s", tc.exp, tc.impl)
		assert.Equal(t, tc.mark, r.RatioMark(), "%s %s: ratio %v", tc.exp, tc.impl, r.Ratio)
		assert.Equal(t, tc.published, r.Published, "%s %s", tc.exp, tc.impl)
		if tc.mark == "" {
			assert.LessOrEqual(t, r.Ratio, 1.0, "%s %s", tc.exp, tc.impl)
		}
	}
	// Only the comparable rows carry the proof of concept's figures.
	assert.Empty(t, rowOf(t, rows, "produce", "ref").Published)
	assert.True(t, rowOf(t, rows, "e2e@10k/s inotify p99", "ref").Wide())
	assert.Equal(t, "PASS", rowOf(t, rows, "produce", "ref").Verdict)
	assert.Equal(t, "MISS", rowOf(t, rows, "cli produce", "klref").Verdict)
	r := rowOf(t, rows, "produce speedup", "ref vs python-native")
	assert.InDelta(t, 4600.0/240, r.Median, 0.01)
	assert.Equal(t, "≥ 5×", r.Target)
	// Through the protocol, the speedup is informational: no target.
	assert.Empty(t, rowOf(t, rows, "produce speedup", "ref vs python").Target)
}

// The headline says the four things, from the figures.
func TestHeadline(t *testing.T) {
	s := fakeSuite(t)
	h := s.headline(s.rows())
	require.Len(t, h, 4)
	for i, want := range [][]string{
		{"ref vs the raw limits", "median of 6", "produce 0.81× a bare write(2) per record", "process 0.12× a bare read and split", "e2e p50 at 10k/s 1.04× a bare inotify wake-up (p50) (equal within noise)"},
		{"1115 ms", "443 ms", "about 23 µs", "original Python proof of concept", "run as a process", "cli produce and cli consume", "`klref produce`", "160 ms (7.0× faster)", "22.0 ms (20× faster)", "newest message takes 2.0 µs"},
		{"python (through the protocol): ref-adapter, through the same protocol, 2.2× faster to produce, 2.2× faster to process, e2e p50 173 µs against 1322 µs",
			"python-native (own process, one call per message, as the seed was timed): ref 19× faster to produce",
			"the protocol alone (null adapter) costs 131 ms to produce, 13.1 ms to process"},
		{"Targets:", "MISS", "cli produce klref"},
	} {
		for _, w := range want {
			assert.Contains(t, h[i], w, "headline line %d", i+1)
		}
	}
	// Without the cli rows the seed's sentence says where they are.
	delete(s.exps, "cli")
	assert.Contains(t, s.headSeed(s.rows()), "not run here")
}

// bench.txt has a line for every figure group and repetition, latencies
// included, and benchfmt reads it back.
func TestGoBenchLines(t *testing.T) {
	s := fakeSuite(t)
	scale := []report.BenchScaleRow{
		{Dimension: "producers", Setting: "4", Metric: "aggregate rate", Unit: "msgs/s", Values: []float64{5e5, 5.1e5}},
		{Dimension: "producers", Setting: "4", Metric: "append p99", Unit: "us", Values: []float64{48, 50}},
		{Dimension: "size", Setting: "1 KiB", Metric: "produce", Unit: "MB/s", Values: []float64{90, 95}},
	}
	rep := &report.BenchReport{GoBench: append(s.goBench(), scaleGoBench(scale)...)}
	var b bytes.Buffer
	require.NoError(t, report.WriteBenchGoText(&b, rep))
	count := map[string]int{}
	units := map[string]map[string]bool{}
	rd := benchfmt.NewReader(&b, "bench.txt")
	for rd.Scan() {
		if r, ok := rd.Result().(*benchfmt.Result); ok {
			n := r.Name.String()
			count[n]++
			if units[n] == nil {
				units[n] = map[string]bool{}
			}
			for _, v := range r.Values {
				units[n][v.Unit] = true
			}
		}
	}
	require.NoError(t, rd.Err())
	for name, us := range map[string][]string{
		"Produce/impl=raw":                              {"sec/op", "B/s", "msgs/s"},
		"Produce/impl=raw-batch":                        {"sec/op"},
		"Produce/impl=ref":                              {"sec/op", "B/s", "msgs/s", "ratio"},
		"Process/impl=python":                           {"sec/op", "ratio"},
		"Parallel/impl=ref":                             {"newest-sec", "ratio"},
		"E2E/rate=10k/wait=inotify/impl=ref":            {"p50-sec", "p99-sec", "ratio", "p99-ratio"},
		"E2E/rate=10k/impl=python":                      {"p50-sec"},
		"WakeUp/wait=spin/impl=bare":                    {"p50-sec"},
		"CLIConsume/impl=klref":                         {"sec/op", "ratio"},
		"Speedup/exp=produce/impl=ref-vs-python-native": {"speedup"},
		"Scale/producers=4":                             {"msgs/s", "append-p99-sec"},
		"Scale/size=1KiB":                               {"produce-B/s"},
	} {
		want := 6
		if strings.HasPrefix(name, "Scale/") {
			want = 2
		}
		assert.Equal(t, want, count[name], "lines of %s", name)
		for _, u := range us {
			assert.True(t, units[name][u], "%s lacks unit %s: %v", name, u, units[name])
		}
	}
}

// Every plot draws the limit of what it shows; the polling plots say why
// they have none.
func TestPlots(t *testing.T) {
	s := fakeSuite(t)
	h := newHist()
	record(h, 1000)
	for _, k := range []histKey{
		{expProduce, "publish", "ref", false}, {expProduce, "publish", implRaw, true}, {expProduce, "publish", implRawBatch, true},
		{expParallel, "e2e", "ref", false}, {expWake(ref.WaitSpin), "wake-up", implBare, true},
		{expE2E(10000, ref.WaitInotify), "e2e-intended", "ref", false}, {expWake(ref.WaitInotify), "wake-up", implBare, true},
		{expE2E(10000, ref.WaitPoll), "e2e-intended", "ref", false},
	} {
		s.col.hist(k, k.name(), h)
	}
	want := map[string][]string{
		"plot-produce-publish":                {"produce-publish-raw", "produce-publish-raw-batch"},
		"plot-parallel-e2e":                   {"wake-up-spin-wake-up-bare"},
		"plot-e2e-10k-s-inotify-e2e-intended": {"wake-up-inotify-wake-up-bare"},
		"plot-e2e-10k-s-poll-e2e-intended":    nil,
	}
	pls := s.plots()
	require.Len(t, pls, len(want))
	for _, pl := range pls {
		assert.Equal(t, want[pl.Name], pl.Limits, pl.Name)
		if pl.Limits == nil {
			assert.Contains(t, pl.Note, "polling", pl.Name)
		}
	}
}
