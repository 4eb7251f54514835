package report

import (
	"math"
	"sort"
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/perf/benchmath"
)

// BenchSchemaVersion is the version of report.json written by klbench.
// Version 2 added the headline, the limits, the confidence intervals and
// spreads, the plot specifications and bench.txt lines with several units.
const BenchSchemaVersion = 2

// BenchConfidence is the confidence level of every interval klbench
// reports.
const BenchConfidence = 0.95

// BenchWideSpread is the max/min ratio of a figure's repetitions above
// which the tables mark its spread as wide: its median hides a range the
// reader must see.
const BenchWideSpread = 3.0

// BenchReport is everything one klbench run measured. It is written as
// report.json (see WriteBenchJSON) and rendered as report.md, .hgrm files,
// SVG and PNG plots and bench.txt.
type BenchReport struct {
	Tool          string      `json:"tool"`
	SchemaVersion int         `json:"schemaVersion"`
	StartedAt     string      `json:"startedAt"`
	DurationSec   float64     `json:"durationSec"`
	Env           BenchEnv    `json:"environment"`
	Config        BenchConfig `json:"config"`
	// Headline is three to five sentences that open report.md: the
	// reference against the raw limits, against the proof of concept's
	// published figures and against the other implementations measured.
	Headline   []string          `json:"headline,omitempty"`
	Rows       []BenchRow        `json:"table"`
	Limits     []BenchLimit      `json:"limits,omitempty"`
	Figures    []BenchFigure     `json:"figures"`
	Results    []BenchOMBResult  `json:"results"`
	Histograms []*BenchHistogram `json:"histograms"`
	Scale      []BenchScaleRow   `json:"scale,omitempty"`
	GoBench    []BenchGoResult   `json:"goBenchmarks,omitempty"`
	Plots      []BenchPlot       `json:"plots,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
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

// BenchStats summarises the repetitions of one figure: the median with
// its confidence interval (golang.org/x/perf/benchmath, which assumes no
// distribution: the interval comes from order statistics), and the
// extremes. With fewer than 6 repetitions a 95% interval does not exist,
// and Lo and Hi are -Inf and +Inf.
type BenchStats struct {
	N      int     `json:"repetitions"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	// Lo and Hi bound the median with confidence Confidence.
	Lo         float64 `json:"ciLow"`
	Hi         float64 `json:"ciHigh"`
	Confidence float64 `json:"ciConfidence,omitempty"`
}

// BenchSummarize summarises values (one per repetition). NaN and ±Inf
// values (a figure that could not be measured) are left out; with none
// left every statistic is NaN.
func BenchSummarize(values []float64) BenchStats {
	v := make([]float64, 0, len(values))
	for _, x := range values {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	nan := math.NaN()
	st := BenchStats{N: len(v), Min: nan, Median: nan, Max: nan, Lo: nan, Hi: nan}
	if len(v) == 0 {
		return st
	}
	s := benchmath.NewSample(v, &benchmath.DefaultThresholds) // sorts v
	sum := benchmath.AssumeNothing.Summary(s, BenchConfidence)
	st.Min, st.Max = v[0], v[len(v)-1]
	st.Median, st.Lo, st.Hi, st.Confidence = sum.Center, sum.Lo, sum.Hi, sum.Confidence
	return st
}

// Spread is max ÷ min, NaN when it has no meaning (no values, or a
// minimum at or below zero).
func (s BenchStats) Spread() float64 {
	if !(s.Min > 0) {
		return math.NaN()
	}
	return s.Max / s.Min
}

// Wide says whether the spread is above BenchWideSpread.
func (s BenchStats) Wide() bool { return s.Spread() > BenchWideSpread }

// CIPercent is the half-width of the median's confidence interval as a
// fraction of the median (the larger side), +Inf when there is no
// interval, NaN when there is no median.
func (s BenchStats) CIPercent() float64 {
	switch {
	case math.IsNaN(s.Median):
		return math.NaN()
	case math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi):
		return math.Inf(1)
	case s.Median == 0:
		return 0
	}
	return math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median)
}

// BenchFigure is one measured quantity over R repetitions.
type BenchFigure struct {
	ID         string    `json:"id"`
	Experiment string    `json:"experiment"`
	Impl       string    `json:"impl"`
	Metric     string    `json:"metric"`
	Unit       string    `json:"unit"`
	Values     []float64 `json:"values"`
	BenchStats
}

