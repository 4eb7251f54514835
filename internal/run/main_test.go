package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// fakeImpl is the path of the test adapter built by TestMain.
var fakeImpl string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "klcheck-run-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fakeImpl = filepath.Join(dir, "fakeimpl")
	cmd := exec.Command("go", "build", "-o", fakeImpl, "./testdata/fakeimpl")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fakeimpl:", err)
		_ = os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// fake returns the Impl of the fake adapter in mode.
func fake(t *testing.T, mode string) Impl {
	t.Helper()
	impl, err := ResolveImpl(fakeImpl+" --mode "+mode, "")
	if err != nil {
		t.Fatal(err)
	}
	return impl
}

// parseScenario parses a scenario written in a test.
func parseScenario(t *testing.T, yaml string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	return sc
}

// smallScenario is a quick scenario the fake ok impl passes.
const smallScenario = `
name: small
seed: 42
producers:
  - count: 2
    messages: 60
    batch: 3
    size: {range: [30, 200]}
consumers:
  - count: 1
    start: earliest
    poll_max: 20
    poll_timeout_ms: 20
  - name: a
    count: 1
    group: acked
    poll_max: 7
    poll_timeout_ms: 20
    ack: each
timeouts:
  op_ms: 2000
  stuck_ms: 1000
  drain_s: 10
  run_s: 20
`

// children returns the pids of the live or zombie children of this test
// process.
func children(t *testing.T) []string {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1])
		}
	}
	return out
}

// noChildren fails the test if a child process outlived the run; it
// allows a moment for reaping.
func noChildren(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		kids := children(t)
		if len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child processes left: %v", kids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSmallPasses(t *testing.T) {
	sc := parseScenario(t, smallScenario)
	out := t.TempDir()
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), OutDir: out})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != StatusPass {
		for _, c := range res.Checks {
			t.Logf("%s %s %+v", c.Check, c.Status, c.Anomalies)
		}
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	t.Logf("counts %+v latency %+v", res.Counts, res.Latency)
	if res.Counts.ValuesAcked != 120 {
		t.Errorf("values acked = %d, want 120", res.Counts.ValuesAcked)
	}
	if _, err := os.Stat(filepath.Join(out, "history.jsonl")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(out, "clients", "p1.1.log")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(res.TopicDir); !os.IsNotExist(err) {
		t.Errorf("topic dir %s not removed: %v", res.TopicDir, err)
	}
	noChildren(t)
}
