package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// baselineSchema is the version of the baseline file this klbench
// writes. Version 1 files hold every repetition's value, which the
// Mann-Whitney test needs; a file without them is from an older klbench.
const baselineSchema = 1

// Baseline is reports/baseline.json: the gate's figures from a reference
// run. Every figure is a ratio to a raw limit measured in the same run, so a
// baseline taken on one machine is meaningful on another.
type Baseline struct {
	SchemaVersion int             `json:"schemaVersion"`
	CreatedAt     string          `json:"createdAt"`
	Env           report.BenchEnv `json:"environment"`
	Params        suiteParams     `json:"params"`
	Figures       []GateFigure    `json:"figures"`
}

// GateFigure is one gated ratio (higher is better).
type GateFigure struct {
	ID   string `json:"id"`
	What string `json:"what"`
	// Median and Values are the baseline run's per-repetition ratios.
	Median float64   `json:"median"`
	Values []float64 `json:"values"`
	// Factor is the effect that counts as a regression: the measured
	// median below Median × Factor (and the drop statistically
	// significant).
	Factor float64 `json:"factor"`
}

// gateAlpha is the significance level of the gate's Mann-Whitney U test
// (benchmath's default).
var gateAlpha = benchmath.DefaultThresholds.CompareAlpha

// gateMinReps is the fewest repetitions the gate runs: with fewer, the
// U test cannot reach gateAlpha however far the figures fall.
const gateMinReps = 5

// gateFigure is a gated ratio and the effect that counts as a regression.
// The factors leave room for what moves between machines and between a
// quiet and a shared one (the baseline is taken on one, CI runs on
// another); a real regression falls through: an extra syscall per append
// halves the produce ratio, a JSON decode per record takes the process
// ratio to about 0.2 of the baseline, the 50 µs delay of the gate test
// takes produce to a few hundredths.
type gateFigure struct {
	key    figKey
	what   string
	factor float64
}

var gateFigures = []gateFigure{
	{ratioKey(expProduce, "ref"), "produce: ref rate ÷ bare O_APPEND loop rate", 0.6},
	{ratioKey(expProcess, "ref"), "process: ref rate ÷ bare read-and-split rate", 0.5},
	{ratioKey(expE2E(DefaultRate, ref.WaitInotify), "ref"), "e2e at 10k msg/s with inotify: bare inotify wake-up p50 ÷ ref e2e p50", 0.4},
}

// gateParams is the short run of the gate: about 20 s on a quiet 2-core
// machine.
var gateParams = suiteParams{Count: 200000, Size: 100, Reps: 9, Rate: 10000, RateCount: 2000, WakeSamples: 2000, Batch: defaultBatch}

// errOldBaseline is a baseline file this klbench cannot judge against.
var errOldBaseline = errors.New("baseline written by an older klbench: run klbench --write-baseline")

func readBaseline(path string) (*Baseline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var bl Baseline
	if err := json.Unmarshal(b, &bl); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	switch {
	case bl.SchemaVersion > baselineSchema:
		return nil, fmt.Errorf("baseline %s: schema %d, written by a newer klbench (this one reads %d)", path, bl.SchemaVersion, baselineSchema)
	case bl.SchemaVersion < baselineSchema:
		return nil, fmt.Errorf("%s: %w", path, errOldBaseline)
	case len(bl.Figures) == 0:
		return nil, fmt.Errorf("baseline %s: no figures", path)
	}
	for _, f := range bl.Figures {
		if len(f.Values) < 2 {
			return nil, fmt.Errorf("%s: figure %s has %d values, not every repetition's: %w", path, f.ID, len(f.Values), errOldBaseline)
		}
		if !(f.Factor > 0 && f.Factor < 1) {
			return nil, fmt.Errorf("baseline %s: figure %s: factor %v is not between 0 and 1", path, f.ID, f.Factor)
		}
	}
	return &bl, nil
}

