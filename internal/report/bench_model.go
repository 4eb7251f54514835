package report

import (
	"math"
	"sort"
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// BenchSchemaVersion is the version of report.json written by klbench.
const BenchSchemaVersion = 1

// BenchReport is everything one klbench run measured. It is written as
// report.json (see WriteBenchJSON) and rendered as report.md, .hgrm files,
// SVG plots and bench.txt.
type BenchReport struct {
	Tool          string            `json:"tool"`
	SchemaVersion int               `json:"schemaVersion"`
	StartedAt     string            `json:"startedAt"`
	DurationSec   float64           `json:"durationSec"`
	Env           BenchEnv          `json:"environment"`
	Config        BenchConfig       `json:"config"`
	Rows          []BenchRow        `json:"table"`
	Figures       []BenchFigure     `json:"figures"`
	Results       []BenchOMBResult  `json:"results"`
	Histograms    []*BenchHistogram `json:"histograms"`
	Scale         []BenchScaleRow   `json:"scale,omitempty"`
	GoBench       []BenchGoResult   `json:"goBenchmarks,omitempty"`
	Plots         []string          `json:"plots,omitempty"`
	Notes         []string          `json:"notes,omitempty"`
}

// BenchEnv describes the machine and build a run happened on.
type BenchEnv struct {
	CPUModel   string `json:"cpuModel"`
	Cores      int    `json:"cores"`
	Kernel     string `json:"kernel"`
	Filesystem string `json:"filesystem"`
	GoVersion  string `json:"goVersion"`
	GitCommit  string `json:"gitCommit"`
	Hostname   string `json:"hostname,omitempty"`
}

// BenchConfig is what the run was asked to do.
type BenchConfig struct {
	Impls    []string `json:"impls"`
	Count    int      `json:"count"`
	Size     int      `json:"size"`
	Reps     int      `json:"reps"`
	Rate     float64  `json:"rate,omitempty"`
	Wait     string   `json:"waitStrategy"`
	Fsync    string   `json:"fsyncMode"`
	Quick    bool     `json:"quick"`
	Scale    bool     `json:"scale"`
	Batch    int      `json:"protocolBatch"`
	PollMax  int      `json:"protocolPollMax"`
	SlowDown string   `json:"slowAppend,omitempty"`
	// Command is the klbench command line that made the report, shell
	// quoted, to reproduce it.
	Command string `json:"command,omitempty"`
}

// BenchFigure is one measured quantity over R repetitions.
type BenchFigure struct {
	ID         string    `json:"id"`
	Experiment string    `json:"experiment"`
	Impl       string    `json:"impl"`
	Metric     string    `json:"metric"`
	Unit       string    `json:"unit"`
	Reps       int       `json:"repetitions"`
	Values     []float64 `json:"values"`
	Min        float64   `json:"min"`
	Median     float64   `json:"median"`
	Max        float64   `json:"max"`
}

// NewBenchFigure summarises values (one per repetition).
func NewBenchFigure(id, experiment, impl, metric, unit string, values []float64) BenchFigure {
	f := BenchFigure{ID: id, Experiment: experiment, Impl: impl, Metric: metric, Unit: unit,
		Reps: len(values), Values: append([]float64(nil), values...)}
	f.Min, f.Median, f.Max = BenchMinMedianMax(values)
	return f
}

// BenchMinMedianMax returns the minimum, median (mean of the middle two for
// an even count) and maximum of v, or NaNs for an empty v.
func BenchMinMedianMax(v []float64) (min, median, max float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], median, s[n-1]
}

// BenchRow is one line of the human table.
type BenchRow struct {
	Experiment string  `json:"experiment"`
	What       string  `json:"what"`
	Published  string  `json:"published"`
	Impl       string  `json:"impl"`
	Unit       string  `json:"unit"`
	Min        float64 `json:"min"`
	Median     float64 `json:"median"`
	Limit      float64 `json:"limit"` // raw limit in the same unit, NaN if none
	LimitName  string  `json:"limitName,omitempty"`
	// Ratio is the implementation's rate as a fraction of the raw limit
	// (1 = as fast as the hardware allows), NaN if none.
	Ratio  float64 `json:"ratio"`
	Target string  `json:"target,omitempty"`
	// Verdict is "PASS", "MISS" or "" (no target).
	Verdict string `json:"verdict,omitempty"`
	Error   string `json:"error,omitempty"`
}