// NewBenchFigure summarises values (one per repetition).
func NewBenchFigure(id, experiment, impl, metric, unit string, values []float64) BenchFigure {
	return BenchFigure{ID: id, Experiment: experiment, Impl: impl, Metric: metric, Unit: unit,
		Values: append([]float64(nil), values...), BenchStats: BenchSummarize(values)}
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

// BenchRow is one line of the experiments table.
type BenchRow struct {
	Experiment string `json:"experiment"`
	What       string `json:"what"`
	// Published is the proof of concept's figure, on the rows that are
	// comparable with it only.
	Published string `json:"published,omitempty"`
	Impl      string `json:"impl"`
	Unit      string `json:"unit"`
	BenchStats
	// Limit is the median of the raw limit in the same unit, NaN if none;
	// LimitTag names it in the tables (a BenchLimit's Tag).
	Limit    float64 `json:"limit"`
	LimitTag string  `json:"limitTag,omitempty"`
	// Ratio is the median of the per-repetition ratios of the limit to the
	// implementation (1 = as fast as the limit), NaN if none; RatioLo and
	// RatioHi bound it like Lo and Hi bound the median.
	Ratio   float64 `json:"ratio"`
	RatioLo float64 `json:"ratioCILow"`
	RatioHi float64 `json:"ratioCIHigh"`
	Target  string  `json:"target,omitempty"`
	// Verdict is "PASS", "MISS" or "" (no target).
	Verdict string `json:"verdict,omitempty"`
	Error   string `json:"error,omitempty"`
}

// RatioMark qualifies a ratio above 1× to a limit, which a limit should
// not allow: "~" when the ratio's confidence interval includes 1× (the two
// are equal within the noise of the run), "!" when it does not (the
// "limit" did work this implementation avoids: it is no limit for this
// row). Empty otherwise.
func (r BenchRow) RatioMark() string {
	if !(r.Ratio > 1) {
		return ""
	}
	if math.IsNaN(r.RatioLo) || r.RatioLo <= 1 {
		return "~"
	}
	return "!"
}

// BenchLimit is one raw limit measured in the run: the least this
// machine's kernel takes for an experiment's I/O with nothing else done.
type BenchLimit struct {
	// Tag is the short name the table's limit column uses.
	Tag  string `json:"tag"`
	What string `json:"what"`
	Unit string `json:"unit"`
	BenchStats
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
	Name       string `json:"name"` // file stem, e.g. "produce-publish-ref"
	Experiment string `json:"experiment"`
	Kind       string `json:"kind"` // publish, poll, e2e, e2e-intended, e2e-service, wake-up, write
	// Impl is the implementation, or the raw limit's tag for a limit's
	// histogram (Limit set).
	Impl       string                  `json:"impl"`
	Limit      bool                    `json:"limit,omitempty"`
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
	Dimension string    `json:"dimension"` // producers, consumers, size, fsync, chunks, acks
	Setting   string    `json:"setting"`
	Metric    string    `json:"metric"`
	Unit      string    `json:"unit"`
	Values    []float64 `json:"values"`
	BenchStats
	Note string `json:"note,omitempty"`
}

// BenchGoResult is one line of bench.txt, in the Go benchmark format: one
// per repetition, so that benchstat sees the spread.
type BenchGoResult struct {
	Name   string         `json:"name"` // "Produce/impl=ref"
	Values []BenchGoValue `json:"values"`
}

// BenchGoValue is one measurement of a bench.txt line.
type BenchGoValue struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // "ns/op", "MB/s", "p50-ns", "ratio"
}

// BenchPlot is one latency-by-percentile plot: the histograms drawn as
// implementations' curves and as raw limits, by BenchHistogram.Name.
type BenchPlot struct {
	Name   string   `json:"name"` // file stem: "plot-produce-publish"
	Title  string   `json:"title"`
	Series []string `json:"series"`
	Limits []string `json:"limits,omitempty"`
	// Note is said under the plot's link, e.g. why it has no limit.
	Note  string   `json:"note,omitempty"`
	Files []string `json:"files,omitempty"` // written: .svg and .png
}
