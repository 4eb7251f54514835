package bench

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJudgeGate pins the gate's decision: a figure fails only when its
// drop is both statistically significant (Mann-Whitney U at alpha 0.05)
// and below baseline median × factor; a figure that cannot be decided
// fails.
func TestJudgeGate(t *testing.T) {
	base := []float64{0.95, 0.97, 0.99, 1.0, 1.01, 1.02, 1.03, 1.05, 1.0}
	bl := &Baseline{Figures: []GateFigure{{ID: "a", Median: 1.0, Values: base, Factor: 0.5}}}
	for _, tc := range []struct {
		name   string
		vals   []float64
		ok     bool
		reason string
	}{
		{"unchanged", []float64{0.96, 0.98, 1.0, 1.0, 1.02, 1.04, 0.99, 1.01, 1.03}, true, "against the baseline's"},
		{"significant and large drop", []float64{0.3, 0.31, 0.29, 0.3, 0.32, 0.28, 0.3, 0.33, 0.27}, false, "significantly lower"},
		{"large drop in the median, but noise", []float64{0.1, 0.2, 0.3, 0.4, 0.45, 1.0, 1.1, 1.2, 1.3}, true, "not significantly lower: noise"},
		{"significant but small drop", []float64{0.85, 0.86, 0.87, 0.88, 0.9, 0.91, 0.92, 0.93, 0.95}, true, "significantly lower, but above the threshold"},
		{"improvement", []float64{2, 2.1, 1.9, 2.2, 2.05}, true, "+"},
		{"one bad repetition", []float64{0.01, 0.98, 1.0, 1.0, 1.02, 1.04, 0.99, 1.01, 1.03}, true, ""},
		{"NaN left out", []float64{math.NaN(), 0.3, 0.31, 0.29, 0.3, 0.32, 0.28}, false, "significantly lower"},
		{"not measured", nil, false, "not measured"},
		{"too few to decide", []float64{0.01}, false, "cannot show a significant change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeGate(bl, map[string][]float64{"a": tc.vals}, 0.05)
			require.Len(t, v, 1)
			assert.Equal(t, tc.ok, v[0].OK, "%s", v[0].Reason)
			assert.Contains(t, v[0].Reason, tc.reason)
			assert.InDelta(t, 0.5, v[0].Threshold, 1e-12)
			assert.Equal(t, len(finite(tc.vals)), v[0].Measured.N)
		})
	}
}

func TestMinUTestP(t *testing.T) {
	for _, tc := range []struct {
		n1, n2 int
		want   float64
	}{{1, 1, 1}, {3, 3, 0.1}, {5, 5, 2.0 / 252}, {9, 1, 0.2}, {9, 2, 2.0 / 55}} {
		assert.InDelta(t, tc.want, minUTestP(tc.n1, tc.n2), 1e-12, "%d+%d", tc.n1, tc.n2)
	}
}

// The baseline's figure IDs are the typed keys' names: a renamed key
// would make every committed baseline fail as "not measured".
func TestGateFigureIDs(t *testing.T) {
	var ids []string
	for _, g := range gateFigures {
		ids = append(ids, g.key.String())
	}
	assert.Equal(t, []string{"produce/ref/ratio", "process/ref/ratio", "e2e@10k/s inotify/ref/ratio"}, ids)
}

