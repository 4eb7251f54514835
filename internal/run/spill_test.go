package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/history"
)

// goldenOps is the check package's golden history: a small run with one of
// most anomalies.
func goldenOps(t *testing.T) history.History {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "check", "testdata", "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// record feeds h through a recorder, as the harness adds ops, and returns
// the history read back, history.jsonl as written from it, and the
// checks' results.
func record(t *testing.T, h history.History, spill func(r *recorder)) (history.History, string, string) {
	t.Helper()
	rec := newRecorder(time.Now(), nil)
	if spill != nil {
		spill(rec)
	}
	defer rec.close()
	for _, op := range h {
		op.Index = -1
		rec.add(op, "")
	}
	if err := rec.finish(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := history.NewWriter(&out, HistoryValueMax)
	if err := rec.each(w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := rec.readAll()
	if err != nil {
		t.Fatal(err)
	}
	res, err := check.Run(got, nil, check.Options{MaxRedeliveryPerCrash: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return got, out.String(), string(b)
}

// TestSpillMatchesMemory: a history spilled to a file in batches and read
// back gives the same history.jsonl and the same check results, anomalies
// and all, as the history kept in memory.
func TestSpillMatchesMemory(t *testing.T) {
	h := goldenOps(t)
	memHist, memJSONL, memChecks := record(t, h, nil)
	if !strings.Contains(memChecks, `"FAIL"`) {
		t.Fatalf("the golden history has no anomaly to compare:\n%s", memChecks)
	}
	if len(memHist) != len(h) {
		t.Fatalf("in memory: %d ops, want %d", len(memHist), len(h))
	}
	for _, tc := range []struct {
		name  string
		ops   int
		bytes int64
	}{
		{"every op", 1, spillBytes},
		{"every 2 ops", 2, spillBytes},
		{"every 5 ops", 5, spillBytes},
		{"every 100 bytes", 1 << 20, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), spillFileName)
			got, jsonl, checks := record(t, h, func(r *recorder) {
				r.spill(path, tc.ops)
				r.spillBytes = tc.bytes
			})
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("spill file %s not removed: %v", path, err)
			}
			if len(got) != len(h) {
				t.Fatalf("%d ops read back, want %d", len(got), len(h))
			}
			for i := range got {
				if got[i].Index != i {
					t.Fatalf("op %d has index %d", i, got[i].Index)
				}
			}
			if jsonl != memJSONL {
				t.Errorf("history.jsonl differs:\n%s\nin memory:\n%s", jsonl, memJSONL)
			}
			if checks != memChecks {
				t.Errorf("check results differ:\n%s\nin memory:\n%s", checks, memChecks)
			}
		})
	}
}

// TestSpilledRun: a real run that spills after every few ops passes,
// writes every op to history.jsonl, and removes its spill file with its
// temporary directory.
func TestSpilledRun(t *testing.T) {
	sc := parseScenario(t, smallScenario)
	out, tmp := t.TempDir(), t.TempDir()
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), OutDir: out, TempDir: tmp, SpillOps: 7})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != StatusPass {
		t.Fatalf("status %s: %s %+v", res.Status, res.Reason, res.Checks)
	}
	if len(res.History) != res.Counts.Ops || res.Counts.Ops < 50 {
		t.Errorf("history of %d ops, counts say %d", len(res.History), res.Counts.Ops)
	}
	b, err := os.ReadFile(filepath.Join(out, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := history.WriteJSONL(&want, res.History, HistoryValueMax); err != nil {
		t.Fatal(err)
	}
	if string(b) != want.String() {
		t.Errorf("history.jsonl is not the checked history (%d and %d bytes)", len(b), want.Len())
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left in the temporary directory: %v", ents)
	}
	noChildren(t)
}

// TestHistoryFull: a history that outgrows its bounds stops the run with a
// "limit" harness error, reported once, and is not read back.
func TestHistoryFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(r *recorder)
		want string
	}{
		{"ops", func(r *recorder) { r.maxOps = 10 }, "the history reached 11 operations"},
		{"records", func(r *recorder) { r.maxRecs = 2 }, "3 delivered records"},
		{"bytes", func(r *recorder) { r.maxBytes = 100 }, "bytes of values, more than klcheck can check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{sc: parseScenario(t, tinyScenario), cancel: func() {}}
			r.rec = newRecorder(time.Now(), nil)
			tc.set(r.rec)
			r.rec.onProblem = r.historyProblem
			for _, op := range goldenOps(t) {
				r.rec.add(op, "")
			}
			var he *HarnessError
			if !errors.As(r.error(), &he) || he.Kind != "limit" {
				t.Fatalf("error %v, want a limit HarnessError", r.error())
			}
			if !strings.Contains(he.Error(), tc.want) || !strings.Contains(he.Error(), "the run was stopped") {
				t.Errorf("diagnosis %q lacks %q", he.Error(), tc.want)
			}
		})
	}
}

// TestLateExitRecorded: a client's exit, which its watcher records on its
// own after the process is gone, is in the history and its counts even
// when the watcher is slow to record it: the history is sealed only once
// every watcher is done. (Under heavy load TestSpilledRun once saw a
// history one op longer than its counts.)
func TestLateExitRecorded(t *testing.T) {
	testHookBeforeExitRecord = func() { time.Sleep(time.Second) }
	defer func() { testHookBeforeExitRecord = nil }()
	sc := parseScenario(t, smallScenario)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	exits := 0
	for _, op := range res.History {
		if op.F == history.FExit {
			exits++
		}
	}
	if exits == 0 || len(res.History) != res.Counts.Ops {
		t.Errorf("%d exits recorded; history of %d ops, counts say %d", exits, len(res.History), res.Counts.Ops)
	}
	noChildren(t)
}
