package bench

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for klbench when it re-executes
// itself (adapter, produce-worker).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && IsSubcommand(os.Args[1]) {
		os.Exit(RunSubcommand(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runBench runs klbench with o, quietly, and returns its exit status,
// stdout and stderr.
func runBench(t *testing.T, o Options) (int, string, string) {
	t.Helper()
	o.Quiet = true
	var out, errb bytes.Buffer
	code := Run(context.Background(), o, &out, &errb)
	return code, out.String(), errb.String()
}
