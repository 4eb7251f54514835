package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

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
	// Factor: the gate fails when the measured median is below
	// Median × Factor.
	Factor float64 `json:"factor"`
}

// gateFigures are the gated ratios and their thresholds. They are loose on
// purpose: a shared 2-core VM moves single runs by ±30%, and the medians of
// the per-repetition ratios (raw loop and ref run back to back) move less;
// a real regression (an extra syscall per append halves the produce ratio)
// still falls through.
var gateFigures = []struct {
	id, what string
	factor   float64
}{
	{"produce/ref/ratio", "produce: ref rate ÷ bare O_APPEND loop rate", 0.6},
	{"process/ref/ratio", "process: ref rate ÷ bare read-and-split rate", 0.5},
	{"e2e@10k/s inotify/ref/ratio", "e2e at 10k msg/s with inotify: bare inotify wake-up p50 ÷ ref e2e p50", 0.4},
}

// gateParams is the short run of the gate: well under a minute.
var gateParams = suiteParams{Count: 200000, Size: 100, Reps: 9, Rate: 10000, RateCount: 2000, WakeSamples: 2000}

func readBaseline(path string) (*Baseline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var bl Baseline
	if err := json.Unmarshal(b, &bl); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(bl.Figures) == 0 {
		return nil, fmt.Errorf("baseline %s: no figures", path)
	}
	return &bl, nil
}

func runGate(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	var bl *Baseline
	params := gateParams
	if !o.writeBaseline {
		var err error
		if bl, err = readBaseline(o.gate); err != nil {
			fmt.Fprintf(stderr, "klbench: gate: %v (create it with --write-baseline)\n", err)
			return 2
		}
		params = bl.Params
	}
	if o.set["count"] {
		params.Count = o.count
	}
	if o.set["reps"] {
		params.Reps = o.reps
	}
	if o.set["size"] {
		params.Size = o.size
	}
	params.Rate, params.RateCount = 10000, min(params.RateCount, params.Count)
	r, err := o.refImpl()
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	base, cleanup, err := workDir(o.dir)
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	defer cleanup()
	prog := newProgress(stderr, o.quiet)
	s := newSuite(params, []impl{r}, base, prog, ref.WaitInotify)
	s.wakeModes = []string{"inotify"}
	err = s.run(ctx)
	prog.done()
	if err == nil && len(s.failed) > 0 {
		err = fmt.Errorf("ref failed: %s", s.failed["ref"])
	}
	if err != nil {
		fmt.Fprintf(stderr, "klbench: gate run: %v\n", err)
		return 2
	}
	if o.writeBaseline {
		nb := &Baseline{SchemaVersion: 1, CreatedAt: time.Now().UTC().Format(time.RFC3339), Env: Environment(base), Params: params}
		for _, g := range gateFigures {
			v := s.col.vals[g.id]
			nb.Figures = append(nb.Figures, GateFigure{ID: g.id, What: g.what, Median: s.col.median(g.id), Values: v, Factor: g.factor})
		}
		b, _ := json.MarshalIndent(nb, "", "  ")
		if err := os.MkdirAll(filepath.Dir(o.gate), 0o755); err != nil {
			fmt.Fprintf(stderr, "klbench: %v\n", err)
			return 2
		}
		if err := os.WriteFile(o.gate, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "klbench: write baseline: %v\n", err)
			return 2
		}
		for _, f := range nb.Figures {
			fmt.Fprintf(stdout, "baseline %-30s median %.3f× (threshold %.3f×)\n", f.ID, f.Median, f.Median*f.Factor)
		}
		fmt.Fprintf(stdout, "wrote %s\n", o.gate)
		return 0
	}
	if failing(judgeGate(bl, s.col.vals)) > 0 {
		// Confirm before failing: a burst of load from a neighbour can sink
		// one run. The second run's repetitions join the first's, and the
		// median of all of them decides.
		fmt.Fprintf(stdout, "gate: a figure is below its threshold; running again to confirm\n")
		s.prog = newProgress(stderr, o.quiet)
		if err := s.run(ctx); err != nil {
			fmt.Fprintf(stderr, "klbench: gate run: %v\n", err)
			return 2
		}
		s.prog.done()
	}
	verdicts := judgeGate(bl, s.col.vals)
	for _, v := range verdicts {
		status := "ok"
		if !v.OK {
			status = "FAIL"
		}
		fmt.Fprintf(stdout, "gate %-4s %-30s baseline %.3f×  measured median %.3f× (min %.3f×, max %.3f×, %d reps)  threshold %.3f× (%.2f × baseline)\n",
			status, v.ID, v.Baseline, v.Median, v.Min, v.Max, v.Reps, v.Threshold, v.Factor)
	}
	if failing(verdicts) > 0 {
		for _, v := range verdicts {
			if !v.OK {
				fmt.Fprintf(stderr, "klbench: gate FAILED: %s (%s): measured median %.3f× is below the threshold %.3f× (baseline %.3f× × %.2f)\n",
					v.ID, v.What, v.Median, v.Threshold, v.Baseline, v.Factor)
			}
		}
		return 1
	}
	fmt.Fprintf(stdout, "gate passed: %d figures within their thresholds of %s\n", len(bl.Figures), o.gate)
	return 0
}

// gateVerdict is the gate's judgement of one baseline figure.
type gateVerdict struct {
	ID, What         string
	Baseline, Factor float64
	Threshold        float64
	Min, Median, Max float64
	Reps             int
	OK               bool
}

// judgeGate compares measured per-repetition ratios with the baseline. A
// figure passes when the median of its measurements is at or above
// baseline median × factor; a figure with no measurements fails, so a gate
// that silently stops measuring something cannot pass.
func judgeGate(bl *Baseline, vals map[string][]float64) []gateVerdict {
	var out []gateVerdict
	for _, f := range bl.Figures {
		v := vals[f.ID]
		lo, med, hi := report.BenchMinMedianMax(v)
		thr := f.Median * f.Factor
		out = append(out, gateVerdict{ID: f.ID, What: f.What, Baseline: f.Median, Factor: f.Factor, Threshold: thr,
			Min: lo, Median: med, Max: hi, Reps: len(v), OK: !math.IsNaN(med) && med >= thr})
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
