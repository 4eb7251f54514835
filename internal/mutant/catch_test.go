package mutant_test

import (
	"context"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/lazyfs"
	"github.com/kafka-lite/kafka-lite/internal/mutant"
	"github.com/kafka-lite/kafka-lite/internal/run"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// onlyMutant limits the catch tests to one mutant (KL_MUTANT=name).
var onlyMutant = os.Getenv("KL_MUTANT")

// runMutantScenario runs the named mutant's scenario through klcheck's
// orchestrator against impl (a mutant name, "" for the correct log).
func runMutantScenario(t *testing.T, name, impl string) *run.Result {
	t.Helper()
	sc, err := scenario.Parse(name+".yaml", []byte(mutant.Scenario(name)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := run.Run(ctx, sc, run.Options{Impl: run.Impl{Spec: impl, Argv: serveArgv(t, impl)}, Quick: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run %s against %q: %v", name, impl, err)
	}
	return res
}

// skipWithoutLazyFS skips a power-loss mutant's test where lazyfs cannot
// mount (klcheck would skip its scenario).
func skipWithoutLazyFS(t *testing.T, name string) {
	t.Helper()
	if !mutant.PowerLoss(name) {
		return
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("%s needs power losses: %v", name, err)
	}
}

// anomalies returns the names of the anomalies res reports, with counts.
func anomalies(res *run.Result) map[string]int {
	out := map[string]int{}
	for _, c := range res.Checks {
		for _, a := range c.Anomalies {
			out[a.Name] += a.Count
		}
	}
	return out
}

func summary(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+strconv.Itoa(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestMutantsCaught runs each mutant's scenario against the mutant (klcheck
// must report one of its expected anomalies) and against the correct log
// (every check must pass), through the orchestrator's Go API.
func TestMutantsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 30 scenarios")
	}
	for _, name := range mutant.Names() {
		if onlyMutant != "" && name != onlyMutant {
			continue
		}
		t.Run(name, func(t *testing.T) {
			skipWithoutLazyFS(t, name)
			res := runMutantScenario(t, name, name)
			got := anomalies(res)
			t.Logf("%s: %s in %v: %s", name, res.Status, res.Duration.Round(time.Millisecond), summary(got))
			if res.Status != run.StatusFail {
				t.Errorf("%s: status %s, want %s", name, res.Status, run.StatusFail)
			}
			if !slices.ContainsFunc(mutant.Expected(name), func(a string) bool { return got[a] > 0 }) {
				t.Errorf("%s: klcheck reported %v, want one of %v", name, summary(got), mutant.Expected(name))
			}
		})
		t.Run(name+"/base", func(t *testing.T) {
			skipWithoutLazyFS(t, name)
			res := runMutantScenario(t, name, "")
			if res.Status != run.StatusPass {
				for _, c := range res.Checks {
					if c.Status == check.Fail {
						t.Errorf("correct log fails %s: %+v", c.Check, c.Anomalies)
					}
				}
				t.Fatalf("correct log: status %s (%s)", res.Status, res.Reason)
			}
		})
	}
}
