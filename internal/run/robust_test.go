package run

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// tinyScenario has one producer and short timeouts, for the bad modes.
const tinyScenario = `
name: tiny
seed: 1
producers:
  - count: 1
    messages: 5
    size: {fixed: 40}
consumers:
  - count: 1
    start: earliest
    poll_timeout_ms: 20
timeouts:
  op_ms: 700
  init_ms: 700
  stuck_ms: 500
  drain_s: 5
  run_s: 10
`

func TestBadImplementations(t *testing.T) {
	tests := []struct {
		mode string
		kind string // HarnessError.Kind
		want []string
	}{
		{"garbage", "garbage", []string{"not a JSON reply", "hello, this is not JSON"}},
		{"exit-early", "exited", []string{"exit status 3", "giving up before init"}},
		{"hang", "timeout", []string{"did not reply in time", "fakeimpl: hanging"}},
		{"wrong-id", "wrong-id", []string{"wrong id", "reply id 101, want 1"}},
		// Reading 16 MiB through a pipe on a loaded 2-core machine can take
		// a while: a longer op timeout keeps this one from being a timeout.
		{"huge-line", "too-long", []string{"longer than the limit"}},
		{"slow-init", "timeout", []string{"did not reply in time"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			sc := parseScenario(t, tinyScenario)
			if tt.mode == "huge-line" {
				sc.Timeouts.OpMS = 5000
			}
			began := time.Now()
			res, err := Run(context.Background(), sc, Options{Impl: fake(t, tt.mode)})
			if took := time.Since(began); took > 8*time.Second {
				t.Errorf("took %v", took)
			}
			var he *HarnessError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a *HarnessError", err)
			}
			if res.Status != StatusError {
				t.Errorf("status %s, want error", res.Status)
			}
			if he.Kind != tt.kind {
				t.Errorf("kind %q, want %q", he.Kind, tt.kind)
			}
			msg := err.Error()
			for _, w := range append([]string{"scenario tiny", "client ", "init request 1", "fakeimpl: mode " + tt.mode}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("diagnosis lacks %q:\n%s", w, msg)
				}
			}
			noChildren(t)
		})
	}
}

func TestUnsupportedSkips(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "unsupported")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != StatusSkip || !strings.Contains(res.Reason, "fsync modes are not supported") {
		t.Fatalf("status %s reason %q, want skip with the reason", res.Status, res.Reason)
	}
	noChildren(t)
}

func TestMissingImpl(t *testing.T) {
	if _, err := ResolveImpl("/nonexistent/klcheck-impl --flag", ""); err == nil {
		t.Fatal("resolving a missing program succeeded")
	}
	// A program that exists but cannot be executed is a start error.
	sc := parseScenario(t, tinyScenario)
	_, err := Run(context.Background(), sc, Options{Impl: Impl{Argv: []string{"/dev/null"}}})
	var he *HarnessError
	if !errors.As(err, &he) || he.Kind != "start" {
		t.Fatalf("err = %v, want a start HarnessError", err)
	}
	noChildren(t)
}

func TestCancelKillsEverything(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	began := time.Now()
	_, _ = Run(ctx, sc, Options{Impl: fake(t, "hang")})
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("cancel took %v", took)
	}
	noChildren(t)
}

// killScenario kills its producer during appends and restarts it.
const killScenario = `
name: kills
seed: 7
producers:
  - count: 2
    messages: 40
    size: {range: [50, 300]}
consumers:
  - count: 1
    start: earliest
    poll_timeout_ms: 20
faults:
  - kind: kill
    target: p1
    trigger: during
    op: append
    max_delay_us: 300
    probability: 0.5
    max_faults: 3
    restart: true
    restart_after_ms: 5
  - kind: pause
    target: p2
    trigger: between
    op: append
    probability: 0.2
    max_faults: 2
    pause_ms: 30
timeouts:
  op_ms: 3000
  stuck_ms: 1000
  drain_s: 10
  run_s: 20
`

