package bench

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/report"
)

// runCLI runs klbench --only cli on count messages and returns its exit
// status, stderr and report.
func runCLI(t *testing.T, count, reps int, klref string) (int, string, *report.BenchReport, string) {
	t.Helper()
	out := t.TempDir()
	code, _, stderr := runBench(t, Options{Only: []string{"cli"}, Count: count, Reps: reps, OutExact: out, Klref: klref})
	var rep report.BenchReport
	if b, err := os.ReadFile(filepath.Join(out, "report.json")); err == nil {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report.json: %v", err)
		}
	}
	return code, stderr, &rep, out
}

// The cli experiment runs the real klref and the bare processes, and its
// rows, figures and bench.txt lines are complete and consistent. Only
// their shape is checked: how fast anything is shows in reports.
func TestCLIExperimentRows(t *testing.T) {
	code, stderr, rep, out := runCLI(t, 200, 2, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]struct{ published, target string }{
		"cli produce": {publishedProduce, "≥ 0.70×"},
		"cli consume": {publishedProcess, "≥ 0.50×"},
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want only the %d cli rows: %+v", len(rep.Rows), len(want), rep.Rows)
	}
	for _, r := range rep.Rows {
		w, ok := want[r.Experiment]
		switch {
		case !ok:
			t.Errorf("unexpected row %q", r.Experiment)
		case r.Error != "":
			t.Errorf("%s: error %s", r.Experiment, r.Error)
		case r.Impl != "klref" || r.Unit != "ms" || r.Published != w.published || r.Target != w.target:
			t.Errorf("%s: impl %q unit %q published %q target %q", r.Experiment, r.Impl, r.Unit, r.Published, r.Target)
		case !(r.Min > 0 && r.Median >= r.Min && r.Limit > 0 && r.Ratio > 0) || math.IsInf(r.Ratio, 0):
			t.Errorf("%s: min %v median %v limit %v ratio %v", r.Experiment, r.Min, r.Median, r.Limit, r.Ratio)
		case r.Verdict != "PASS" && r.Verdict != "MISS":
			t.Errorf("%s: verdict %q", r.Experiment, r.Verdict)
		case !strings.HasPrefix(r.LimitTag, "proc "):
			t.Errorf("%s: limit %q", r.Experiment, r.LimitTag)
		}
	}
	for _, id := range []string{"cli produce/raw/time", "cli produce/klref/time", "cli produce/klref/ratio",
		"cli consume/raw/time", "cli consume/klref/time", "cli consume/klref/ratio"} {
		found := false
		for _, f := range rep.Figures {
			if f.ID == id {
				found = true
				if f.N != 2 {
					t.Errorf("figure %s: %d repetitions, want 2", id, f.N)
				}
			}
		}
		if !found {
			t.Errorf("no figure %s", id)
		}
	}
	bench, _ := os.ReadFile(filepath.Join(out, "bench.txt"))
	for _, name := range []string{"BenchmarkCLIProduce/impl=raw ", "BenchmarkCLIProduce/impl=klref ", "BenchmarkCLIConsume/impl=raw ", "BenchmarkCLIConsume/impl=klref "} {
		if n := strings.Count(string(bench), name); n != 2 {
			t.Errorf("bench.txt has %d lines %q, want 2:\n%s", n, name, bench)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "| cli produce | klref | ") || !strings.Contains(string(md), "| cli consume | klref | ") ||
		!strings.Contains(string(md), "| 1115 ms |") || !strings.Contains(string(md), "| 443 ms |") {
		t.Errorf("report.md lacks the cli rows:\n%s", md)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "klref built with go build from ") {
		t.Errorf("the notes do not say which klref ran: %q", rep.Notes)
	}
}

// A klref that is slower than the targets allow is reported as MISS: here
// a stand-in that sleeps half a second before running the real klref,
// against bare processes that take a few ms on 100 lines.
func TestCLISlowKlrefMisses(t *testing.T) {
	tools, err := findCLITools(context.Background(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	real := tools.klref
	slow := filepath.Join(t.TempDir(), "slow-klref")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 0.5\nexec '"+real+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, stderr, rep, _ := runCLI(t, 100, 1, slow)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(rep.Rows) != 2 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Verdict != "MISS" || r.Error != "" {
			t.Errorf("%s: verdict %q (ratio %.3f), error %q; want MISS", r.Experiment, r.Verdict, r.Ratio, r.Error)
		}
	}
}

// A klref that cannot be found, or fails, is named: --klref that is not
// there is a usage error, and a klref that exits non-zero fails the cli
// rows and klbench exits 2.
func TestCLIKlrefErrors(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken-klref")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'disk on fire' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, klref string
		want        []string
	}{
		{"missing", "/nonexistent/klref", []string{"--klref /nonexistent/klref"}},
		{"failing", broken, []string{"the cli experiment failed", "klref produce", "disk on fire"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr, rep, _ := runCLI(t, 50, 1, tc.klref)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, r := range rep.Rows {
				if r.Error == "" || r.Verdict != "" {
					t.Errorf("%s: error %q verdict %q; want the failure and no verdict", r.Experiment, r.Error, r.Verdict)
				}
			}
		})
	}
}