// runGate is --gate and --write-baseline. given are the options as the
// caller set them: its --count, --reps and --size override the
// baseline's.
func runGate(ctx context.Context, o, given *Options, stdout, stderr io.Writer) int {
	var bl *Baseline
	params := gateParams
	if !o.WriteBaseline {
		var err error
		if bl, err = readBaseline(o.Gate); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%w (create it with --write-baseline)", err)
			}
			fmt.Fprintf(stderr, "klbench: gate: %v\n", err)
			return ExitError
		}
		params = bl.Params
		if params.Batch == 0 {
			params.Batch = defaultBatch
		}
	}
	if given.Count > 0 {
		params.Count = given.Count
	}
	if given.Reps > 0 {
		params.Reps = given.Reps
	}
	if given.Size > 0 {
		params.Size = given.Size
	}
	if params.Reps < gateMinReps {
		fmt.Fprintf(stderr, "klbench: gate: %d repetitions: the gate needs at least %d (fewer cannot show a significant change)\n", params.Reps, gateMinReps)
		return ExitError
	}
	params.Rate, params.RateCount = DefaultRate, min(params.RateCount, params.Count)
	r, err := o.refImpl()
	if err != nil {
		return exitErr(stderr, err)
	}
	base, cleanup, err := workDir(o.Dir)
	if err != nil {
		return exitErr(stderr, err)
	}
	defer cleanup()
	s := newSuite(params, []impl{r}, base, newProgress(stderr, o.Quiet), ref.WaitInotify)
	s.wakeModes = []ref.WaitStrategy{ref.WaitInotify}
	s.exps = map[string]bool{"produce": true, "process": true, "e2e": true}
	if err := s.gateRun(ctx); err != nil {
		fmt.Fprintf(stderr, "klbench: gate run: %v\n", err)
		return ExitError
	}
	if o.WriteBaseline {
		return writeBaseline(o.Gate, s, params, base, stdout, stderr)
	}
	measured := func() map[string][]float64 {
		m := map[string][]float64{}
		for k, v := range s.col.vals {
			m[k.String()] = v
		}
		return m
	}
	if failing(judgeGate(bl, measured(), gateAlpha)) > 0 {
		// Confirm before failing: a burst of load from a neighbour can sink
		// one run. The second run's repetitions join the first's, and all
		// of them decide.
		fmt.Fprintf(stdout, "gate: a figure looks like a regression; running again to confirm\n")
		s.prog = newProgress(stderr, o.Quiet)
		if err := s.gateRun(ctx); err != nil {
			fmt.Fprintf(stderr, "klbench: gate run: %v\n", err)
			return ExitError
		}
	}
	verdicts := judgeGate(bl, measured(), gateAlpha)
	writeGateTable(stdout, verdicts)
	if failing(verdicts) > 0 {
		for _, v := range verdicts {
			if !v.OK {
				fmt.Fprintf(stderr, "klbench: gate FAILED: %s (%s): %s\n", v.ID, v.What, v.Reason)
			}
		}
		return ExitGate
	}
	fmt.Fprintf(stdout, "gate passed: %d figures, none significantly below its threshold of %s\n", len(bl.Figures), o.Gate)
	return ExitOK
}

// gateRun runs the gate's repetitions once.
func (s *suite) gateRun(ctx context.Context) error {
	err := s.run(ctx)
	s.prog.done()
	if err == nil && len(s.failed) > 0 {
		err = fmt.Errorf("ref failed: %s", s.failed["ref"])
	}
	return err
}

