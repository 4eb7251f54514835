package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
)

// fakeImpl is the test adapter of internal/run, built once.
var fakeImpl string

func TestMain(m *testing.M) {
	// klcheck runs itself as the adapter of the reference and of the
	// engines; in tests "itself" is this test binary.
	if len(os.Args) > 1 && os.Args[1] == "adapter" {
		os.Exit(realMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, false))
	}
	// ... and the NATS server that --server starts and kills is this test
	// binary too, run as klnats: a separate process, as a real server is.
	if len(os.Args) > 1 && os.Args[1] == "klnats" {
		os.Exit(natsserver.Main(os.Args[2:], os.Stderr))
	}
	// ... and so is klcheck itself, in the tests of what a real klcheck
	// process does (its signals and temporary directories).
	if os.Getenv(asKlcheckEnv) == "1" {
		main()
	}
	dir, err := os.MkdirTemp("", "klcheck-cli-test-")
	if err != nil {
		panic(err)
	}
	fakeImpl = filepath.Join(dir, "fakeimpl")
	cmd := exec.Command("go", "build", "-o", fakeImpl, "../../internal/run/testdata/fakeimpl")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		panic("build fakeimpl: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const okScenario = `name: cli-small
seed: 5
producers:
  - count: 2
    messages: 30
    size: {fixed: 64}
consumers:
  - count: 1
    start: earliest
    poll_timeout_ms: 20
timeouts:
  op_ms: 2000
  stuck_ms: 1000
  drain_s: 5
`

func writeScenario(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func klcheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(context.Background(), args, strings.NewReader(""), &out, &errb, false)
	return code, out.String(), errb.String()
}

func TestPassWithFakeImpl(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := klcheck(t, "--impl", fakeImpl+" --mode ok", "--scenario", writeScenario(t, okScenario), "--out", dir, "--seed", "99")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "1 scenario: 1 passed, 0 failed, 0 skipped" {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(out, "99") {
		t.Errorf("seed not printed:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary   struct{ Passed int }
		Scenarios []struct {
			Seed    int64
			Latency map[string]struct {
				Count int64 `json:"count"`
				P99   int64 `json:"p99_ns"`
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Passed != 1 || doc.Scenarios[0].Seed != 99 || doc.Scenarios[0].Latency["append"].Count != 60 {
		t.Errorf("results.json: %s", b)
	}
	for _, p := range []string{"cli-small/history.jsonl", "cli-small/clients/p1.1.log"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
}

func TestExitStatus2(t *testing.T) {
	good := writeScenario(t, okScenario)
	bad := writeScenario(t, "name: bad\nproducers:\n  - count: 1\n    messages: 10\n    colour: blue\n")
	// A full disk: the history file is a link to /dev/full, where every
	// write fails with ENOSPC.
	full := t.TempDir()
	if err := os.MkdirAll(filepath.Join(full, "cli-small"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(full, "cli-small", "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	impossible := writeScenario(t, "name: impossible\nproducers:\n  - count: 2\n    messages: 10\n    batch: 20\n    size: {range: [500, 100]}\n")
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad flag", []string{"--no-such-flag"}, "no-such-flag"},
		{"bad seed", []string{"--seed", "x"}, "not an integer"},
		{"missing impl", []string{"--impl", "/no/such/impl", "--scenario", good}, "/no/such/impl"},
		{"malformed scenario", []string{"--scenario", bad}, "s.yaml:5"},
		{"impossible numbers", []string{"--scenario", impossible}, "batch"},
		{"full --out disk", []string{"--impl", fakeImpl + " --mode ok", "--scenario", good, "--out", full}, "no space left on device"},
		{"unknown scenario", []string{"--scenario", "no-such-scenario"}, "neither a built-in"},
		{"out under a file", []string{"--impl", fakeImpl + " --mode ok", "--scenario", good, "--out", filepath.Join(regular, "out")}, "not writable"},
		{"impl exits at once", []string{"--impl", fakeImpl + " --mode exit-early", "--scenario", good}, "exit status 3"},
		{"unknown engine", []string{"--impl", "mqtt://localhost:1883", "--scenario", good}, "no engine adapter"},
		{"unreachable engine", []string{"--impl", "nats://127.0.0.1:1", "--scenario", good}, "127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := klcheck(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			if !strings.Contains(out+errs, tt.want) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tt.want, out, errs)
			}
		})
	}
}

func TestUnsupportedIsSkipped(t *testing.T) {
	code, out, errs := klcheck(t, "--impl", fakeImpl+" --mode unsupported", "--scenario", writeScenario(t, okScenario))
	if code != 0 || !strings.Contains(out, "1 scenario: 0 passed, 0 failed, 1 skipped") || !strings.Contains(out, "SKIP cli-small") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestList(t *testing.T) {
	code, out, _ := klcheck(t, "--list")
	if code != 0 || !strings.Contains(out, "Scenarios:") || !strings.Contains(out, "lost-write") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestServerFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server-addr", "127.0.0.1:1"}, "--server-addr needs --server"},
		{[]string{"--server", "klnats --store {dir}"}, "--server needs --server-addr HOST:PORT unless --impl is a nats:// or kafka:// URL"},
		{[]string{"--server", "klnats", "--server-addr", "nohost"}, `--server-addr "nohost"`},
		{[]string{"--server", "'unclosed", "--impl", "nats://127.0.0.1:4222"}, "not a command line"},
		{[]string{"--server", "klnats --node {node} --store {dir}", "--impl", "nats://127.0.0.1:4222"}, "--server has {node}, but there is only one address (127.0.0.1:4222)"},
		{[]string{"--server", "klnats --node {node}", "--server-addr", "127.0.0.1:1"}, "--server has {node}, but there is only one address"},
		{[]string{"--server", "klnats --node {node}"}, "--server with {node} needs --server-addr HOST:PORT,HOST:PORT..."},
		{[]string{"--server", "klnats", "--server-addr", "127.0.0.1:1,127.0.0.1:2"}, "--server-addr names 2 addresses, but --server has no {node}"},
		{[]string{"--server", "klnats {node}", "--server-addr", "127.0.0.1:1,nohost"}, `--server-addr "nohost"`},
	} {
		code, _, errs := klcheck(t, tc.args...)
		if code != exitError || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	s, err := serverSpec("bin/klnats --port 4300 --store {dir}", "", "nats://127.0.0.1:4300,127.0.0.1:4301?sync=always")
	if err != nil || s.Addr != "127.0.0.1:4300" || len(s.Argv) != 5 {
		t.Errorf("serverSpec = %+v, %v", s, err)
	}
	s, err = serverSpec("bin/klnats --cluster 2 --node {node} --port 4300 --store {dir}", "", "nats://127.0.0.1:4300,127.0.0.1:4301?replicas=2")
	if err != nil || s.Addr != "127.0.0.1:4300" || len(s.Nodes) != 2 || s.Nodes[1] != "127.0.0.1:4301" || s.Ready == nil || s.Leader == nil {
		t.Errorf("serverSpec with {node} = %+v, %v", s, err)
	}
	for name, want := range map[string]int{"n0": 0, "n1": 1, "n2": -1, "x1": -1, "n": -1} {
		if got, _ := nodeIndex(name, 2); got != want {
			t.Errorf("nodeIndex(%q, 2) = %d, want %d", name, got, want)
		}
	}
}
