package run

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

func TestSchedule(t *testing.T) {
	start := time.Unix(100, 0)
	s := schedule{start: start, rate: 500}
	for seq, want := range map[int64]time.Duration{0: 0, 1: 2 * time.Millisecond, 500: time.Second, 1250: 2500 * time.Millisecond} {
		if got := s.due(seq).Sub(start); got != want {
			t.Errorf("due(%d) = %v, want %v", seq, got, want)
		}
	}
	if got := (schedule{start: start}).due(1000); !got.Equal(start) {
		t.Errorf("rate 0: due = %v, want the start", got)
	}
	if got := batches(10, 3); !slices.Equal(got, []int{3, 3, 3, 1}) {
		t.Errorf("batches(10, 3) = %v", got)
	}
	if got := batches(2, 0); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("batches(2, 0) = %v", got)
	}
}

func TestSizesAreSeeded(t *testing.T) {
	g := scenario.ProducerGroup{Size: scenario.Sizes{Range: [2]int{50, 300}}}
	draw := func(seed int64, index int) []int {
		rng := producerRNG(seed, index)
		out := make([]int, 20)
		for i := range out {
			out[i] = g.SizeFor(0, rng)
		}
		return out
	}
	a, b := draw(7, 1), draw(7, 1)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different sizes: %v %v", a, b)
	}
	if slices.Equal(a, draw(7, 2)) || slices.Equal(a, draw(8, 1)) {
		t.Error("another client or seed drew the same sizes")
	}
	for _, n := range a {
		if n < 50 || n > 300 {
			t.Errorf("size %d out of range", n)
		}
	}
}

func TestFaultTimingFromSeed(t *testing.T) {
	f := scenario.Fault{Kind: scenario.FaultKill, Trigger: scenario.TriggerRandom, Probability: 1,
		Gap: scenario.Gap{Dist: scenario.GapExponential, MeanMS: 100}}
	gaps := func(seed int64) []time.Duration {
		fs := newFaultState(0, f, seed)
		out := make([]time.Duration, 200)
		for i := range out {
			out[i] = fs.nextGap()
		}
		return out
	}
	a := gaps(3)
	if !slices.Equal(a, gaps(3)) {
		t.Error("same seed, different gaps")
	}
	if slices.Equal(a, gaps(4)) {
		t.Error("different seeds, same gaps")
	}
	var sum time.Duration
	for _, g := range a {
		sum += g
	}
	if mean := sum / time.Duration(len(a)); mean < 70*time.Millisecond || mean > 130*time.Millisecond {
		t.Errorf("mean gap %v, want about 100ms", mean)
	}
	u := scenario.Gap{Dist: scenario.GapUniform, MinMS: 10, MaxMS: 20}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if g := gapFor(u, rng); g < 10*time.Millisecond || g > 20*time.Millisecond {
			t.Fatalf("uniform gap %v out of [10ms, 20ms]", g)
		}
	}

	// Probability and MaxFaults.
	f = scenario.Fault{Kind: scenario.FaultKill, Trigger: scenario.TriggerDuring, Op: "append", Probability: 0.3, MaxFaults: 5, MaxDelayUS: 50}
	fs := newFaultState(1, f, 9)
	fired := 0
	for range 1000 {
		if fs.tryFire() {
			fired++
			if d := fs.delay(); d < 0 || d > 50*time.Microsecond {
				t.Errorf("delay %v out of range", d)
			}
		}
	}
	if fired != 5 || !fs.exhausted() {
		t.Errorf("fired %d times, want MaxFaults=5", fired)
	}
	fs = newFaultState(1, scenario.Fault{Probability: 0.3}, 9)
	fired = 0
	for range 1000 {
		if fs.tryFire() {
			fired++
		}
	}
	if fired < 230 || fired > 370 {
		t.Errorf("probability 0.3 fired %d of 1000", fired)
	}
}

func TestFaultTargets(t *testing.T) {
	p := &client{name: "p1", role: roleProducer, phase: phaseMain}
	c := &client{name: "c1", role: roleConsumer, phase: phaseMain}
	d := &client{name: "drain-1", role: roleConsumer, phase: phaseDrain}
	for _, tt := range []struct {
		target string
		want   []bool // p, c, d
	}{
		{"producers", []bool{true, false, false}},
		{"consumers", []bool{false, true, false}},
		{"any", []bool{true, true, false}},
		{"c1", []bool{false, true, false}},
	} {
		fs := faultState{f: scenario.Fault{Target: tt.target}}
		got := []bool{fs.matches(p), fs.matches(c), fs.matches(d)}
		if !slices.Equal(got, tt.want) {
			t.Errorf("target %s: %v, want %v", tt.target, got, tt.want)
		}
	}
}

