// Command klbench measures the reference kafka-lite log (and any adapter
// speaking protocol v1) against the raw limits of the machine it runs on.
// docs/BENCH.md explains the experiments, the report and the gate.
//
//	klbench [--impl CMD]... [--native CMD]... [--reps N] [--count N] [--quick]
//	        [--only LIST] [--out DIR | --out-exact DIR] [--json] [--quiet]
//	klbench --gate FILE [--write-baseline]
//
// Exit status: 0 ok, 1 the gate found a regression, 2 bad usage, an
// unwritable --out, or a failed run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/kafka-lite/kafka-lite/internal/bench"
)

const usage = `usage: klbench [flags]

Runs the proof of concept's produce, process and parallel experiments on the
reference log (and on implementations speaking adapter protocol v1),
measures the raw limits of this machine in the same run, and prints how
close each comes to them. docs/BENCH.md explains every figure.

implementations:
  --impl [NAME=]CMD    implementation to measure, repeatable: ref (default,
                       in process), ref-adapter (ref over the protocol),
                       null (the null adapter), nats://HOST:PORT, or a
                       command speaking protocol v1, e.g.
                       "python3 examples/python/kl_adapter.py"
  --native [NAME=]CMD  an implementation's own bench driver, repeatable: it
                       runs produce and process in its own process, one
                       append per message, as the original was timed, e.g.
                       "python3 examples/python/kl_bench.py"
  --klref PATH         the klref binary of the cli experiment (default: go
                       build ./cmd/klref inside the module, else klref on
                       PATH)

what to run:
  --only LIST          only these experiments, comma-separated: produce,
                       process (brings produce, whose data it reads),
                       parallel, e2e, cli, scale (default: all)
  --reps N             repetitions of every experiment (default 6)
  --count N            messages per run (default 100000; 20000 with --quick)
  --size B             payload bytes per message, as JSON (default 100)
  --rate N             msgs/s of the open-loop end-to-end rows (default 10000)
  --wait S             wait strategy of the full-speed parallel row:
                       inotify (default), poll, spin; the rate-limited rows
                       run each on ref
  --fsync M            fsync mode of the reference log: never (default),
                       interval, always
  --batch N            values per append request through the protocol (1000)
  --poll-max N         most records per poll request through the protocol
                       (10000)
  --scale, --no-scale  run or skip the scale section (default: run it,
                       unless --quick or --only leaves it out)
  --quick              a short run (under a minute)
  --dir DIR            where topics are created (default: a temporary
                       directory, removed after)

output:
  --out DIR            write the report (report.md, report.json, bench.txt
                       for benchstat, .hgrm histograms, SVG and PNG plots)
                       into a new DIR/YYYYMMDD-HHMMSS/, and point DIR/latest
                       at it
  --out-exact DIR      write the report into DIR itself, replacing the
                       report files an earlier run left there (this is how
                       reports/ref is made)
  --json               print report.json on stdout instead of the tables
  --quiet, -q          no progress on stderr

regression gate:
  --gate FILE          a short run of ref compared with the baseline FILE;
                       exit 1 on a statistically significant regression
  --write-baseline     run the gate's experiments and write FILE (default
                       reports/baseline.json)

  --help, -h           print this and exit

subcommands (klbench starts itself as these; -h for their flags):
  adapter [--null | --mutant NAME | --engine URL]
                       serve one client of protocol v1 on stdin/stdout
  produce-worker       one producer process of the parallel experiment

exit status: 0 ok, 1 the gate found a regression, 2 bad usage or a failed
run`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain is klbench with its environment passed in; it returns the exit
// status.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && bench.IsSubcommand(args[0]) {
		return bench.RunSubcommand(ctx, args, stdin, stdout, stderr)
	}
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return bench.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "klbench: %v\nrun klbench --help for the flags\n", err)
		return bench.ExitError
	}
	return bench.Run(ctx, *o, stdout, stderr)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// positive is an int flag that must be at least 1 when given (0 in
// bench.Options means "the default").
type positive struct{ p *int }

func (v positive) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v positive) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	if n < 1 {
		return fmt.Errorf("%d: must be at least 1", n)
	}
	*v.p = n
	return nil
}

// positiveFloat is positive for a float flag.
type positiveFloat struct{ p *float64 }

func (v positiveFloat) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v positiveFloat) Set(s string) error {
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	if !(n > 0) {
		return fmt.Errorf("%v: must be above 0", n)
	}
	*v.p = n
	return nil
}

// parseFlags turns the command line into bench.Options; flag.ErrHelp for
// --help. Only the flags' syntax is checked here; bench.Run checks the
// values.
func parseFlags(args []string) (*bench.Options, error) {
	o := &bench.Options{Args: args}
	fs := flag.NewFlagSet("klbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var impls, natives stringList
	var only string
	var scale, noScale bool
	fs.Var(&impls, "impl", "")
	fs.Var(&natives, "native", "")
	fs.StringVar(&o.Klref, "klref", "", "")
	fs.StringVar(&only, "only", "", "")
	fs.Var(positive{&o.Reps}, "reps", "")
	fs.Var(positive{&o.Count}, "count", "")
	fs.Var(positive{&o.Size}, "size", "")
	fs.Var(positiveFloat{&o.Rate}, "rate", "")
	fs.StringVar(&o.Wait, "wait", "", "")
	fs.StringVar(&o.Fsync, "fsync", "", "")
	fs.Var(positive{&o.Batch}, "batch", "")
	fs.Var(positive{&o.PollMax}, "poll-max", "")
	fs.BoolVar(&scale, "scale", false, "")
	fs.BoolVar(&noScale, "no-scale", false, "")
	fs.BoolVar(&o.Quick, "quick", false, "")
	fs.StringVar(&o.Dir, "dir", "", "")
	fs.StringVar(&o.Out, "out", "", "")
	fs.StringVar(&o.OutExact, "out-exact", "", "")
	fs.BoolVar(&o.JSON, "json", false, "")
	fs.BoolVar(&o.Quiet, "quiet", false, "")
	fs.BoolVar(&o.Quiet, "q", false, "")
	fs.StringVar(&o.Gate, "gate", "", "")
	fs.BoolVar(&o.WriteBaseline, "write-baseline", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		// The flag package names flags with one dash; klbench's take two.
		return nil, errors.New(strings.Replace(err.Error(), " -", " --", 1))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	o.Impls, o.Natives = impls, natives
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["only"] {
		o.Only = []string{}
		for _, e := range strings.Split(only, ",") {
			if e = strings.TrimSpace(e); e != "" {
				o.Only = append(o.Only, e)
			}
		}
	}
	switch {
	case noScale:
		o.Scale = bench.ScaleOff
	case scale:
		o.Scale = bench.ScaleOn
	}
	return o, nil
}
