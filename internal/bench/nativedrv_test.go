package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The Python example's driver really appends and reads the messages.
func TestNativePythonDriver(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	n, err := parseNative("py=python3 ../../examples/python/kl_bench.py")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name() != "py" {
		t.Errorf("name %q, want py", n.Name())
	}
	d := filepath.Join(t.TempDir(), "py")
	vals := make([]string, 50)
	for i := range vals {
		vals[i] = makeValue(i, 98)
	}
	ctx := context.Background()
	pr, err := n.produce(ctx, d, vals)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	if pr.elapsed <= 0 {
		t.Errorf("produce elapsed %d", pr.elapsed)
	}
	// The values are on disk in the Python example's format, one frame each.
	chunk, err := largestFile(n.chunkDir(d))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(chunk)
	if got := bytes.Count(data, []byte("\n")); got != 50 {
		t.Errorf("chunk holds %d lines, want 50", got)
	}
	if !bytes.Contains(data, []byte(vals[49])) {
		t.Error("the last value is not in the chunk")
	}
	if _, err := n.process(ctx, d, 50); err != nil {
		t.Fatalf("process: %v", err)
	}
	// Asking for more than is there must fail, not hang or pass.
	if _, err := n.process(ctx, d, 51); err == nil || !strings.Contains(err.Error(), "poll returned nothing") {
		t.Errorf("process of 51 of 50 records: %v", err)
	}
}

// A driver that misbehaves is named with what it did wrong.
func TestNativeDriverErrors(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"wrong count", `echo '{"elapsed_ns":5,"count":9,"last_offset":8}'`, "count 9, want 10"},
		{"wrong last offset", `echo '{"elapsed_ns":5,"count":10,"last_offset":3}'`, "last offset 3, want 9"},
		{"no elapsed", `echo '{"count":10,"last_offset":9}'`, "lacks elapsed_ns"},
		{"zero elapsed", `echo '{"elapsed_ns":0,"count":10,"last_offset":9}'`, "not positive"},
		{"unknown field", `echo '{"elapsed_ns":5,"count":10,"last_offset":9,"ms":1}'`, "not a result object"},
		{"no JSON", `echo done`, "not a result object"},
		{"exit status", `echo disk full >&2; exit 1`, "disk full"},
		{"hang", `sleep 30`, "no result within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := filepath.Join(t.TempDir(), "drv.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			// Only the hanging driver should meet the timeout, however
			// slowly a loaded machine starts the others.
			to := time.Minute
			if tc.name == "hang" {
				to = 500 * time.Millisecond
			}
			n := &nativeImpl{name: "drv", argv: []string{script}, timeout: to}
			start := time.Now()
			_, err := n.process(context.Background(), t.TempDir(), 10)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("took %v: the timeout did not kill the driver", time.Since(start))
			}
		})
	}
}

// --native is checked like --impl, and a native driver gets no latency rows.
func TestNativeFlag(t *testing.T) {
	if code, _, errs := runBench(t, Options{Natives: []string{"/nonexistent/driver"}}); code != 2 || !strings.Contains(errs, "--native") {
		t.Errorf("missing driver: exit %d, %s", code, errs)
	}
	if measuresLatency(&nativeImpl{name: "x"}) {
		t.Error("a native driver takes part in the latency rows")
	}
}

// A native driver that fails mid-run is named with its failure, exit 2,
// and the other implementations still finish.
func TestFailingNativeDriver(t *testing.T) {
	script := filepath.Join(t.TempDir(), "dies.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'out of disk' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBench(t, Options{Natives: []string{"dies=" + script}, Quick: true, Count: 100, Reps: 1})
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errs)
	}
	if !strings.Contains(errs, "impl dies failed") || !strings.Contains(errs, "out of disk") {
		t.Errorf("message does not name the driver and its failure:\n%s", errs)
	}
	if !regexp.MustCompile(`(?m)^produce +ref +[0-9.]+ ms`).MatchString(out) {
		t.Errorf("ref's rows are missing:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^produce +dies +FAILED`).MatchString(out) || !strings.Contains(out, "FAILED produce, dies: produce: ") {
		t.Errorf("the driver's failure is not in the table:\n%s", out)
	}
}
