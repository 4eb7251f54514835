package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	"github.com/kafka-lite/kafka-lite/internal/refadapter"
	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/ref"
)

const usage = `usage: klbench [flags]

Runs the proof of concept's produce, process and parallel experiments on the
reference log (and on adapters speaking protocol v1), measures the raw limits
of this machine in the same run, and prints how close each comes to them.

flags:
  --impl CMD          implementation to measure, repeatable: ref (default, in
                      process), ref-adapter (ref over the protocol), null (the
                      null adapter), or a command speaking protocol v1, e.g.
                      "python3 examples/python/kl_adapter.py"; NAME=CMD names it
  --native CMD        an implementation's own bench driver, repeatable: it runs
                      produce and process in its own process, one append per
                      message, as the original did (docs/BENCH.md), e.g.
                      "python3 examples/python/kl_bench.py"; NAME=CMD names it
  --reps N            repetitions of every experiment (default 5; 3 with --quick)
  --count N           messages per run (default 100000; 20000 with --quick)
  --size B            payload bytes per message, as JSON (default 100)
  --rate N            msgs/s of the open-loop end-to-end rows (default 10000)
  --wait S            wait strategy of the full-speed parallel row: inotify,
                      poll, spin (the rate-limited rows run each on ref)
  --fsync M           fsync mode of the reference log: never, interval, always
  --scale             run the scale section (on by default without --quick)
  --no-scale          skip the scale section
  --only LIST         run only these experiments, comma-separated: produce,
                      process (runs produce too: it reads what produce wrote),
                      parallel, e2e, cli, scale (default: all; scale as above)
  --klref PATH        the klref binary the cli experiment runs (default: build
                      ./cmd/klref with go when run inside the module, else
                      klref on PATH)
  --quick             short run, under 30 s
  --out DIR           write report.json, report.md, .hgrm, .svg and bench.txt
  --json              print report.json on stdout instead of the table
  --dir DIR           where topics are created (default a temp dir; removed after)
  --batch N           values per append request through the protocol (1000)
  --poll-max N        max records per poll request through the protocol (10000)
  --gate FILE         regression gate: a short run compared with FILE; exit 1
                      if a ratio to the raw limit dropped below its threshold
  --write-baseline    with --gate (default reports/baseline.json): write it
  -q                  no progress output

subcommands (used by klbench itself): adapter, null-adapter, produce-worker

exit status: 0 ok, 1 gate failed, 2 bad usage or a failed run`

type implList []string

func (l *implList) String() string     { return strings.Join(*l, ",") }
func (l *implList) Set(v string) error { *l = append(*l, v); return nil }

// options are the parsed flags.
type options struct {
	impls         implList
	natives       implList
	reps, count   int
	size          int
	rate          float64
	wait, fsync   string
	scale         bool
	noScale       bool
	quick         bool
	out           string
	json          bool
	dir           string
	batch         int
	pollMax       int
	gate          string
	writeBaseline bool
	only          map[string]bool // --only, nil if not given
	klref         string
	quiet         bool
	set           map[string]bool
	args          []string // as given, for the report
}

