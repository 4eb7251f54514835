package report

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/perf/benchfmt"
)

var benchUpdate = flag.Bool("bench.update", false, "rewrite the klbench golden files")

func TestBenchMinMedianMax(t *testing.T) {
	for _, c := range []struct {
		in            []float64
		min, med, max float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 1, 3, 5},
		{[]float64{4, 1, 3, 2}, 1, 2.5, 4},
	} {
		mn, md, mx := BenchMinMedianMax(c.in)
		if mn != c.min || md != c.med || mx != c.max {
			t.Errorf("%v: got %v %v %v", c.in, mn, md, mx)
		}
	}
	if _, md, _ := BenchMinMedianMax(nil); !math.IsNaN(md) {
		t.Errorf("empty: median %v, want NaN", md)
	}
}

// BenchSummarize gives benchmath's median and 95% interval, the extremes
// and the spread, leaves out NaN, and leaves its input alone.
func TestBenchSummarize(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name           string
		in             []float64
		n              int
		min, med, max  float64
		lo, hi, spread float64
		wide           bool
	}{
		{"six", []float64{6, 1, 5, 2, 4, 3}, 6, 1, 3.5, 6, 1, 6, 6, true},
		{"nine", []float64{9, 8, 7, 6, 5, 4, 3, 2, 1}, 9, 1, 5, 9, 2, 8, 9, true},
		{"too few for an interval", []float64{2, 1, 3}, 3, 1, 2, 3, -inf, inf, 3, false},
		{"NaN left out", []float64{math.NaN(), 2, 2.2}, 2, 2, 2.1, 2.2, -inf, inf, 1.1, false},
		{"one", []float64{7}, 1, 7, 7, 7, -inf, inf, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			s := BenchSummarize(in)
			if s.N != tc.n || s.Min != tc.min || s.Median != tc.med || s.Max != tc.max || s.Lo != tc.lo || s.Hi != tc.hi {
				t.Errorf("got %+v", s)
			}
			if math.Abs(s.Spread()-tc.spread) > 1e-9 || s.Wide() != tc.wide {
				t.Errorf("spread %v wide %v, want %v %v", s.Spread(), s.Wide(), tc.spread, tc.wide)
			}
			for i := range in {
				if in[i] != tc.in[i] && !math.IsNaN(tc.in[i]) {
					t.Fatalf("input changed: %v", in)
				}
			}
		})
	}
	if s := BenchSummarize(nil); !math.IsNaN(s.Median) || !math.IsNaN(s.Spread()) || !math.IsNaN(s.CIPercent()) {
		t.Errorf("empty: %+v", s)
	}
}

// A ratio above 1× to a limit is always marked: ~ within noise, ! beyond.
func TestRatioMark(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		ratio, lo float64
		want      string
	}{{0.8, 0.7, ""}, {1.04, 0.9, "~"}, {1.04, math.Inf(-1), "~"}, {1.5, nan, "~"}, {1.5, 1.2, "!"}, {nan, nan, ""}} {
		r := BenchRow{Ratio: tc.ratio, RatioLo: tc.lo}
		if got := r.RatioMark(); got != tc.want {
			t.Errorf("ratio %v lo %v: mark %q, want %q", tc.ratio, tc.lo, got, tc.want)
		}
	}
}

func TestBenchPercentiles(t *testing.T) {
	h := hdrhistogram.New(1, 1e9, 3)
	for v := int64(1); v <= 10000; v++ {
		h.RecordValue(v * 1000) // 1 µs .. 10 ms
	}
	for _, c := range []struct{ p, want float64 }{{50, 5000e3}, {90, 9000e3}, {99, 9900e3}, {99.9, 9990e3}, {100, 10000e3}} {
		got := BenchQuantileNS(h, c.p)
		if math.Abs(got-c.want)/c.want > 0.001 {
			t.Errorf("p%v = %v, want %v ±0.1%%", c.p, got, c.want)
		}
	}
	if k := BenchPercentileKey(99.9); k != "p99.9" {
		t.Errorf("key %q", k)
	}
	if k := BenchPercentileKey(100); k != "max" {
		t.Errorf("key %q", k)
	}
	for p, x := range map[float64]float64{0: 0, 90: 1, 99: 2, 99.9: 3} {
		if got := BenchPercentileX(p); math.Abs(got-x) > 1e-9 {
			t.Errorf("x(%v) = %v, want %v", p, got, x)
		}
	}
	for n, l := range map[int]string{0: "0%", 2: "99%", 3: "99.9%", 5: "99.999%"} {
		if got := BenchPercentileLabel(n); got != l {
			t.Errorf("label(%d) = %q, want %q", n, got, l)
		}
	}
	q := BenchOMBQuantiles(h)
	if v := q["99.0"]; math.Abs(v-9.9) > 0.01 {
		t.Errorf("OMB 99.0 = %v ms, want 9.9", v)
	}
}