// readBaseline names an old file as such, and refuses what it cannot judge.
func TestReadBaseline(t *testing.T) {
	good := GateFigure{ID: "a", Median: 1, Values: []float64{1, 1.1}, Factor: 0.5}
	for _, tc := range []struct {
		name string
		bl   any
		want string
		old  bool
	}{
		{"current", Baseline{SchemaVersion: 1, Figures: []GateFigure{good}}, "", false},
		{"no schema", Baseline{Figures: []GateFigure{good}}, "run klbench --write-baseline", true},
		{"medians only", map[string]any{"schemaVersion": 1, "figures": []map[string]any{{"id": "a", "median": 1, "factor": 0.5}}}, "run klbench --write-baseline", true},
		{"newer", Baseline{SchemaVersion: 9, Figures: []GateFigure{good}}, "newer klbench", false},
		{"no figures", Baseline{SchemaVersion: 1}, "no figures", false},
		{"bad factor", Baseline{SchemaVersion: 1, Figures: []GateFigure{{ID: "a", Values: []float64{1, 1}, Factor: 2}}}, "factor", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.json")
			b, _ := json.Marshal(tc.bl)
			require.NoError(t, os.WriteFile(path, b, 0o644))
			_, err := readBaseline(path)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, tc.old, errors.Is(err, errOldBaseline))
		})
	}
}

// TestGate runs the gate end to end on real measurements. Timing under
// `go test ./...` is not steady enough to ask whether an unchanged build
// passes against a baseline taken a second earlier (that is the main job's
// run against reports/baseline.json, alone on the machine), so the test asks
// two questions whose answers do not depend on noise:
//   - the pass path: against a baseline scaled down 1000×, the gate measures
//     every figure and exits 0;
//   - the fail path: KLBENCH_SLOW_APPEND=50us (a delay per append in the
//     in-process driver, about 50× the cost of an append) makes it exit 1
//     with a message naming the produce figure, its baseline and threshold.
func TestGate(t *testing.T) {
	bl := filepath.Join(t.TempDir(), "baseline.json")
	gate := func(path string, write bool) (int, string, string) {
		return runBench(t, Options{Count: 3000, Reps: 5, Gate: path, WriteBaseline: write})
	}
	t.Setenv("KLBENCH_SLOW_APPEND", "")
	if code, out, errs := gate(bl, true); code != 0 {
		t.Fatalf("--write-baseline: exit %d\n%s%s", code, out, errs)
	}
	b, err := readBaseline(bl)
	require.NoError(t, err)
	require.Len(t, b.Figures, len(gateFigures))
	for _, f := range b.Figures {
		require.Len(t, f.Values, 5, f.ID)
		require.Greater(t, f.Median, 0.0, f.ID)
	}

	scaled := *b
	scaled.Figures = append([]GateFigure(nil), b.Figures...)
	for i := range scaled.Figures {
		f := &scaled.Figures[i]
		f.Median /= 1000
		f.Values = append([]float64(nil), f.Values...)
		for j := range f.Values {
			f.Values[j] /= 1000
		}
	}
	low := filepath.Join(t.TempDir(), "low.json")
	enc, _ := json.Marshal(scaled)
	require.NoError(t, os.WriteFile(low, enc, 0o644))
	code, out, errs := gate(low, false)
	if code != 0 {
		t.Fatalf("gate against a baseline scaled down 1000×: exit %d, want 0\n%s%s", code, out, errs)
	}
	assert.Contains(t, out, "gate passed: 3 figures")

	t.Setenv("KLBENCH_SLOW_APPEND", "50us")
	code, out, errs = gate(bl, false)
	if code != 1 {
		t.Fatalf("gate with KLBENCH_SLOW_APPEND=50us: exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{"gate FAILED: produce/ref/ratio", "significantly lower", "threshold", "baseline"} {
		if !strings.Contains(errs, want) {
			t.Errorf("failure message lacks %q:\n%s", want, errs)
		}
	}
}

func TestGateMissingBaseline(t *testing.T) {
	code, _, errs := runBench(t, Options{Gate: filepath.Join(t.TempDir(), "none.json")})
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errs, "--write-baseline") {
		t.Errorf("message does not say how to create the baseline: %s", errs)
	}
}

// The gate refuses a run too short to show a significant change.
func TestGateTooFewReps(t *testing.T) {
	code, _, errs := runBench(t, Options{Gate: "x.json", WriteBaseline: true, Reps: 3, Count: 100})
	if code != 2 || !strings.Contains(errs, "at least 5") {
		t.Errorf("exit %d, %s", code, errs)
	}
}

