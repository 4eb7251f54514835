package mutant_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/mutant"
	"github.com/kafka-lite/kafka-lite/internal/refadapter"
)

var (
	klcheckOnce sync.Once
	klcheckBin  string
	klcheckErr  error
)

// buildKlcheck builds cmd/klcheck once per test binary (lazily, so that
// the other tests do not depend on the command building).
func buildKlcheck(t *testing.T) string {
	t.Helper()
	klcheckOnce.Do(func() {
		dir, err := os.MkdirTemp("", "klcheck-mutant-test-")
		if err != nil {
			klcheckErr = err
			return
		}
		klcheckBin = filepath.Join(dir, "klcheck")
		_, self, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(self), "..", "..")
		cmd := exec.Command("go", "build", "-o", klcheckBin, "./cmd/klcheck")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			klcheckErr = errors.New("go build ./cmd/klcheck: " + err.Error() + "\n" + string(out))
		}
	})
	if klcheckErr != nil {
		t.Fatal(klcheckErr)
	}
	return klcheckBin
}

// mutantsRouted tells whether refadapter routes mutant names here.
func mutantsRouted() bool {
	err := refadapter.Serve(context.Background(), strings.NewReader(""), io.Discard, mutant.Names()[0])
	return err == nil || !strings.Contains(err.Error(), "unknown mutant")
}

// klcheck runs the built command and returns its exit status and output.
func klcheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildKlcheck(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("klcheck %v: %v\n%s", args, err, out.String())
	return -1, ""
}

// TestKlcheckCatchesMutants runs the klcheck command on each mutant's
// scenario with --impl ref:MUTANT (exit 1 naming an expected anomaly), and
// on all of them with the default implementation (exit 0).
func TestKlcheckCatchesMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds klcheck and runs 30 scenarios")
	}
	routed := mutantsRouted()
	var files []string
	for _, name := range mutant.Names() {
		file, err := filepath.Abs(filepath.Join("testdata", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
		if onlyMutant != "" && name != onlyMutant {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if !routed {
				t.Skip("internal/refadapter does not route mutant names to internal/mutant yet")
			}
			skipWithoutLazyFS(t, name)
			code, out := klcheck(t, "--impl", "ref:"+name, "--scenario", file, "--quick")
			if code != 1 {
				t.Fatalf("klcheck --impl ref:%s: exit %d, want 1\n%s", name, code, out)
			}
			if !slices.ContainsFunc(mutant.Expected(name), func(a string) bool { return strings.Contains(out, a) }) {
				t.Errorf("klcheck --impl ref:%s names none of %v:\n%s", name, mutant.Expected(name), out)
			}
		})
	}
	t.Run("reference", func(t *testing.T) {
		args := []string{"--quick"}
		for _, f := range files {
			args = append(args, "--scenario", f)
		}
		if code, out := klcheck(t, args...); code != 0 {
			t.Fatalf("klcheck with the reference on the mutant scenarios: exit %d, want 0\n%s", code, out)
		}
	})
}
