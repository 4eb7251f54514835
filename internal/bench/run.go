package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	implpkg "github.com/kafka-lite/kafka-lite/internal/impl"
	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

// Defaults of Options' zero values.
const (
	// DefaultReps is the repetitions of a run: benchmath needs 6 for a
	// 95% confidence interval of a median, and benchstat as many.
	DefaultReps = 6
	// DefaultCount is the messages per run (the proof of concept's
	// 100,000); QuickCount with --quick.
	DefaultCount = 100000
	QuickCount   = 20000
	// DefaultSize is the payload bytes per message.
	DefaultSize = 100
	// DefaultRate is the open-loop rows' msgs/s.
	DefaultRate = 10000
	// defaultBatch and defaultPollMax are the protocol's request sizes.
	defaultBatch   = 1000
	defaultPollMax = 10000
)

// Exit statuses of Run.
const (
	ExitOK    = 0
	ExitGate  = 1 // the gate found a regression
	ExitError = 2 // bad usage, unwritable --out, or a failed run
)

// ScaleMode says whether the scale section runs.
type ScaleMode int

const (
	// ScaleAuto runs it unless --quick or --only leaves it out.
	ScaleAuto ScaleMode = iota
	// ScaleOn runs it (--scale).
	ScaleOn
	// ScaleOff skips it (--no-scale).
	ScaleOff
)

// Options is what one klbench run is asked to do. cmd/klbench fills it
// from the flags; a zero field takes its default.
type Options struct {
	// Impls are the --impl specs (default: ref); Natives the --native ones.
	Impls, Natives []string
	// Reps is the repetitions (DefaultReps; the gate: its baseline's).
	Reps int
	// Count is the messages per run (DefaultCount, QuickCount with Quick).
	Count int
	// Size is the payload bytes per message (DefaultSize).
	Size int
	// Rate is the open-loop rows' msgs/s (DefaultRate).
	Rate float64
	// Wait is the wait strategy of the parallel row: inotify (default),
	// poll or spin. Fsync is ref's fsync mode: never (default), interval,
	// always.
	Wait, Fsync string
	Scale       ScaleMode
	Quick       bool
	// Out, if set, gets one directory per run, Out/YYYYMMDD-HHMMSS, and
	// Out/latest points at the newest. OutExact, if set, is written into
	// directly, its earlier report files removed first.
	Out, OutExact string
	// JSON prints report.json on stdout instead of the tables.
	JSON bool
	// Dir is where topics are created (default a temporary directory).
	Dir string
	// Batch and PollMax are the protocol's request sizes (1000, 10000).
	Batch, PollMax int
	// Gate is the baseline file of the regression gate; with
	// WriteBaseline it is written (default reports/baseline.json).
	Gate          string
	WriteBaseline bool
	// Only are the experiments to run (see Experiments); nil: all.
	Only []string
	// Klref is the klref binary of the cli experiment.
	Klref string
	// Quiet silences the progress on stderr.
	Quiet bool
	// Args is the command line as given, for the report.
	Args []string
}