// Main is klbench: it returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		var err error
		switch args[0] {
		case "adapter":
			if len(args) == 3 && args[1] == "--engine" {
				err = engine.Serve(ctx, args[2], os.Stdin, os.Stdout)
			} else {
				err = refadapter.Serve(ctx, os.Stdin, os.Stdout, "")
			}
			return exitErr(stderr, err)
		case "null-adapter":
			err = ServeNull(ctx, os.Stdin, os.Stdout)
			return exitErr(stderr, err)
		case "produce-worker":
			return produceWorker(ctx, args[1:], stdout, stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	if o.gate != "" || o.writeBaseline {
		return runGate(ctx, o, stdout, stderr)
	}
	return runMain(ctx, o, stdout, stderr)
}

func exitErr(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{set: map[string]bool{}, args: args}
	fs := flag.NewFlagSet("klbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Var(&o.impls, "impl", "")
	fs.Var(&o.natives, "native", "")
	fs.IntVar(&o.reps, "reps", 5, "")
	fs.IntVar(&o.count, "count", 100000, "")
	fs.IntVar(&o.size, "size", 100, "")
	fs.Float64Var(&o.rate, "rate", 10000, "")
	fs.StringVar(&o.wait, "wait", "inotify", "")
	fs.StringVar(&o.fsync, "fsync", "never", "")
	fs.BoolVar(&o.scale, "scale", false, "")
	fs.BoolVar(&o.noScale, "no-scale", false, "")
	fs.BoolVar(&o.quick, "quick", false, "")
	fs.StringVar(&o.out, "out", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.dir, "dir", "", "")
	fs.IntVar(&o.batch, "batch", 1000, "")
	fs.IntVar(&o.pollMax, "poll-max", 10000, "")
	fs.StringVar(&o.gate, "gate", "", "")
	fs.BoolVar(&o.writeBaseline, "write-baseline", false, "")
	fs.BoolVar(&o.quiet, "q", false, "")
	only := fs.String("only", "", "")
	fs.StringVar(&o.klref, "klref", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, usage)
			return nil, err
		}
		return nil, fmt.Errorf("%v\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)\n%s", fs.Arg(0), usage)
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if o.quick {
		if !o.set["reps"] {
			o.reps = 3
		}
		if !o.set["count"] {
			o.count = 20000
		}
	}
	switch {
	case o.reps < 1:
		return nil, fmt.Errorf("--reps %d: must be at least 1", o.reps)
	case o.count < 10:
		return nil, fmt.Errorf("--count %d: must be at least 10", o.count)
	case o.size < 3 || o.size > ref.DefaultMaxRecordSize:
		return nil, fmt.Errorf("--size %d: must be 3 to %d", o.size, ref.DefaultMaxRecordSize)
	case o.rate <= 0 || o.rate > 1e6:
		return nil, fmt.Errorf("--rate %v: must be above 0 and at most 1000000", o.rate)
	case o.batch < 1:
		return nil, fmt.Errorf("--batch %d: must be at least 1", o.batch)
	case o.pollMax < 1:
		return nil, fmt.Errorf("--poll-max %d: must be at least 1", o.pollMax)
	}
	switch ref.WaitStrategy(o.wait) {
	case ref.WaitInotify, ref.WaitPoll, ref.WaitSpin:
	default:
		return nil, fmt.Errorf("--wait %q: want inotify, poll or spin", o.wait)
	}
	if _, err := ref.ParseFsyncMode(o.fsync); err != nil {
		return nil, fmt.Errorf("--fsync: %v", err)
	}
	if o.set["only"] {
		o.only = map[string]bool{}
		for _, e := range strings.Split(*only, ",") {
			e = strings.TrimSpace(e)
			if !slices.Contains(experimentNames, e) {
				return nil, fmt.Errorf("--only %q: unknown experiment %q (want %s)", *only, e, strings.Join(experimentNames, ", "))
			}
			o.only[e] = true
		}
		if o.only["process"] {
			o.only["produce"] = true // process reads what produce wrote
		}
	}
	if len(o.impls) == 0 {
		o.impls = implList{"ref"}
	}
	if o.writeBaseline && o.gate == "" {
		o.gate = filepath.Join("reports", "baseline.json")
	}
	return o, nil
}

// checkOut makes sure dir exists and is writable.
func checkOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".klbench-probe-*")
	if err != nil {
		return fmt.Errorf("--out %s: not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
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

func (o *options) refImpl() (*refImpl, error) {
	slow, err := slowAppend()
	if err != nil {
		return nil, fmt.Errorf("KLBENCH_SLOW_APPEND: %w", err)
	}
	return &refImpl{opts: ref.Options{Fsync: ref.FsyncMode(o.fsync)}, slow: slow}, nil
}

func (o *options) buildImpls() ([]impl, error) {
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
	for _, spec := range o.impls {
		im, err := parseImpl(spec, self, o.batch, o.pollMax, r)
		if err != nil {
			return nil, err
		}
		if seen[im.Name()] {
			return nil, fmt.Errorf("--impl %q: two implementations named %s (name one with NAME=CMD)", spec, im.Name())
		}
		seen[im.Name()] = true
		if pi, ok := im.(*protoImpl); ok {
			pi.env = []string{fmt.Sprintf("KLBENCH_NULL_SIZE=%d", o.size-2)}
			proto = true
		}
		out = append(out, im)
	}
	for _, spec := range o.natives {
		im, err := parseNative(spec)
		if err != nil {
			return nil, err
		}
		if seen[im.Name()] {
			return nil, fmt.Errorf("--native %q: two implementations named %s (name one with NAME=CMD)", spec, im.Name())
		}
		seen[im.Name()] = true
		out = append(out, im)
	}
	if proto && !seen["null-adapter"] {
		// The protocol's own cost, to read the adapters' figures against.
		out = append(out, &protoImpl{name: "null-adapter", argv: []string{self, "null-adapter"}, batch: o.batch, pollMax: o.pollMax,
			env: []string{fmt.Sprintf("KLBENCH_NULL_SIZE=%d", o.size-2)}})
	}
	return out, nil
}

func (o *options) params() suiteParams {
	p := suiteParams{Count: o.count, Size: o.size, Reps: o.reps, Rate: o.rate, RateCount: 20000, WakeSamples: 5000}
	if o.quick {
		p.RateCount, p.WakeSamples = 2000, 2000
	}
	if o.rate < 10000 {
		// Keep a rate-limited row near 2 s (quick: 0.2 s) at low rates.
		p.RateCount = max(100, int(o.rate*2))
		if o.quick {
			p.RateCount = max(50, int(o.rate*0.2))
		}
	}
	return p
}

func runMain(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	if o.out != "" {
		if err := checkOut(o.out); err != nil {
			fmt.Fprintf(stderr, "klbench: %v\n", err)
			return 2
		}
	}
	impls, err := o.buildImpls()
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	base, cleanup, err := workDir(o.dir)
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	defer cleanup()
	started := time.Now()
	prog := newProgress(stderr, o.quiet)
	// Every strategy gets its rate-limited rows, --wait's first (the
	// protocol implementations, which have no strategy, run with it).
	waits := []ref.WaitStrategy{ref.WaitStrategy(o.wait)}
	for _, w := range []ref.WaitStrategy{ref.WaitInotify, ref.WaitPoll, ref.WaitSpin} {
		if w != waits[0] {
			waits = append(waits, w)
		}
	}
	s := newSuite(o.params(), impls, base, prog, waits...)
	s.exps["cli"] = true
	if o.only != nil {
		s.exps = o.only
	}
	if s.has("cli") {
		prog.step("cli: building klref and the bare limit")
		if s.cli, err = findCLITools(ctx, base, o.klref); err != nil {
			if o.klref != "" {
				prog.done()
				fmt.Fprintf(stderr, "klbench: %v\n", err)
				return 2
			}
			s.cliFail(err)
		}
	}
	err = s.run(ctx)
	var scale []report.BenchScaleRow
	runScaleSection := (o.scale || (!o.quick && !o.noScale)) && !o.noScale
	if o.only != nil {
		runScaleSection = o.only["scale"] && !o.noScale
	}
	if err == nil && runScaleSection {
		scale, err = runScale(ctx, scaleConfig{base: base, quick: o.quick, size: o.size, prog: prog, reps: min(o.reps, 3)})
	}
	prog.done()
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\n", err)
		return 2
	}
	rep := &report.BenchReport{
		Tool: "klbench", SchemaVersion: report.BenchSchemaVersion, StartedAt: started.UTC().Format(time.RFC3339),
		DurationSec: time.Since(started).Seconds(), Env: Environment(base),
		Config: report.BenchConfig{Impls: implNames(impls), Count: o.count, Size: o.size, Reps: o.reps, Rate: o.rate,
			Wait: o.wait, Fsync: o.fsync, Quick: o.quick, Scale: len(scale) > 0, Batch: o.batch, PollMax: o.pollMax},
		Rows: s.rows(), Figures: s.figures(), Histograms: s.col.histograms(), Scale: scale, GoBench: s.goBench,
	}
	if d, _ := slowAppend(); d > 0 {
		rep.Config.SlowDown = d.String()
	}
	rep.Config.Command = shellJoin(append([]string{"klbench"}, o.args...))
	rep.Results = s.ombResults(rep.Histograms)
	rep.Notes = notes(s)
	if o.out != "" {
		if err := report.WriteBenchReport(o.out, rep); err != nil {
			fmt.Fprintf(stderr, "klbench: write report to %s: %v\n", o.out, err)
			return 2
		}
	}
	if o.json {
		if err := report.WriteBenchJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "klbench: %v\n", err)
			return 2
		}
	} else {
		fmt.Fprintf(stdout, "klbench: %d × %d messages of %d B, %d repetitions; %s, %d cores, %s, topic on %s\n\n",
			1, o.count, o.size, o.reps, rep.Env.CPUModel, rep.Env.Cores, rep.Env.Kernel, rep.Env.Filesystem)
		report.WriteBenchTable(stdout, rep.Rows)
		if len(scale) > 0 {
			fmt.Fprintln(stdout)
			report.WriteBenchScaleTable(stdout, scale)
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(stdout, "\nnote: %s", n)
		}
		fmt.Fprintln(stdout)
		if o.out != "" {
			fmt.Fprintf(stdout, "\nreport written to %s\n", o.out)
		}
	}
	if s.cliErr != "" {
		fmt.Fprintf(stderr, "klbench: the cli experiment failed: %s\n", s.cliErr)
	}
	for name, msg := range s.failed {
		fmt.Fprintf(stderr, "klbench: impl %s failed: %s\n", name, msg)
	}
	if len(s.failed) > 0 || s.cliErr != "" {
		return 2
	}
	return 0
}

func implNames(impls []impl) []string {
	var out []string
	for _, im := range impls {
		out = append(out, im.Name())
	}
	return out
}

func notes(s *suite) []string {
	var n []string
	n = append(n, "Ratios are per repetition (raw limit and implementation run back to back), then the median is shown: 1.00× = as fast as the bare loop.")
	if s.has("produce") {
		n = append(n, "produce/process through the protocol exclude starting the adapter process; they use append requests of --batch values and polls of up to --poll-max records.")
	}
	if s.cli != nil {
		n = append(n, fmt.Sprintf("cli: klref %s; the bare limits are clibare, a small Go program klbench builds; each is timed from process start to exit, the bare consume as the best of three.", s.cli.klrefHow))
	}
	if _, ok := s.col.vals["produce/null-adapter/time"]; ok {
		n = append(n, fmt.Sprintf("protocol overhead (null adapter, stores nothing): produce %.1f ms, process %.1f ms for the same messages (medians).",
			s.col.median("produce/null-adapter/time"), s.col.median("process/null-adapter/time")))
	}
	return n
}