// BenchOMBResult is one implementation's result for one experiment with
// field names from the OpenMessaging Benchmark result JSON. Latencies are
// in milliseconds, as in OMB.
type BenchOMBResult struct {
	Experiment string `json:"experiment"`
	Impl       string `json:"impl"`

	PublishRate float64 `json:"publishRate,omitempty"` // msgs/s, median over repetitions
	ConsumeRate float64 `json:"consumeRate,omitempty"` // msgs/s

	PublishLatency50pct    *float64 `json:"publishLatency50pct,omitempty"`
	PublishLatency75pct    *float64 `json:"publishLatency75pct,omitempty"`
	PublishLatency95pct    *float64 `json:"publishLatency95pct,omitempty"`
	PublishLatency99pct    *float64 `json:"publishLatency99pct,omitempty"`
	PublishLatency999pct   *float64 `json:"publishLatency999pct,omitempty"`
	PublishLatency9999pct  *float64 `json:"publishLatency9999pct,omitempty"`
	PublishLatencyMax      *float64 `json:"publishLatencyMax,omitempty"`
	EndToEndLatency50pct   *float64 `json:"endToEndLatency50pct,omitempty"`
	EndToEndLatency75pct   *float64 `json:"endToEndLatency75pct,omitempty"`
	EndToEndLatency95pct   *float64 `json:"endToEndLatency95pct,omitempty"`
	EndToEndLatency99pct   *float64 `json:"endToEndLatency99pct,omitempty"`
	EndToEndLatency999pct  *float64 `json:"endToEndLatency999pct,omitempty"`
	EndToEndLatency9999pct *float64 `json:"endToEndLatency9999pct,omitempty"`
	EndToEndLatencyMax     *float64 `json:"endToEndLatencyMax,omitempty"`

	AggregatedPublishLatencyQuantiles  map[string]float64 `json:"aggregatedPublishLatencyQuantiles,omitempty"`
	AggregatedEndToEndLatencyQuantiles map[string]float64 `json:"aggregatedEndToEndLatencyQuantiles,omitempty"`
}

// BenchHistogram is one merged latency histogram, values in ns.
type BenchHistogram struct {
	Name       string                  `json:"name"` // file stem, e.g. "produce-publish-ref"
	Experiment string                  `json:"experiment"`
	Kind       string                  `json:"kind"` // publish, poll, e2e, e2e-intended, wakeup
	Impl       string                  `json:"impl"`
	Title      string                  `json:"title"`
	Count      int64                   `json:"count"`
	Unit       string                  `json:"unit"` // of Percentiles: "us"
	Percentile map[string]float64      `json:"percentiles"`
	File       string                  `json:"hgrm,omitempty"`
	H          *hdrhistogram.Histogram `json:"-"`
}

// BenchPercentiles are the percentiles every histogram is reported at.
var BenchPercentiles = []float64{50, 90, 99, 99.9, 99.99, 100}

// BenchPercentileKey names a percentile in maps: "p50", "p99.9", "max".
func BenchPercentileKey(p float64) string {
	if p >= 100 {
		return "max"
	}
	return "p" + strconv.FormatFloat(p, 'f', -1, 64)
}

// NewBenchHistogram wraps h and computes its percentiles in µs.
func NewBenchHistogram(name, experiment, kind, impl, title string, h *hdrhistogram.Histogram) *BenchHistogram {
	b := &BenchHistogram{Name: name, Experiment: experiment, Kind: kind, Impl: impl, Title: title,
		Count: h.TotalCount(), Unit: "us", Percentile: map[string]float64{}, H: h}
	for _, p := range BenchPercentiles {
		b.Percentile[BenchPercentileKey(p)] = BenchQuantileNS(h, p) / 1e3
	}
	return b
}

// BenchQuantileNS is the value at percentile p (0..100) of h in ns; p=100
// is the maximum. An empty histogram gives NaN.
func BenchQuantileNS(h *hdrhistogram.Histogram, p float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return math.NaN()
	}
	if p >= 100 {
		return float64(h.Max())
	}
	return float64(h.ValueAtQuantile(p))
}

// BenchOMBQuantiles returns the OMB-style quantile map of h in ms, keyed
// like OMB ("50.0", "99.0", "99.9", "99.99", "100.0").
func BenchOMBQuantiles(h *hdrhistogram.Histogram) map[string]float64 {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	m := map[string]float64{}
	for _, p := range []float64{50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		k := strconv.FormatFloat(p, 'f', -1, 64)
		if p == math.Trunc(p) {
			k += ".0"
		}
		m[k] = BenchQuantileNS(h, p) / 1e6
	}
	return m
}

// BenchScaleRow is one point of the scale section.
type BenchScaleRow struct {
	Dimension string  `json:"dimension"` // producers, consumers, size, fsync, chunks, acks
	Setting   string  `json:"setting"`
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Reps      int     `json:"repetitions"`
	Min       float64 `json:"min"`
	Median    float64 `json:"median"`
	Max       float64 `json:"max"`
	Note      string  `json:"note,omitempty"`
}

// BenchGoResult is one line of bench.txt, in Go benchmark format: one per
// repetition, so that benchstat sees the spread.
type BenchGoResult struct {
	Name    string  `json:"name"` // "Produce/impl=ref"
	NsPerOp float64 `json:"nsPerOp"`
	// Extra metrics, e.g. {"MB/s": 89.1, "msgs/s": 1e6}, printed in key order.
	Extra map[string]float64 `json:"extra,omitempty"`
}