func writeBaseline(path string, s *suite, params suiteParams, base string, stdout, stderr io.Writer) int {
	nb := &Baseline{SchemaVersion: baselineSchema, CreatedAt: time.Now().UTC().Format(time.RFC3339), Env: Environment(base), Params: params}
	for _, g := range gateFigures {
		v := s.col.vals[g.key]
		nb.Figures = append(nb.Figures, GateFigure{ID: g.key.String(), What: g.what, Median: s.col.median(g.key), Values: v, Factor: g.factor})
	}
	b, err := json.MarshalIndent(nb, "", "  ")
	if err != nil {
		return exitErr(stderr, fmt.Errorf("encode the baseline: %w", err))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return exitErr(stderr, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return exitErr(stderr, fmt.Errorf("write baseline: %w", err))
	}
	for _, f := range nb.Figures {
		st := report.BenchSummarize(f.Values)
		fmt.Fprintf(stdout, "baseline %-30s median %.3f× (%s, %d reps); a regression: significantly below %.3f×\n",
			f.ID, f.Median, ciText(st), st.N, f.Median*f.Factor)
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return ExitOK
}

// ciText is a median's confidence interval: "95% CI 0.78–0.83".
func ciText(st report.BenchStats) string {
	if math.IsInf(st.Lo, 0) || math.IsInf(st.Hi, 0) || math.IsNaN(st.Lo) {
		return "no 95% CI"
	}
	return fmt.Sprintf("95%% CI %.3f–%.3f", st.Lo, st.Hi)
}

// gateVerdict is the gate's judgement of one baseline figure.
type gateVerdict struct {
	ID, What string
	// Baseline and Measured summarise the two samples.
	Baseline, Measured report.BenchStats
	// Factor and Threshold: a regression is a measured median below
	// Threshold = baseline median × Factor.
	Factor, Threshold float64
	// P is the Mann-Whitney U test's p-value of the two samples coming
	// from one distribution; Lower says the measured median is below the
	// baseline's.
	P     float64
	Lower bool
	OK    bool
	// Reason says why, in a sentence.
	Reason string
}

// minUTestP is the smallest p-value a two-sided Mann-Whitney U test of
// samples of n1 and n2 values can give: 2 / C(n1+n2, n1).
func minUTestP(n1, n2 int) float64 {
	c := 1.0
	for i := 1; i <= n2; i++ {
		c = c * float64(n1+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// judgeGate compares measured per-repetition ratios with the baseline's,
// figure by figure (higher is better). A figure fails when both hold:
//   - the drop is statistically significant: the Mann-Whitney U test
//     (benchmath.AssumeNothing) rejects, at alpha, that the two samples
//     come from one distribution, and the measured median is the lower;
//   - the drop is large enough to matter: the measured median is below
//     the baseline median × the figure's factor.
//
// Noise alone does not fail it (a median that happens to fall under the
// threshold in a noisy run is not significant), nor does a significant
// but small change (another machine). A figure with no measurements, or
// too few for the test to reach alpha, fails: a gate that cannot decide
// must not pass.
func judgeGate(bl *Baseline, vals map[string][]float64, alpha float64) []gateVerdict {
	var out []gateVerdict
	th := benchmath.Thresholds{CompareAlpha: alpha}
	for _, f := range bl.Figures {
		v := gateVerdict{ID: f.ID, What: f.What, Factor: f.Factor, P: math.NaN(),
			Baseline: report.BenchSummarize(f.Values), Measured: report.BenchSummarize(vals[f.ID])}
		v.Threshold = v.Baseline.Median * f.Factor
		b, m := v.Baseline, v.Measured
		switch {
		case m.N == 0:
			v.Reason = "not measured"
		case minUTestP(b.N, m.N) > alpha:
			v.Reason = fmt.Sprintf("%d baseline and %d measured repetitions cannot show a significant change at alpha %v", b.N, m.N, alpha)
		default:
			cmp := benchmath.AssumeNothing.Compare(
				benchmath.NewSample(finite(f.Values), &th), benchmath.NewSample(finite(vals[f.ID]), &th))
			v.P, v.Lower = cmp.P, m.Median < b.Median
			significant := cmp.P < alpha && v.Lower
			below := m.Median < v.Threshold
			change := fmt.Sprintf("measured median %.3f× against the baseline's %.3f× (%+.0f%%, p=%.3g)", m.Median, b.Median, 100*(m.Median/b.Median-1), cmp.P)
			switch {
			case significant && below:
				v.Reason = fmt.Sprintf("%s: significantly lower (p < %v) and below the threshold %.3f× (%.2f × baseline)", change, alpha, v.Threshold, f.Factor)
			case below:
				v.OK, v.Reason = true, fmt.Sprintf("%s: below the threshold %.3f× but not significantly lower: noise", change, v.Threshold)
			case significant:
				v.OK, v.Reason = true, fmt.Sprintf("%s: significantly lower, but above the threshold %.3f×", change, v.Threshold)
			default:
				v.OK, v.Reason = true, change
			}
		}
		out = append(out, v)
	}
	return out
}

// finite is v without NaN and ±Inf, copied (benchmath sorts its samples).
func finite(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

func failing(vs []gateVerdict) int {
	n := 0
	for _, v := range vs {
		if !v.OK {
			n++
		}
	}
	return n
}

// writeGateTable prints the verdicts as an aligned table.
func writeGateTable(w io.Writer, vs []gateVerdict) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "gate\tfigure\tbaseline\tmeasured\t95% CI\tchange\tp\tregression below\t")
	for _, v := range vs {
		status := "ok"
		if !v.OK {
			status = "FAIL"
		}
		change, pv := "-", "-"
		if !math.IsNaN(v.P) {
			change, pv = fmt.Sprintf("%+.0f%%", 100*(v.Measured.Median/v.Baseline.Median-1)), fmt.Sprintf("%.3g", v.P)
		}
		ci := strings.TrimPrefix(ciText(v.Measured), "95% CI ")
		fmt.Fprintf(tw, "%s\t%s\t%.3f×\t%.3f× (%d reps)\t%s\t%s\t%s\t%.3f× and p < %v\t\n",
			status, v.ID, v.Baseline.Median, v.Measured.Median, v.Measured.N, ci, change, pv, v.Threshold, gateAlpha)
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}
