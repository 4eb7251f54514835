package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asKlcheckEnv set to 1 makes the test binary run as klcheck (TestMain).
const asKlcheckEnv = "KLCHECK_TEST_AS_KLCHECK"

// TestHugeScenarioRejected: sizes klcheck cannot hold or run are refused
// before anything starts, with exit 2, the field and its line.
func TestHugeScenarioRejected(t *testing.T) {
	base := func(messages, size, consumers string, extra ...string) string {
		return "name: huge\nproducers:\n  - count: 1\n    messages: " + messages + "\n    size: {fixed: " + size + "}\n" +
			"consumers:\n  - count: " + consumers + "\n" + strings.Join(extra, "")
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"messages", base("1000000000000", "100", "1"), "s.yaml:4: producers[0].messages: 1000000000000 is more than klcheck's history can hold (at most 1000000 messages"},
		{"producers", strings.Replace(base("10", "100", "1"), "count: 1\n    messages", "count: 100000\n    messages", 1), "s.yaml:3: producers[0].count: 100000 brings the scenario to 100000 clients, more than the limit of 256"},
		{"record size", base("10000", "1048576", "1"), "s.yaml:5: producers[0].size.fixed: 1 producer × 10000 messages of up to 1048576 bytes bring the scenario to 9.8 GiB of values"},
		{"consumers", base("1000000", "10", "9"), "s.yaml:7: consumers[0].count: 9 consumer clients and the final drain, each reading all 1000000 messages, make 10000000 deliveries"},
		{"poll_max", base("10", "67108864", "1", "    poll_max: 1000\n"), "s.yaml:8: consumers[0].poll_max: 1000 records of up to 67108864 bytes"},
		{"run_s", base("10", "100", "1", "timeouts: {run_s: 10000000000}\n"), "s.yaml:8: timeouts.run_s: 10000000000 is more than the limit of 86400 s (24 hours)"},
		{"kills", base("10", "100", "1", "faults: [{kind: kill, target: p1, trigger: rotation, max_faults: 1000000000}]\n"), "s.yaml:8: faults[0].max_faults: 1000000000 is more than the limit of 100000 firings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := klcheck(t, "--impl", fakeImpl+" --mode ok", "--scenario", writeScenario(t, tc.yaml))
			if code != exitError {
				t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errs)
			}
		})
	}
}

// startKlcheck starts the test binary as klcheck with args and TMPDIR set
// to tmp; it returns the command and its stderr.
func startKlcheck(t *testing.T, tmp string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asKlcheckEnv+"=1", "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// waitExit waits for cmd, killing it if it takes longer than limit, and
// returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("klcheck did not exit within %v", limit)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// fakeImplProcs lists the running fakeimpl processes.
func fakeImplProcs() []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == fakeImpl {
			out = append(out, e.Name())
		}
	}
	return out
}

// noTempLeft fails the test if tmp is not empty.
func noTempLeft(t *testing.T, tmp string) {
	t.Helper()
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("klcheck left %s in its temporary directory", filepath.Join(tmp, e.Name()))
	}
}

// TestNoTempDirLeft: a real klcheck process removes its temporary
// directories, and leaves no client process, when it refuses a scenario
// and when it is stopped with SIGTERM in the middle of a run.
func TestNoTempDirLeft(t *testing.T) {
	t.Run("rejected", func(t *testing.T) {
		tmp := t.TempDir()
		huge := writeScenario(t, "name: huge\nproducers:\n  - count: 1\n    messages: 1000000000000\n    size: {fixed: 100}\n")
		cmd, out := startKlcheck(t, tmp, "--impl", fakeImpl+" --mode ok", "--scenario", huge)
		if code := waitExit(t, cmd, time.Minute); code != exitError {
			t.Errorf("exit %d, want 2\n%s", code, out)
		}
		if !strings.Contains(out.String(), "s.yaml:4: producers[0].messages") {
			t.Errorf("output lacks the field and line:\n%s", out)
		}
		noTempLeft(t, tmp)
	})
	t.Run("SIGTERM", func(t *testing.T) {
		tmp := t.TempDir()
		// 20 messages a second for a minute: it is still running when the
		// signal comes.
		long := writeScenario(t, "name: long\nproducers:\n  - count: 2\n    messages: 1200\n    rate: 20\n    size: {fixed: 50}\n"+
			"consumers:\n  - count: 1\n    poll_timeout_ms: 20\n")
		cmd, out := startKlcheck(t, tmp, "--impl", fakeImpl+" --mode ok", "--scenario", long)
		// The run is under way once a client has created the log.
		deadline := time.Now().Add(time.Minute)
		for {
			if m, _ := filepath.Glob(filepath.Join(tmp, "klcheck-long-*", "data", "t", "log")); len(m) > 0 && len(fakeImplProcs()) >= 3 {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("the run did not start:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := waitExit(t, cmd, time.Minute); code != exitError {
			t.Errorf("exit %d, want 2\n%s", code, out)
		}
		t.Logf("klcheck's output:\n%s", out)
		if !strings.Contains(out.String(), "interrupted") {
			t.Errorf("output does not say it was interrupted:\n%s", out)
		}
		noTempLeft(t, tmp)
		if procs := fakeImplProcs(); len(procs) > 0 {
			t.Errorf("client processes left: %v", procs)
		}
	})
}