func TestDiagnosisText(t *testing.T) {
	ce := &protocol.CallError{Kind: protocol.FailGarbage, Op: "append", ID: 7, Line: "oops"}
	he := &HarnessError{Scenario: "tail-follow", Client: "p2", Session: 3, Request: "append request 7",
		Kind: string(ce.Kind), Detail: describeCallError(ce), Impl: "/bin/impl --x", ExitStatus: "exit status 1",
		StderrTail: []string{"line one", "panic: boom"}, LogPath: "/out/clients/p2.3.log"}
	want := `scenario tail-follow: client p2 (session 3): append request 7: garbage: the client printed a line that is not a JSON reply: "oops"
  process: exit status 1
  impl: /bin/impl --x
  last 2 lines of p2's stderr:
    | line one
    | panic: boom
  full log: /out/clients/p2.3.log`
	if got := he.Error(); got != want {
		t.Errorf("diagnosis:\n%s\nwant:\n%s", got, want)
	}
	if !IsHarnessError(he) {
		t.Error("IsHarnessError = false")
	}
	for kind, want := range map[protocol.FailureKind]string{
		protocol.FailTimeout: "hangs", protocol.FailEOF: "exited", protocol.FailWrongID: "wrong id",
		protocol.FailTooLong: "longer than the limit", protocol.FailWrite: "could not be written",
	} {
		if got := describeCallError(&protocol.CallError{Kind: kind}); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", kind, got, want)
		}
	}
}

func TestStderrTail(t *testing.T) {
	l, _ := newStderrLog("")
	for i := range 30 {
		l.write([]byte(strings.Repeat("x", i) + "\n"))
	}
	got := l.lastLines(10)
	if len(got) != 10 || got[9] != strings.Repeat("x", 29) || got[0] != strings.Repeat("x", 20) {
		t.Errorf("last lines %q", got)
	}
}

// TestResolveImpl: run.Impl keeps the spec beside impl.Resolve's command
// line (impl's own tests cover the specs).
func TestResolveImpl(t *testing.T) {
	got, err := ResolveImpl(" ref:no-sync ", "/usr/bin/klcheck")
	require.NoError(t, err)
	assert.Equal(t, Impl{Spec: "ref:no-sync", Argv: []string{"/usr/bin/klcheck", "adapter", "--mutant", "no-sync"}}, got)
	assert.True(t, got.IsRef())
	assert.False(t, got.IsEngine())
}

func TestRotationWatch(t *testing.T) {
	root := t.TempDir()
	got := make(chan string, 10)
	w, err := startRotationWatch(root, func(name string) { got <- name })
	if err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	topic := filepath.Join(root, "t")
	if err := os.Mkdir(topic, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the watch reach the new directory
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(topic, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("00000000000000000000.log") // the first chunk: no rotation
	write("x.lock")
	write(".tmp-ack")
	write("00000000000000000004.log")
	tmp := filepath.Join(topic, ".tmp-chunk")
	write(".tmp-chunk")
	if err := os.Rename(tmp, filepath.Join(topic, "00000000000000000008.log")); err != nil {
		t.Fatal(err)
	}
	var names []string
	timeout := time.After(2 * time.Second)
	for len(names) < 2 {
		select {
		case n := <-got:
			names = append(names, n)
		case <-timeout:
			t.Fatalf("rotations seen: %v", names)
		}
	}
	want := []string{filepath.Join("t", "00000000000000000004.log"), filepath.Join("t", "00000000000000000008.log")}
	if !slices.Equal(names, want) {
		t.Errorf("rotations %v, want %v", names, want)
	}
	select {
	case n := <-got:
		t.Errorf("unexpected rotation %s", n)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRlimitTargetSeesEFBIG(t *testing.T) {
	sc := parseScenario(t, `
name: fsize
seed: 3
producers:
  - count: 2
    messages: 40
    size: {fixed: 200}
consumers:
  - count: 1
    start: earliest
    poll_timeout_ms: 20
faults:
  - kind: rlimit
    target: p1
    fsize_bytes: 4096
timeouts:
  op_ms: 2000
  stuck_ms: 1000
  drain_s: 5
  run_s: 20
`)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusPass {
		t.Errorf("status %s", res.Status)
	}
	failed := 0
	for _, op := range res.History {
		if op.F == "append" && op.Outcome == "fail" {
			failed++
			if op.Client != "p1" || !strings.Contains(op.Error, "file too large") {
				t.Errorf("failed append %+v", op)
			}
		}
	}
	if failed == 0 {
		t.Error("no append failed under RLIMIT_FSIZE")
	}
	noChildren(t)
}
