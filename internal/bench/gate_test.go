package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJudgeGate pins the gate's decision: the median of the measured
// ratios against baseline median × factor, with a missing figure failing.
func TestJudgeGate(t *testing.T) {
	bl := &Baseline{Figures: []GateFigure{{ID: "a", Median: 1.0, Factor: 0.5}}}
	for _, tc := range []struct {
		name string
		vals []float64
		ok   bool
	}{
		{"at baseline", []float64{0.9, 1.0, 1.1}, true},
		{"exactly at threshold", []float64{0.5, 0.5, 0.5}, true},
		{"median below threshold", []float64{0.1, 0.4, 2.0}, false},
		{"one bad repetition", []float64{0.01, 0.9, 1.0}, true},
		{"even count uses the mean of the middle two", []float64{0.3, 0.6, 0.69, 2}, true},
		{"even count below", []float64{0.3, 0.4, 0.59, 2}, false},
		{"not measured", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeGate(bl, map[string][]float64{"a": tc.vals})
			require.Len(t, v, 1)
			assert.Equal(t, tc.ok, v[0].OK, "median %v threshold %v", v[0].Median, v[0].Threshold)
			assert.Equal(t, len(tc.vals), v[0].Reps)
			assert.InDelta(t, 0.5, v[0].Threshold, 1e-12)
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
	start := time.Now()
	bl := filepath.Join(t.TempDir(), "baseline.json")
	small := []string{"--count", "3000", "--reps", "5", "-q", "--gate", bl}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append(append([]string(nil), small...), args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	t.Setenv("KLBENCH_SLOW_APPEND", "")
	if code, out, errs := run("--write-baseline"); code != 0 {
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
		scaled.Figures[i].Median /= 1000
	}
	low := filepath.Join(t.TempDir(), "low.json")
	enc, _ := json.Marshal(scaled)
	require.NoError(t, os.WriteFile(low, enc, 0o644))
	var out, errb bytes.Buffer
	if code := Main([]string{"--count", "3000", "--reps", "5", "-q", "--gate", low}, &out, &errb); code != 0 {
		t.Fatalf("gate against a baseline scaled down 1000×: exit %d, want 0\n%s%s", code, out.String(), errb.String())
	}
	assert.Contains(t, out.String(), "gate passed: 3 figures")

	t.Setenv("KLBENCH_SLOW_APPEND", "50us")
	code, outs, errs := run()
	if code != 1 {
		t.Fatalf("gate with KLBENCH_SLOW_APPEND=50us: exit %d, want 1\n%s%s", code, outs, errs)
	}
	if !strings.Contains(errs, "gate FAILED: produce/ref/ratio") || !strings.Contains(errs, "threshold") || !strings.Contains(errs, "baseline") {
		t.Errorf("failure message does not name the figure, baseline and threshold:\n%s", errs)
	}
	t.Logf("gate test took %v", time.Since(start))
}

func TestGateMissingBaseline(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--gate", filepath.Join(t.TempDir(), "none.json"), "-q"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "--write-baseline") {
		t.Errorf("message does not say how to create the baseline: %s", errb.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"}, {"--reps", "0"}, {"--wait", "sleep"}, {"--fsync", "sometimes"}, {"--size", "1"},
		{"--impl", "/nonexistent/adapter"}, {"stray"},
	} {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
}

func TestUnwritableOut(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "file")
	os.WriteFile(f, nil, 0o644)
	var out, errb bytes.Buffer
	if code := Main([]string{"--out", filepath.Join(f, "sub"), "--count", "100", "--reps", "1", "-q", "--no-scale"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "--out") {
		t.Errorf("message does not name --out: %s", errb.String())
	}
}

// An impl that dies mid-run is named with its failure, exit 2.
func TestFailingImpl(t *testing.T) {
	d := t.TempDir()
	script := filepath.Join(d, "dies.sh")
	// Answers init, then exits on the first append.
	os.WriteFile(script, []byte("#!/bin/sh\nread l; echo '{\"id\":1,\"ok\":true,\"impl\":\"dies\"}'; read l; echo boom >&2; exit 3\n"), 0o755)
	var out, errb bytes.Buffer
	code := Main([]string{"--impl", "dies=" + script, "--count", "100", "--reps", "1", "-q", "--no-scale", "--rate", "1000"}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "impl dies failed") || !strings.Contains(errb.String(), "boom") {
		t.Errorf("message does not name the impl and its failure:\n%s", errb.String())
	}
}

func TestFrameAndRawProcess(t *testing.T) {
	d := t.TempDir()
	var frames [][]byte
	for i := 0; i < 100; i++ {
		frames = append(frames, frameRecord(1700000000000000000, jsonPayload(makeValue(i, 98))))
	}
	if n := len(frames[0]); n != 100+47 {
		t.Errorf("frame of a 100 B payload is %d bytes, want 147", n)
	}
	if len(makeValue(7, 98)) != 98 {
		t.Errorf("makeValue length %d", len(makeValue(7, 98)))
	}
	path := filepath.Join(d, "f.log")
	if _, err := rawProduce(path, frames); err != nil {
		t.Fatal(err)
	}
	if _, n, err := rawProcess(path); err != nil || n != 100 {
		t.Fatalf("rawProcess: %d lines, %v", n, err)
	}
}