// The latency axis is labelled in durations, with 2× and 5× labels when
// it spans two decades or less.
func TestBenchLatencyTicks(t *testing.T) {
	for v, want := range map[float64]string{0.5: "500 ns", 2: "2 µs", 100: "100 µs", 1000: "1 ms", 100000: "100 ms", 2e6: "2 s"} {
		if got := BenchLatencyLabel(v); got != want {
			t.Errorf("label(%v µs) = %q, want %q", v, got, want)
		}
	}
	labels := func(min, max float64) []string {
		var out []string
		for _, tk := range (benchLatencyTicks{}).Ticks(min, max) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got := strings.Join(labels(1, 1e6), ","); got != "1 µs,10 µs,100 µs,1 ms,10 ms,100 ms,1 s" {
		t.Errorf("wide axis labels %s", got)
	}
	if got := strings.Join(labels(100, 10000), ","); got != "100 µs,200 µs,500 µs,1 ms,2 ms,5 ms,10 ms" {
		t.Errorf("narrow axis labels %s", got)
	}
}

func TestBenchColours(t *testing.T) {
	a := BenchColours([]string{"ref", "python", "ref-adapter", "nats"})
	b := BenchColours([]string{"nats", "ref"})
	if a["ref"] != b["ref"] || a["ref"] == a["python"] || a["python"] == a["nats"] || a["ref-adapter"] == a["ref"] {
		t.Errorf("colours: %v / %v", a, b)
	}
	if a["null-adapter"] == nil {
		t.Error("null-adapter has no colour")
	}
}

func benchGoldenReport() *BenchReport {
	h := hdrhistogram.New(1, 1e9, 3)
	lim := hdrhistogram.New(1, 1e9, 3)
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v * 1000)
		lim.RecordValue(v * 800)
	}
	hist := NewBenchHistogram("produce-publish-ref", "produce", "publish", "ref", "produce: append latency, ref", h)
	limHist := NewBenchHistogram("produce-publish-raw", "produce", "publish", "write/rec", "limit: bare write(2), one per record", lim)
	limHist.Limit = true
	nan := math.NaN()
	six := func(v ...float64) BenchStats { return BenchSummarize(v) }
	r := &BenchReport{Tool: "klbench", SchemaVersion: BenchSchemaVersion, StartedAt: "2026-01-02T03:04:05Z", DurationSec: 12.5,
		Env:      BenchEnv{CPUModel: "Test CPU", Cores: 2, Kernel: "Linux 6.0", Filesystem: "ext4", GoVersion: "go1.26.8", GitCommit: "abc"},
		Config:   BenchConfig{Impls: []string{"ref"}, Count: 1000, Size: 100, Reps: 6, Rate: 10000, Wait: "inotify", Fsync: "never", Batch: 1000, PollMax: 10000, Command: "klbench --reps 6 --count 1000"},
		Headline: []string{"ref vs the raw limits: produce 0.60× a bare write(2) per record.", "ref vs the seed: not comparable here.", "Targets: 2 PASS, 0 MISS."},
		Rows: []BenchRow{
			{Experiment: "produce", Impl: "ref", Unit: "ms", BenchStats: six(1.5, 2, 2, 2.1, 1.9, 2.2), Limit: 1.2, LimitTag: "write/rec", Ratio: 0.6, RatioLo: 0.5, RatioHi: 0.7, Target: "≥ 0.50×", Verdict: "PASS"},
			{Experiment: "e2e p50", Impl: "ref", Unit: "us", BenchStats: six(10, 11, 10.5, 12, 11, 10), Limit: 11, LimitTag: "inotify p50", Ratio: 1.04, RatioLo: 0.95, RatioHi: 1.1},
			{Experiment: "e2e p99", Impl: "ref", Unit: "us", BenchStats: six(90, 120, 400, 110, 100, 130), Limit: nan, Ratio: nan, RatioLo: nan, RatioHi: nan, Target: "< 200 µs", Verdict: "PASS"},
			{Experiment: "cli produce", Impl: "klref", Published: "1115 ms", Unit: "ms", BenchStats: six(150, 160, 155, 170, 165, 158), Limit: 110, LimitTag: "proc write", Ratio: 0.7, RatioLo: 0.65, RatioHi: 0.75},
			{Experiment: "process", Impl: "py", Unit: "ms", BenchStats: six(), Limit: nan, Ratio: nan, RatioLo: nan, RatioHi: nan, Error: "process: exited"},
		},
		Limits:     []BenchLimit{{Tag: "write/rec", What: "a bare O_APPEND write(2) loop, one write per record", Unit: "ms", BenchStats: six(1.1, 1.2, 1.3)}},
		Figures:    []BenchFigure{NewBenchFigure("produce/ref/time", "produce", "ref", "time", "ms", []float64{2, 1.5, 2.5})},
		Histograms: []*BenchHistogram{hist, limHist},
		Scale:      []BenchScaleRow{{Dimension: "acks", Setting: "10", Metric: "resume", Unit: "us", Values: []float64{1, 2, 3}, BenchStats: six(1, 2, 3)}},
		GoBench: []BenchGoResult{
			{Name: "Produce/impl=ref", Values: []BenchGoValue{{2e6, "ns/op"}, {50, "MB/s"}, {5e5, "msgs/s"}, {0.6, "ratio"}}},
			{Name: "E2E/rate=10k/wait=inotify/impl=ref", Values: []BenchGoValue{{10500, "p50-ns"}, {nan, "p99-ns"}}},
		},
		Plots: []BenchPlot{{Name: "plot-produce-publish", Title: "produce: append latency", Series: []string{"produce-publish-ref"}, Limits: []string{"produce-publish-raw"}}},
		Notes: []string{"a note"},
	}
	r.Results = []BenchOMBResult{{Experiment: "produce", Impl: "ref", PublishRate: 5e5, AggregatedPublishLatencyQuantiles: BenchOMBQuantiles(h)}}
	return r
}

