package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// expKind is the kind of one of klbench's experiments.
type expKind int

const (
	kindProduce expKind = iota + 1
	kindProcess
	kindParallel
	kindE2E
	kindCLIProduce
	kindCLIConsume
	// kindWake is the bare writer/reader pairs: the latency limits.
	kindWake
)

// experiment is one experiment of a run: its kind and, for the
// rate-limited e2e rows, the rate and the wait strategy, and for the bare
// wake-up limits the strategy. An e2e experiment without a strategy is the
// protocol implementations' row (the protocol has none).
type experiment struct {
	kind expKind
	wait ref.WaitStrategy
	rate float64
}

// The experiments that take no parameter.
var (
	expProduce    = experiment{kind: kindProduce}
	expProcess    = experiment{kind: kindProcess}
	expParallel   = experiment{kind: kindParallel}
	expCLIProduce = experiment{kind: kindCLIProduce}
	expCLIConsume = experiment{kind: kindCLIConsume}
)

// expE2E is the rate-limited end-to-end experiment at rate msgs/s with
// wait strategy w ("" for the protocol implementations).
func expE2E(rate float64, w ref.WaitStrategy) experiment {
	return experiment{kind: kindE2E, rate: rate, wait: w}
}

// expWake is the bare writer/reader pair whose reader waits as w does
// (inotify or spin).
func expWake(w ref.WaitStrategy) experiment { return experiment{kind: kindWake, wait: w} }

// String is the experiment's name in figure IDs, tables and reports:
// "produce", "e2e@10k/s inotify", "cli consume", "wake-up spin". The gate's
// baseline IDs are built from it, so it must not change.
func (e experiment) String() string {
	switch e.kind {
	case kindProduce:
		return "produce"
	case kindProcess:
		return "process"
	case kindParallel:
		return "parallel"
	case kindE2E:
		s := "e2e@" + rateLabel(e.rate) + "/s"
		if e.wait != "" {
			s += " " + string(e.wait)
		}
		return s
	case kindCLIProduce:
		return "cli produce"
	case kindCLIConsume:
		return "cli consume"
	case kindWake:
		return "wake-up " + string(e.wait)
	}
	return fmt.Sprintf("experiment(%d)", int(e.kind))
}

// rateLabel is a rate for names: "10k", "500".
func rateLabel(r float64) string {
	if r >= 1000 && math.Mod(r, 1000) == 0 {
		return fmt.Sprintf("%.0fk", r/1000)
	}
	return fmt.Sprintf("%.0f", r)
}

// metric is what a figure measures; its unit follows from it.
type metric string

const (
	metricTime        metric = "time"         // ms of a produce or process run
	metricRatio       metric = "ratio"        // limit ÷ implementation (p50 for latencies), per repetition
	metricRatio99     metric = "ratio99"      // limit p99 ÷ implementation p99
	metricNewest      metric = "newest"       // µs: end-to-end latency of the last message
	metricNewestRatio metric = "newest-ratio" // limit ÷ newest
	metricE2EP50      metric = "e2e-p50"      // µs, from the actual send
	metricP50         metric = "p50"          // µs, from the intended send (bare pairs: the wake-up)
	metricP99         metric = "p99"          // µs, likewise
	metricServiceP50  metric = "service-p50"  // µs, from the actual send
	metricSpeedup     metric = "speedup"      // other's time ÷ base's time
)

// unit is the unit of m's values.
func (m metric) unit() string {
	switch m {
	case metricTime:
		return "ms"
	case metricRatio, metricRatio99, metricNewestRatio, metricSpeedup:
		return "x"
	}
	return "us"
}

// The implementation names of the raw limits' figures.
const (
	implRaw      = "raw"       // produce (one write per record), process, cli
	implRawBatch = "raw-batch" // produce, one write per protocol batch
	implBare     = "bare"      // the wake-up pairs
)

// figKey names one figure: a value per repetition.
type figKey struct {
	exp    experiment
	impl   string
	metric metric
}

// String is the figure's ID: "produce/ref/ratio".
func (k figKey) String() string { return k.exp.String() + "/" + k.impl + "/" + string(k.metric) }

// valid says whether k names a figure (the zero figKey does not).
func (k figKey) valid() bool { return k.exp.kind != 0 }

func timeKey(e experiment, impl string) figKey  { return figKey{e, impl, metricTime} }
func ratioKey(e experiment, impl string) figKey { return figKey{e, impl, metricRatio} }

// speedupImpl names a speedup figure's pair: "ref vs python".
func speedupImpl(base, other string) string { return base + " vs " + other }

// histKey names one merged histogram: the experiment, what it measures
// (publish, poll, e2e, e2e-intended, e2e-service, wake-up, write), and
// the implementation or, for a limit, its tag.
type histKey struct {
	exp   experiment
	kind  string
	impl  string
	limit bool
}

// name is the histogram's file stem: "produce-publish-ref".
func (k histKey) name() string { return benchSlug(k.exp.String() + "-" + k.kind + "-" + k.impl) }

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

// collector gathers per-repetition values and merged histograms.
type collector struct {
	vals   map[figKey][]float64
	order  []figKey
	hists  map[histKey]*hdrhistogram.Histogram
	titles map[histKey]string
	horder []histKey
}

func newCollector() *collector {
	return &collector{vals: map[figKey][]float64{}, hists: map[histKey]*hdrhistogram.Histogram{}, titles: map[histKey]string{}}
}

func (c *collector) add(k figKey, v float64) {
	if _, ok := c.vals[k]; !ok {
		c.order = append(c.order, k)
	}
	c.vals[k] = append(c.vals[k], v)
}

// stats summarises figure k (NaNs when it was never measured).
func (c *collector) stats(k figKey) report.BenchStats { return report.BenchSummarize(c.vals[k]) }

func (c *collector) median(k figKey) float64 { return c.stats(k).Median }

// has says whether figure k has at least one value.
func (c *collector) has(k figKey) bool { return len(c.vals[k]) > 0 }

// hist merges h into histogram k, titled title.
func (c *collector) hist(k histKey, title string, h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	if old, ok := c.hists[k]; ok {
		old.Merge(h)
		return
	}
	c.horder = append(c.horder, k)
	c.hists[k] = mergeHists(h)
	c.titles[k] = title
}

func (c *collector) histograms() []*report.BenchHistogram {
	var out []*report.BenchHistogram
	for _, k := range c.horder {
		h := report.NewBenchHistogram(k.name(), k.exp.String(), k.kind, k.impl, c.titles[k], c.hists[k])
		h.Limit = k.limit
		out = append(out, h)
	}
	return out
}

func p(h *hdrhistogram.Histogram, q float64) float64 { return report.BenchQuantileNS(h, q) }