// The committed baseline is one this klbench reads (if it is not, the
// lead must regenerate it: klbench --write-baseline).
func TestCommittedBaselineReadable(t *testing.T) {
	path := filepath.Join("..", "..", "reports", "baseline.json")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no reports/baseline.json")
	}
	b, err := readBaseline(path)
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, f := range b.Figures {
		ids[f.ID] = true
	}
	for _, g := range gateFigures {
		assert.True(t, ids[g.key.String()], "baseline lacks %s", g.key)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"reps", Options{Reps: -1}, "--reps"},
		{"count", Options{Count: 5}, "--count"},
		{"wait", Options{Wait: "sleep"}, "--wait"},
		{"fsync", Options{Fsync: "sometimes"}, "--fsync"},
		{"size", Options{Size: 1}, "--size"},
		{"impl", Options{Impls: []string{"/nonexistent/adapter"}}, "--impl"},
		{"two outs", Options{Out: "a", OutExact: "b"}, "--out-exact"},
		{"only", Options{Only: []string{"nope"}}, "--only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runBench(t, tc.o)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, want 2 and a message naming %s: %s", code, tc.want, errs)
			}
		})
	}
}

func TestUnwritableOut(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	for _, o := range []Options{{Out: filepath.Join(f, "sub")}, {OutExact: filepath.Join(f, "sub")}} {
		o.Count, o.Reps, o.Scale = 100, 1, ScaleOff
		code, _, errs := runBench(t, o)
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		if !strings.Contains(errs, "--out") {
			t.Errorf("message does not name --out: %s", errs)
		}
	}
}

// An impl that dies mid-run is named with its failure, exit 2.
func TestFailingImpl(t *testing.T) {
	script := filepath.Join(t.TempDir(), "dies.sh")
	// Answers init, then exits on the first append.
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nread l; echo '{\"id\":1,\"ok\":true,\"impl\":\"dies\"}'; read l; echo boom >&2; exit 3\n"), 0o755))
	code, _, errs := runBench(t, Options{Impls: []string{"dies=" + script}, Count: 100, Reps: 1, Scale: ScaleOff, Rate: 1000})
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errs)
	}
	if !strings.Contains(errs, "impl dies failed") || !strings.Contains(errs, "boom") {
		t.Errorf("message does not name the impl and its failure:\n%s", errs)
	}
}

func TestFrameAndRawLoops(t *testing.T) {
	d := t.TempDir()
	var frames [][]byte
	var joined []byte
	for i := 0; i < 100; i++ {
		frames = append(frames, frameRecord(1700000000000000000, jsonPayload(makeValue(i, 98))))
		joined = append(joined, frames[i]...)
	}
	if n := len(frames[0]); n != 100+47 {
		t.Errorf("frame of a 100 B payload is %d bytes, want 147", n)
	}
	if len(makeValue(7, 98)) != 98 {
		t.Errorf("makeValue length %d", len(makeValue(7, 98)))
	}
	path := filepath.Join(d, "f.log")
	_, h, err := rawProduce(path, frames)
	require.NoError(t, err)
	assert.EqualValues(t, 100, h.TotalCount())
	_, h, err = rawProduceBatches(filepath.Join(d, "b.log"), [][]byte{joined[:len(joined)/2], joined[len(joined)/2:]}, 50)
	require.NoError(t, err)
	assert.EqualValues(t, 100, h.TotalCount())
	got, _ := os.ReadFile(filepath.Join(d, "b.log"))
	assert.Equal(t, joined, got)
	for _, p := range []string{path, filepath.Join(d, "b.log")} {
		_, n, ph, err := rawProcess(p)
		require.NoError(t, err)
		assert.Equal(t, 100, n)
		assert.EqualValues(t, 1, ph.TotalCount()) // one stretch of 4096 lines or fewer
	}
}
