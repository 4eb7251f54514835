// Package report renders results for the terminal and for files. The
// check*.go files are klcheck's: the scenarios × checks table with the
// failure details, the progress line, and results.json.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/run"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// checkAbbrev are the table's column headers for the checks.
var checkAbbrev = map[string]string{
	"integrity":            "integ",
	"lost-write":           "lost",
	"durability":           "durab",
	"duplicate":            "dup",
	"inconsistent-offsets": "offs",
	"producer-order":       "p-ord",
	"realtime-order":       "rt-ord",
	"poll-order":           "poll",
	"resume":               "resume",
	"ack-once":             "ack",
	"liveness":             "live",
}

func abbrev(name string) string {
	if a, ok := checkAbbrev[name]; ok {
		return a
	}
	return name
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteCheckTable writes the table of scenarios × checks (PASS, FAIL,
// SKIP; "-" for a check that did not run), then, for every failing check,
// its anomalies with counts and up to check.MaxExamples examples, the
// reasons of skipped and errored scenarios, and last the summary line.
func WriteCheckTable(w io.Writer, results []*run.Result) error {
	ew := &errWriter{w: w}
	names := check.Names()
	width := len("SCENARIO")
	for _, r := range results {
		width = max(width, len(r.Scenario))
	}
	ew.printf("%-*s  %-6s %10s %8s ", width, "SCENARIO", "STATUS", "SEED", "TIME")
	for _, n := range names {
		ew.printf(" %-6s", abbrev(n))
	}
	ew.printf("\n")
	for _, r := range results {
		ew.printf("%-*s  %-6s %10d %8s ", width, r.Scenario, strings.ToUpper(string(r.Status)), r.Seed, r.Duration.Round(10*time.Millisecond))
		byName := map[string]check.Status{}
		for _, c := range r.Checks {
			byName[c.Check] = c.Status
		}
		for _, n := range names {
			st, ok := byName[n]
			cell := "-"
			if ok {
				cell = string(st)
			}
			ew.printf(" %-6s", cell)
		}
		ew.printf("\n")
	}
	legend := make([]string, len(names))
	for i, n := range names {
		legend[i] = abbrev(n) + "=" + n
	}
	ew.printf("checks: %s\n", strings.Join(legend, " "))
	for _, r := range results {
		writeDetails(ew, r)
	}
	ew.printf("%s\n", CheckSummaryLine(results))
	return ew.err
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeDetails writes what went wrong in one scenario.
func writeDetails(ew *errWriter, r *run.Result) {
	// A built-in is replayed by name, a scenario file by its path.
	which := r.Scenario
	if r.File != "" && !strings.HasPrefix(r.File, scenario.BuiltinPrefix) {
		which = r.File
	}
	replay := fmt.Sprintf("replay: klcheck --scenario %s --seed %d", shellQuote(which), r.Seed)
	if r.Quick {
		replay += " --quick"
	}
	if r.Impl.Spec != "" {
		replay += " --impl " + shellQuote(r.Impl.Spec)
	}
	if r.Server != nil {
		addr := r.Server.Addr
		if len(r.Server.Nodes) > 1 {
			addr = strings.Join(r.Server.Nodes, ",")
		}
		replay += " --server " + shellQuote(run.Impl{Argv: r.Server.Argv}.String()) + " --server-addr " + addr
	}
	switch r.Status {
	case run.StatusSkip:
		ew.printf("\nSKIP %s: %s\n", r.Scenario, r.Reason)
		return
	case run.StatusError:
		ew.printf("\nERROR %s (seed %d):\n%s\n", r.Scenario, r.Seed, indent(r.Reason, "  "))
		ew.printf("  %s\n  %s\n", replay, replayNote(r))
		return
	}
	if r.Note != "" {
		ew.printf("\nNOTE %s: %s\n", r.Scenario, r.Note)
	}
	writePowerLosses(ew, r)
	for _, c := range r.Checks {
		if c.Status != check.Fail {
			continue
		}
		total := 0
		for _, a := range c.Anomalies {
			total += a.Count
		}
		ew.printf("\nFAIL %s / %s: %d anomalies (seed %d)\n", r.Scenario, c.Check, total, r.Seed)
		if c.Note != "" {
			ew.printf("  %s\n", c.Note)
		}
		for _, a := range c.Anomalies {
			ew.printf("  %s ×%d\n", a.Name, a.Count)
			for i, ex := range a.Examples {
				if i >= check.MaxExamples {
					break
				}
				ew.printf("    - %s\n", exampleText(ex))
			}
			if a.Count > len(a.Examples) {
				ew.printf("    … and %d more\n", a.Count-len(a.Examples))
			}
		}
		ew.printf("  %s\n  %s\n", replay, replayNote(r))
	}
}

// replayNote says what a replay with the same seed repeats and what it
// does not: the harness's random draws are the seed's, but the moment a
// fault lands among the clients' operations, and how those operations
// interleave, are the OS's scheduling (docs/SCENARIOS.md, "Seeds and
// replay").
func replayNote(r *run.Result) string {
	if n := r.Counts.Kills + r.Counts.Pauses + r.Counts.PowerLosses; n > 0 {
		return fmt.Sprintf("(the seed repeats the values, the sizes and the faults' gaps, delays and picks; not when each of the %d faults landed among the clients' operations, which the OS's scheduling decides: a replay may need a few runs to show the same anomalies)", n)
	}
	return "(the seed repeats the values and the sizes; not how the clients' operations interleave, which the OS's scheduling decides: a replay may need a few runs to show the same anomalies)"
}

// writePowerLosses writes what a scenario's power losses took: one line
// per power loss, with the acknowledged records it took when the fsync mode
// allows that (the durability check's windows).
func writePowerLosses(ew *errWriter, r *run.Result) {
	if len(r.PowerLosses) == 0 {
		return
	}
	var windows []check.LossWindow
	note := ""
	for _, c := range r.Checks {
		if c.Check == "durability" {
			windows, note = c.Windows, c.Note
		}
	}
	ew.printf("\nPOWER LOSS %s: %d power losses", r.Scenario, len(r.PowerLosses))
	if note != "" {
		ew.printf("; %s", note)
	}
	ew.printf("\n")
	for i, pl := range r.PowerLosses {
		ew.printf("  %d. at %.3fs, %s, %s: %d processes killed, %d unsynced bytes dropped in %d files, %d directory entries undone",
			pl.Index, float64(pl.AtNS)/1e9, pl.Mode, pl.Trigger, pl.Killed, pl.DroppedBytes, pl.Files, pl.Entries)
		if i < len(windows) {
			w := windows[i]
			ew.printf("; of %d records acked before it, %d lost", w.Acked, w.Lost)
			if w.Lost > 0 {
				ew.printf(" (the oldest acked %.1f ms before)", float64(w.WindowNS)/1e6)
			}
			if w.UnackedLost > 0 {
				ew.printf(", and %d unacknowledged", w.UnackedLost)
			}
		}
		ew.printf("\n")
	}
}

// exampleText renders one example on one line.
func exampleText(ex check.Example) string {
	var b strings.Builder
	b.WriteString(ex.Explanation)
	var extra []string
	if len(ex.Offsets) > 0 {
		extra = append(extra, "offsets "+joinInts(ex.Offsets))
	}
	if len(ex.Clients) > 0 {
		extra = append(extra, "clients "+strings.Join(ex.Clients, ","))
	}
	if len(ex.TimesNS) > 0 {
		ts := make([]string, len(ex.TimesNS))
		for i, t := range ex.TimesNS {
			ts[i] = fmt.Sprintf("%.3fs", float64(t)/1e9)
		}
		extra = append(extra, "at "+strings.Join(ts, ","))
	}
	if len(ex.Ops) > 0 {
		ops := make([]int64, len(ex.Ops))
		for i, o := range ex.Ops {
			ops[i] = int64(o)
		}
		extra = append(extra, "ops "+joinInts(ops))
	}
	if len(ex.Values) > 0 {
		vs := make([]string, len(ex.Values))
		for i, v := range ex.Values {
			if len(v) > 60 {
				v = v[:60] + "…"
			}
			vs[i] = fmt.Sprintf("%q", v)
		}
		extra = append(extra, "values "+strings.Join(vs, ", "))
	}
	if len(extra) > 0 {
		b.WriteString(" [" + strings.Join(extra, "; ") + "]")
	}
	return b.String()
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// CheckSummaryLine is the last line of the terminal output, like
// "7 scenarios: 7 passed, 0 failed, 0 skipped"; ", N errors" is added
// when a scenario had a harness error.
func CheckSummaryLine(results []*run.Result) string {
	var pass, fail, skip, errs int
	for _, r := range results {
		switch r.Status {
		case run.StatusPass:
			pass++
		case run.StatusFail:
			fail++
		case run.StatusSkip:
			skip++
		default:
			errs++
		}
	}
	noun := "scenarios"
	if len(results) == 1 {
		noun = "scenario"
	}
	s := fmt.Sprintf("%d %s: %d passed, %d failed, %d skipped", len(results), noun, pass, fail, skip)
	if errs > 0 {
		s += fmt.Sprintf(", %d errors", errs)
	}
	return s
}

// WriteCheckList writes the scenarios with their descriptions, then the
// checks with theirs (klcheck --list).
func WriteCheckList(w io.Writer, scenarios []*scenario.Scenario) error {
	ew := &errWriter{w: w}
	ew.printf("Scenarios:\n")
	for _, s := range scenarios {
		ew.printf("  %-22s %s\n", s.Name, strings.Join(strings.Fields(s.Description), " "))
		if s.File != "" && !strings.HasPrefix(s.File, scenario.BuiltinPrefix) {
			ew.printf("  %-22s (from %s)\n", "", s.File)
		}
	}
	ew.printf("\nChecks:\n")
	for _, n := range check.Names() {
		ew.printf("  %-22s %s\n", n, check.Describe(n))
	}
	return ew.err
}