func TestKillDuringAppend(t *testing.T) {
	sc := parseScenario(t, killScenario)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var kills, indet, pauses, resumes, starts int
	for _, op := range res.History {
		switch {
		case op.F == history.FKill:
			kills++
			if !strings.Contains(op.Error, "during append") {
				t.Errorf("kill reason %q", op.Error)
			}
		case op.F == history.FAppend && op.Outcome == history.Indeterminate:
			indet++
		case op.F == history.FPause:
			pauses++
		case op.F == history.FResume:
			resumes++
		case op.F == history.FStart && op.Client == "p1":
			starts++
		}
	}
	if kills != 3 || indet != 3 {
		t.Errorf("kills %d, indeterminate appends %d; want 3 and 3", kills, indet)
	}
	if starts != 4 {
		t.Errorf("p1 started %d times, want 4", starts)
	}
	if pauses != 2 || resumes != 2 {
		t.Errorf("pauses %d resumes %d, want 2 and 2", pauses, resumes)
	}
	if res.Status != StatusPass {
		for _, c := range res.Checks {
			t.Logf("%s %s %+v", c.Check, c.Status, c.Anomalies)
		}
		t.Errorf("status %s", res.Status)
	}
	noChildren(t)
}

func TestPrintDiagnosis(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("only with -v")
	}
	sc := parseScenario(t, tinyScenario)
	_, err := Run(context.Background(), sc, Options{Impl: fake(t, "exit-early")})
	t.Log(err)
}

func TestStuckDrainReader(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	sc.Timeouts.StuckMS = 300
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok --stall-at 2")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusFail || res.Counts.Stuck == 0 {
		t.Fatalf("status %s, stuck %d; want a failing liveness check", res.Status, res.Counts.Stuck)
	}
	for _, c := range res.Checks {
		if c.Check == "liveness" && (c.Status != "FAIL" || !strings.Contains(c.Anomalies[0].Examples[0].Explanation, "made no progress")) {
			t.Errorf("liveness %+v", c)
		}
	}
	noChildren(t)
}

// TestStrayWrite: an implementation that writes outside the directory it
// was given is a harness error (exit 2), naming what it wrote.
func TestStrayWrite(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "stray-write")})
	var he *HarnessError
	if !errors.As(err, &he) || he.Kind != "stray-write" {
		t.Fatalf("err = %v, want a stray-write HarnessError", err)
	}
	if res.Status != StatusError || !strings.Contains(err.Error(), "stray-p1") {
		t.Fatalf("status %s, diagnosis %q", res.Status, err)
	}
	noChildren(t)
}

// TestInterruptedRunIsNotChecked: a run cancelled mid-way (Ctrl-C) has no
// drain, so it must end as an error, never as a pass or a fail.
func TestInterruptedRunIsNotChecked(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	sc.Producers[0].Rate, sc.Producers[0].Messages = 50, 400 // 8 s: cancelled in the middle
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	res, err := Run(ctx, sc, Options{Impl: fake(t, "ok")})
	var he *HarnessError
	if !errors.As(err, &he) || he.Kind != "interrupted" {
		t.Fatalf("err = %v, want an interrupted HarnessError", err)
	}
	if res.Status != StatusError || len(res.Checks) != 0 {
		t.Fatalf("status %s with %d checks, want error and none", res.Status, len(res.Checks))
	}
	noChildren(t)
}

// TestRefusalWithoutReason: an implementation that refuses with an empty
// code or reason gets a diagnosis that says so, not "refused:  (code )".
func TestRefusalWithoutReason(t *testing.T) {
	for _, tc := range []struct {
		impl   string
		status Status
		want   string
	}{
		{"refuse-init --code error", StatusError, `init was refused with code "error" and no reason`},
		{"refuse-init --code invalid --reason '  '", StatusError, `init was refused with code "invalid" and no reason`},
		// A reply without a code has code "error" (protocol.Conn).
		{"refuse-init", StatusError, `init was refused with code "error" and no reason`},
		{"refuse-init --reason 'disk full'", StatusError, "init was refused: disk full (code error)"},
		{"refuse-init --code unsupported", StatusSkip, "init: no reason given"},
		{"ok --refuse-appends", StatusFail, `append failed with "error: no reason given"`},
	} {
		t.Run(tc.impl, func(t *testing.T) {
			res, err := Run(context.Background(), parseScenario(t, tinyScenario), Options{Impl: fake(t, tc.impl)})
			if res.Status != tc.status {
				t.Fatalf("status %s (%v), want %s", res.Status, err, tc.status)
			}
			text := res.Reason
			for _, c := range res.Checks {
				for _, a := range c.Anomalies {
					for _, ex := range a.Examples {
						text += "\n" + ex.Explanation
					}
				}
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("diagnosis lacks %q:\n%s", tc.want, text)
			}
			if tc.status == StatusFail {
				var types []string
				for _, et := range res.ErrorTypes {
					types = append(types, et.Type)
				}
				if !slices.Contains(types, "append fail: error") {
					t.Errorf("error types %v lack %q", types, "append fail: error")
				}
			}
			noChildren(t)
		})
	}
}
