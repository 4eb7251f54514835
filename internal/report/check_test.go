package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/run"
)

func sampleResults() []*run.Result {
	pass := []check.Result{{Check: "integrity", Status: check.Pass}, {Check: "lost-write", Status: check.Pass}}
	fail := []check.Result{{Check: "integrity", Status: check.Pass}, {Check: "lost-write", Status: check.Fail,
		Anomalies: []check.Anomaly{{Name: "lost-write", Count: 11, Examples: []check.Example{
			{Explanation: "p1#3 was acked at offset 17 but never delivered", Offsets: []int64{17}, Clients: []string{"p1"},
				TimesNS: []int64{1_500_000_000}, Values: []string{"p1:000003:deadbeef:abc"}},
		}}}}}
	return []*run.Result{
		{Scenario: "one", Seed: 1, Status: run.StatusPass, Checks: pass, Duration: time.Second},
		{Scenario: "two", Seed: 2, Status: run.StatusFail, Checks: fail, Quick: true,
			ErrorTypes: []run.ErrorType{{Type: "append fail: error", Count: 3, Examples: []string{"x"}}},
			Latency:    map[string]run.Latency{"append": {Count: 5, P50NS: 10, P99NS: 20, MaxNS: 30}}},
		{Scenario: "three", Seed: 3, Status: run.StatusSkip, Reason: "client p1: init: no fsync"},
		{Scenario: "power", Seed: 5, Status: run.StatusPass, Duration: time.Second,
			Checks: []check.Result{{Check: "durability", Status: check.Pass, Note: "fsync never: 1 power losses took 3 of the 10 records acknowledged before them (allowed, counted)",
				Windows: []check.LossWindow{{PowerLoss: 1, AtNS: 500_000_000, Acked: 10, Lost: 3, WindowNS: 12_500_000, UnackedLost: 1}}}},
			PowerLosses: []run.PowerLossResult{{Index: 1, AtNS: 500_000_000, Mode: "torn-op", Trigger: "at random", Killed: 3, DroppedBytes: 4096, Files: 2, Entries: 1}}},
		{Scenario: "four", Seed: 4, Status: run.StatusError, Reason: "scenario four: client p1: init request 1: exited"},
	}
}

func TestCheckTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCheckTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"SCENARIO", "integ", "lost",
		"FAIL two / lost-write: 11 anomalies (seed 2)",
		"lost-write ×11",
		"p1#3 was acked at offset 17 but never delivered [offsets 17; clients p1; at 1.500s",
		"… and 10 more",
		"replay: klcheck --scenario two --seed 2 --quick",
		"(the seed repeats the values and the sizes; not how the clients' operations interleave",
		"SKIP three: client p1: init: no fsync",
		"ERROR four (seed 4):",
		"POWER LOSS power: 1 power losses; fsync never: 1 power losses took 3 of the 10 records acknowledged before them (allowed, counted)",
		"  1. at 0.500s, torn-op, at random: 3 processes killed, 4096 unsynced bytes dropped in 2 files, 1 directory entries undone; of 10 records acked before it, 3 lost (the oldest acked 12.5 ms before), and 1 unacknowledged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "5 scenarios: 2 passed, 1 failed, 1 skipped, 1 errors" {
		t.Errorf("last line %q", last)
	}
	if got := CheckSummaryLine(sampleResults()[:1]); got != "1 scenario: 1 passed, 0 failed, 0 skipped" {
		t.Errorf("summary %q", got)
	}
}

func TestCheckResultsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	if err := WriteCheckResults(path, CheckMeta{Tool: "klcheck"}, sampleResults()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary    CheckSummary
		ErrorTypes []struct {
			Type  string
			Count int
		} `json:"error_types"`
		Scenarios []map[string]any
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Failed != 1 || doc.Summary.Errors != 1 || len(doc.Scenarios) != 5 {
		t.Errorf("summary %+v", doc.Summary)
	}
	if pl := doc.Scenarios[3]["power_losses"].([]any)[0].(map[string]any); pl["mode"] != "torn-op" || pl["dropped_bytes"].(float64) != 4096 {
		t.Errorf("power losses %v", pl)
	}
	if w := doc.Scenarios[3]["checks"].([]any)[0].(map[string]any)["loss_windows"].([]any)[0].(map[string]any); w["lost"].(float64) != 3 || w["window_ns"].(float64) != 12_500_000 {
		t.Errorf("loss windows %v", w)
	}
	if len(doc.ErrorTypes) != 1 || doc.ErrorTypes[0].Count != 3 {
		t.Errorf("error types %+v", doc.ErrorTypes)
	}
	if lat := doc.Scenarios[1]["latency"].(map[string]any)["append"].(map[string]any); lat["p99_ns"].(float64) != 20 {
		t.Errorf("latency %v", lat)
	}
}

func TestCheckResultsWriteErrors(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer f.Close()
	if err := EncodeCheckResults(f, CheckMeta{}, sampleResults()); err == nil {
		t.Error("writing to /dev/full succeeded")
	}
	if err := WriteCheckTable(f, sampleResults()); err == nil {
		t.Error("writing the table to /dev/full succeeded")
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckResults(filepath.Join(file, "results.json"), CheckMeta{}, nil); err == nil {
		t.Error("writing under a regular file succeeded")
	}
}

func TestCheckProgress(t *testing.T) {
	var b bytes.Buffer
	p := NewCheckProgress(&b, false)
	p.Start(1, 2, "one", 7)
	p.Update(run.Progress{Scenario: "one"})
	p.Done(sampleResults()[0])
	if strings.Contains(b.String(), "\r") || !strings.Contains(b.String(), "[1/2] one (seed 7)") {
		t.Errorf("plain progress %q", b.String())
	}
	b.Reset()
	p = NewCheckProgress(&b, true)
	p.Update(run.Progress{Scenario: "one", Phase: "main"})
	p.Done(sampleResults()[0])
	if !strings.HasPrefix(b.String(), "\r") || !strings.Contains(b.String(), "PASS  one") {
		t.Errorf("tty progress %q", b.String())
	}
}

// TestReplayNote: the replay line says what the seed does not repeat, and
// names the faults when there were any.
func TestReplayNote(t *testing.T) {
	for _, tc := range []struct {
		counts run.Counts
		want   string
	}{
		{run.Counts{}, "not how the clients' operations interleave"},
		{run.Counts{Kills: 3, Pauses: 1}, "not when each of the 4 faults landed among the clients' operations"},
		{run.Counts{PowerLosses: 1}, "not when each of the 1 faults landed"},
	} {
		if got := replayNote(&run.Result{Counts: tc.counts}); !strings.Contains(got, tc.want) || !strings.Contains(got, "the seed repeats the values") {
			t.Errorf("counts %+v: %q lacks %q", tc.counts, got, tc.want)
		}
	}
}
