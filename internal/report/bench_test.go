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

func benchGoldenReport() *BenchReport {
	h := hdrhistogram.New(1, 1e9, 3)
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v * 1000)
	}
	hist := NewBenchHistogram("produce-publish-ref", "produce", "publish", "ref", "produce: append latency, ref", h)
	r := &BenchReport{Tool: "klbench", SchemaVersion: BenchSchemaVersion, StartedAt: "2026-01-02T03:04:05Z", DurationSec: 12.5,
		Env:    BenchEnv{CPUModel: "Test CPU", Cores: 2, Kernel: "Linux 6.0", Filesystem: "ext4", GoVersion: "go1.26.8", GitCommit: "abc"},
		Config: BenchConfig{Impls: []string{"ref"}, Count: 1000, Size: 100, Reps: 3, Rate: 10000, Wait: "inotify", Fsync: "never", Batch: 1000, PollMax: 10000, Command: "klbench --reps 3 --count 1000"},
		Rows: []BenchRow{
			{Experiment: "produce", Published: "1115 ms", Impl: "ref", Unit: "ms", Min: 1.5, Median: 2, Limit: 1.2, LimitName: "O_APPEND write loop", Ratio: 0.6, Target: "≥ 0.50× raw", Verdict: "PASS"},
			{Experiment: "e2e p99", Impl: "ref", Unit: "us", Min: 90, Median: 120, Limit: math.NaN(), Ratio: math.NaN(), Target: "< 200 µs", Verdict: "PASS"},
			{Experiment: "process", Impl: "py", Unit: "ms", Min: math.NaN(), Median: math.NaN(), Limit: math.NaN(), Ratio: math.NaN(), Error: "process: exited"},
		},
		Figures:    []BenchFigure{NewBenchFigure("produce/ref/time", "produce", "ref", "time", "ms", []float64{2, 1.5, 2.5})},
		Histograms: []*BenchHistogram{hist},
		Scale:      []BenchScaleRow{{Dimension: "acks", Setting: "10", Metric: "resume", Unit: "us", Reps: 3, Min: 1, Median: 2, Max: 3}},
		GoBench:    []BenchGoResult{{Name: "Produce/impl=ref", NsPerOp: 2e6, Extra: map[string]float64{"MB/s": 50, "msgs/s": 5e5}}},
		Notes:      []string{"a note"},
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
	WriteBenchTable(&table, r.Rows)
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
	svg, err := os.ReadFile(filepath.Join(dir, "plot-produce-publish.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "99.9%", "percentile", "ref (n=1000)"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("SVG lacks %q", s)
		}
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