func TestBenchGolden(t *testing.T) {
	dir := t.TempDir()
	r := benchGoldenReport()
	if err := WriteBenchReport(dir, r); err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := WriteBenchTable(&table, r.Rows, r.Limits); err != nil {
		t.Fatal(err)
	}
	table.WriteString("\n")
	if err := WriteBenchScaleTable(&table, r.Scale); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "table.txt"), table.Bytes(), 0o644)
	for _, name := range []string{"report.json", "report.md", "bench.txt", "table.txt", "produce-publish-ref.hgrm"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "bench", name+".golden")
		if *benchUpdate {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			os.WriteFile(golden, got, 0o644)
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/report -run TestBenchGolden -bench.update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", name, golden, got)
		}
	}
	for _, line := range strings.Split(table.String(), "\n") {
		if n := len([]rune(line)); n > BenchTableWidth {
			t.Errorf("table line of %d columns, over %d:\n%s", n, BenchTableWidth, line)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "plot-produce-publish.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "99.9%", "percentile", "ref (n=1000)", "limit: bare write(2), one per record (n=1000)", "1 ms"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	png, err := os.ReadFile(filepath.Join(dir, "plot-produce-publish.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("no PNG plot: %v", err)
	}
	if got := r.Plots[0].Files; len(got) != 2 {
		t.Errorf("plot files %v, want the SVG and the PNG", got)
	}
}

// bench.txt is what benchstat reads: every line parses with benchfmt, the
// units that benchstat cannot guess carry their direction, and a
// measurement that failed is left out rather than written as NaN.
func TestBenchGoTextParses(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBenchGoText(&b, benchGoldenReport()); err != nil {
		t.Fatal(err)
	}
	rd := benchfmt.NewReader(&b, "bench.txt")
	var names []string
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.Result:
			names = append(names, rec.Name.String())
			for _, v := range rec.Values {
				if math.IsNaN(v.Value) {
					t.Errorf("%s: NaN %s", rec.Name, v.Unit)
				}
			}
			if rec.GetConfig("cpu") != "Test CPU" {
				t.Errorf("%s: cpu %q", rec.Name, rec.GetConfig("cpu"))
			}
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "Produce/impl=ref,E2E/rate=10k/wait=inotify/impl=ref" {
		t.Errorf("results %v", names)
	}
	u := rd.Units()
	for unit, want := range map[string]int{"ratio": 1, "msgs/s": 1, "p50-ns": -1, "sec/op": -1} {
		if got := u.GetBetter(unit); got != want {
			t.Errorf("unit %s: better %d, want %d", unit, got, want)
		}
	}
}

// CleanBenchReportDir removes an earlier report's files and nothing else.
func TestCleanBenchReportDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"report.md", "report.json", "bench.txt", "a.hgrm", "plot-x.svg", "plot-x.png", "README.md", "notes.svg"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	if err := CleanBenchReportDir(dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != "README.md,notes.svg" {
		t.Errorf("left %v", left)
	}
	if err := CleanBenchReportDir(filepath.Join(dir, "none")); err != nil {
		t.Errorf("a missing dir: %v", err)
	}
}

// TestBenchJSONLeavesReportAlone: writing JSON drops NaN percentiles from
// the output only; the report, which report.md is written from too, keeps
// them.
func TestBenchJSONLeavesReportAlone(t *testing.T) {
	h := &BenchHistogram{Name: "h", Percentile: map[string]float64{"p50": 1.5, "p99": math.NaN()}}
	r := &BenchReport{Histograms: []*BenchHistogram{h}}
	var b bytes.Buffer
	if err := WriteBenchJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Percentile["p99"]; !ok {
		t.Fatal("WriteBenchJSON deleted a percentile from the report")
	}
	if strings.Contains(b.String(), "p99") || !strings.Contains(b.String(), `"p50": 1.5`) {
		t.Fatalf("unexpected JSON:\n%s", b.String())
	}
}