// usageError is a bad option: exit 2 with its message.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// normalize fills in o's defaults and checks it.
func (o *Options) normalize() error {
	switch {
	case o.Reps < 0:
		return usagef("--reps %d: must be at least 1", o.Reps)
	case o.Count < 0 || (o.Count > 0 && o.Count < 10):
		return usagef("--count %d: must be at least 10", o.Count)
	case o.Size != 0 && (o.Size < 3 || o.Size > ref.DefaultMaxRecordSize):
		return usagef("--size %d: must be 3 to %d", o.Size, ref.DefaultMaxRecordSize)
	case o.Rate < 0 || o.Rate > 1e6:
		return usagef("--rate %v: must be above 0 and at most 1000000", o.Rate)
	case o.Batch < 0:
		return usagef("--batch %d: must be at least 1", o.Batch)
	case o.PollMax < 0:
		return usagef("--poll-max %d: must be at least 1", o.PollMax)
	case o.Out != "" && o.OutExact != "":
		return usagef("--out and --out-exact: give one")
	}
	if o.Count == 0 {
		o.Count = DefaultCount
		if o.Quick {
			o.Count = QuickCount
		}
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Batch == 0 {
		o.Batch = defaultBatch
	}
	if o.PollMax == 0 {
		o.PollMax = defaultPollMax
	}
	if o.Wait == "" {
		o.Wait = string(ref.WaitInotify)
	}
	if o.Fsync == "" {
		o.Fsync = string(ref.FsyncNever)
	}
	switch ref.WaitStrategy(o.Wait) {
	case ref.WaitInotify, ref.WaitPoll, ref.WaitSpin:
	default:
		return usagef("--wait %q: want inotify, poll or spin", o.Wait)
	}
	if _, err := ref.ParseFsyncMode(o.Fsync); err != nil {
		return usagef("--fsync: %v", err)
	}
	for _, e := range o.Only {
		if !slices.Contains(Experiments, e) {
			return usagef("--only: unknown experiment %q (want %s)", e, strings.Join(Experiments, ", "))
		}
	}
	if o.Only != nil && len(o.Only) == 0 {
		return usagef("--only: no experiment named (want %s)", strings.Join(Experiments, ", "))
	}
	if len(o.Impls) == 0 {
		o.Impls = []string{"ref"}
	}
	if o.WriteBaseline && o.Gate == "" {
		o.Gate = filepath.Join("reports", "baseline.json")
	}
	return nil
}

// only is o.Only as a set, process bringing produce (it reads what
// produce wrote); nil when o.Only is.
func (o *Options) only() map[string]bool {
	if o.Only == nil {
		return nil
	}
	m := map[string]bool{}
	for _, e := range o.Only {
		m[e] = true
	}
	if m["process"] {
		m["produce"] = true
	}
	return m
}

// klbench runs the built-in engine adapters: --impl nats://… and
// kafka://… become `klbench adapter --engine URL`.
func init() { engine.Register() }

// IsSubcommand says whether name is one of the subcommands klbench runs
// itself as: adapter (the reference, --null for the null adapter, --engine
// URL) and produce-worker.
func IsSubcommand(name string) bool {
	switch name {
	case "adapter", "produce-worker":
		return true
	}
	return false
}

// RunSubcommand runs args[0], a subcommand (IsSubcommand), on stdin and
// stdout, and returns its exit status.
func RunSubcommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch args[0] {
	case "adapter":
		return implpkg.Adapter(ctx, "klbench adapter", args[1:], stdin, stdout, stderr, implpkg.Extra{
			Name:    nullFlag,
			Usage:   "serve the null adapter: it stores nothing and answers every poll with KLBENCH_NULL_SIZE-byte values (the protocol's own cost)",
			Handler: nullHandlerFromEnv,
		})
	case "produce-worker":
		return produceWorker(ctx, args[1:], stdin, stdout, stderr)
	}
	return exitErr(stderr, fmt.Errorf("unknown subcommand %q", args[0]))
}

func exitErr(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return ExitError
	}
	return ExitOK
}

// Run is klbench: it runs what o asks (the benchmark, or the gate), writes
// the tables to stdout, progress and errors to stderr, and returns the
// exit status.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	given := o // before the defaults: what the gate overrides of its baseline
	if err := o.normalize(); err != nil {
		return exitErr(stderr, err)
	}
	if o.Gate != "" || o.WriteBaseline {
		return runGate(ctx, &o, &given, stdout, stderr)
	}
	return runMain(ctx, &o, stdout, stderr)
}

// workDir returns the directory topics go in and a cleanup.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("--dir %s: %w", dir, err)
		}
	}
	d, err := os.MkdirTemp(dir, "klbench-")
	if err != nil {
		return "", nil, fmt.Errorf("--dir: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

func (o *Options) refImpl() (*refImpl, error) {
	slow, err := slowAppend()
	if err != nil {
		return nil, fmt.Errorf("KLBENCH_SLOW_APPEND: %w", err)
	}
	return &refImpl{opts: ref.Options{Fsync: ref.FsyncMode(o.Fsync)}, slow: slow}, nil
}

func (o *Options) buildImpls() ([]impl, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	r, err := o.refImpl()
	if err != nil {
		return nil, err
	}
	var out []impl
	seen := map[string]bool{}
	proto := false
	nullEnv := []string{fmt.Sprintf("KLBENCH_NULL_SIZE=%d", o.Size-2)}
	for _, spec := range o.Impls {
		im, err := parseImpl(spec, self, o.Batch, o.PollMax, r)
		if err != nil {
			return nil, err
		}
		if seen[im.Name()] {
			return nil, usagef("--impl %q: two implementations named %s (name one with NAME=CMD)", spec, im.Name())
		}
		seen[im.Name()] = true
		if pi, ok := im.(*protoImpl); ok {
			pi.env = nullEnv
			proto = true
		}
		out = append(out, im)
	}
	for _, spec := range o.Natives {
		im, err := parseNative(spec)
		if err != nil {
			return nil, err
		}
		if seen[im.Name()] {
			return nil, usagef("--native %q: two implementations named %s (name one with NAME=CMD)", spec, im.Name())
		}
		seen[im.Name()] = true
		out = append(out, im)
	}
	if proto && !seen["null-adapter"] {
		// The protocol's own cost, to read the adapters' figures against.
		out = append(out, &protoImpl{name: "null-adapter", argv: nullArgv(self), batch: o.Batch, pollMax: o.PollMax, env: nullEnv})
	}
	return out, nil
}

func (o *Options) params() suiteParams {
	reps := o.Reps
	if reps == 0 {
		reps = DefaultReps
	}
	p := suiteParams{Count: o.Count, Size: o.Size, Reps: reps, Rate: o.Rate, RateCount: 20000, WakeSamples: 5000, Batch: o.Batch}
	if o.Quick {
		p.RateCount, p.WakeSamples = 2000, 2000
	}
	if o.Rate < 10000 {
		// Keep a rate-limited row near 2 s (quick: 0.2 s) at low rates.
		p.RateCount = max(100, int(o.Rate*2))
		if o.Quick {
			p.RateCount = max(50, int(o.Rate*0.2))
		}
	}
	return p
}

// runScale says whether the scale section runs.
func (o *Options) runScale() bool {
	switch {
	case o.Scale == ScaleOff:
		return false
	case o.Only != nil:
		return o.only()["scale"]
	}
	return o.Scale == ScaleOn || !o.Quick
}

func runMain(ctx context.Context, o *Options, stdout, stderr io.Writer) int {
	started := time.Now()
	var out *outDir
	if o.Out != "" || o.OutExact != "" {
		var err error
		if out, err = newOutDir(o.Out, o.OutExact, started); err != nil {
			return exitErr(stderr, err)
		}
	}
	impls, err := o.buildImpls()
	if err != nil {
		out.abandon()
		return exitErr(stderr, err)
	}
	base, cleanup, err := workDir(o.Dir)
	if err != nil {
		out.abandon()
		return exitErr(stderr, err)
	}
	defer cleanup()
	prog := newProgress(stderr, o.Quiet)
	// Every strategy gets its rate-limited rows, --wait's first (the
	// protocol implementations, which have no strategy, run with it).
	waits := []ref.WaitStrategy{ref.WaitStrategy(o.Wait)}
	for _, w := range []ref.WaitStrategy{ref.WaitInotify, ref.WaitPoll, ref.WaitSpin} {
		if w != waits[0] {
			waits = append(waits, w)
		}
	}
	params := o.params()
	s := newSuite(params, impls, base, prog, waits...)
	s.exps["cli"] = true
	if only := o.only(); only != nil {
		s.exps = only
	}
	if s.has("cli") {
		prog.step("cli: building klref and the bare limit")
		if s.cli, err = findCLITools(ctx, base, o.Klref); err != nil {
			if o.Klref != "" {
				prog.done()
				out.abandon()
				return exitErr(stderr, err)
			}
			s.cliFail(err)
		}
	}
	err = s.run(ctx)
	var scale []report.BenchScaleRow
	if err == nil && o.runScale() {
		scale, err = runScale(ctx, scaleConfig{base: base, quick: o.Quick, size: o.Size, prog: prog, reps: min(params.Reps, 3)})
	}
	prog.done()
	if err != nil {
		out.abandon()
		return exitErr(stderr, err)
	}
	s.derive()
	rows := s.rows()
	rep := &report.BenchReport{
		Tool: "klbench", SchemaVersion: report.BenchSchemaVersion, StartedAt: started.UTC().Format(time.RFC3339),
		DurationSec: time.Since(started).Seconds(), Env: Environment(base),
		Config: report.BenchConfig{Impls: implNames(impls), Count: o.Count, Size: o.Size, Reps: params.Reps, Rate: o.Rate,
			Wait: o.Wait, Fsync: o.Fsync, Quick: o.Quick, Scale: len(scale) > 0, Batch: o.Batch, PollMax: o.PollMax},
		Headline: s.headline(rows), Rows: rows, Limits: s.limits(), Figures: s.figures(), Histograms: s.col.histograms(),
		Scale: scale, GoBench: append(s.goBench(), scaleGoBench(scale)...), Plots: s.plots(), Notes: s.notes(rows),
	}
	if d, _ := slowAppend(); d > 0 {
		rep.Config.SlowDown = d.String()
	}
	rep.Config.Command = shellJoin(append([]string{"klbench"}, o.Args...))
	rep.Results = s.ombResults(rep.Histograms)
	if out != nil {
		if err := out.write(rep); err != nil {
			return exitErr(stderr, err)
		}
	}
	if o.JSON {
		if err := report.WriteBenchJSON(stdout, rep); err != nil {
			return exitErr(stderr, err)
		}
	} else if err := writeText(stdout, rep, out); err != nil {
		return exitErr(stderr, fmt.Errorf("write the tables: %w", err))
	}
	if s.cliErr != "" {
		fmt.Fprintf(stderr, "klbench: the cli experiment failed: %s\n", s.cliErr)
	}
	for _, im := range impls {
		if msg := s.failed[im.Name()]; msg != "" {
			fmt.Fprintf(stderr, "klbench: impl %s failed: %s\n", im.Name(), msg)
		}
	}
	if len(s.failed) > 0 || s.cliErr != "" {
		return ExitError
	}
	return ExitOK
}

// writeText prints the run's headline and tables, within
// report.BenchTableWidth columns.
func writeText(w io.Writer, rep *report.BenchReport, out *outDir) error {
	// Wrapped like the headline: the CPU's and the kernel's names are the
	// machine's, of any length (a kernel's build tag made it 123 columns).
	fmt.Fprintln(w, wrapText(fmt.Sprintf("klbench: %d repetitions of %d messages of %d B; %s, %d cores, %s, topic on %s",
		rep.Config.Reps, rep.Config.Count, rep.Config.Size, rep.Env.CPUModel, rep.Env.Cores, rep.Env.Kernel, rep.Env.Filesystem),
		report.BenchTableWidth, "  "))
	fmt.Fprintln(w)
	for _, h := range rep.Headline {
		fmt.Fprintln(w, wrapText("- "+h, report.BenchTableWidth, "  "))
	}
	if len(rep.Headline) > 0 {
		fmt.Fprintln(w)
	}
	if err := report.WriteBenchTable(w, rep.Rows, rep.Limits); err != nil {
		return err
	}
	if len(rep.Scale) > 0 {
		fmt.Fprintln(w)
		if err := report.WriteBenchScaleTable(w, rep.Scale); err != nil {
			return err
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "\n%s", wrapText("note: "+n, report.BenchTableWidth, "  "))
	}
	fmt.Fprintln(w)
	if out != nil {
		_, err := fmt.Fprintf(w, "\nreport written to %s\n", out.dir)
		return err
	}
	return nil
}

// wrapText breaks s into lines of at most width runes at spaces, each but
// the first indented by indent.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		switch {
		case i > 0 && line+1+n > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		case i > 0:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

func implNames(impls []impl) []string {
	var out []string
	for _, im := range impls {
		out = append(out, im.Name())
	}
	return out
}
