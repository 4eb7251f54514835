// Command klcheck is kafka-lite's conformance checker: it runs scenarios
// against an implementation through the adapter protocol, records a
// history of every operation, checks it, and prints a verdict.
//
//	klcheck [--impl CMD] [--scenario NAME|FILE]... [--seed N] [--out DIR]
//	        [--quick] [--list] [--keep] [--verbose]
//	        [--server CMD [--server-addr HOST:PORT[,HOST:PORT...]]]
//	klcheck adapter [--mutant NAME | --engine URL]
//
// Exit status: 0 when every scenario passed (skips allowed), 1 when a check
// found an anomaly, 2 for a usage, configuration or harness error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/shlex"

	"github.com/kafka-lite/kafka-lite/internal/engine"
	"github.com/kafka-lite/kafka-lite/internal/impl"
	"github.com/kafka-lite/kafka-lite/internal/report"
	"github.com/kafka-lite/kafka-lite/internal/run"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// Exit statuses.
const (
	exitPass    = 0
	exitAnomaly = 1
	exitError   = 2
)

// The built-in engine adapters: --impl nats://… and kafka://… run
// `klcheck adapter --engine URL`, after the URL is checked.
func init() { engine.Register() }

// memoryLimit is klcheck's soft memory limit unless GOMEMLIMIT sets one.
// The scenario limits keep the live heap of a history and its checks
// under 1.5 GiB (scenario.MaxMemory); the collector, which lets the heap
// grow to twice the live data between collections, then works harder
// rather than let klcheck pass 3 GiB.
const memoryLimit = 3 << 30

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, report.IsTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// seedFlag is --seed: an int64 that remembers being set.
type seedFlag struct {
	v   int64
	set bool
}

func (s *seedFlag) String() string { return strconv.FormatInt(s.v, 10) }
func (s *seedFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	s.v, s.set = n, true
	return nil
}

// realMain is klcheck with its environment passed in; it returns the exit
// status.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, tty bool) int {
	if len(args) > 0 && args[0] == "adapter" {
		return impl.Adapter(ctx, "klcheck adapter", args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("klcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		impl      = fs.String("impl", "", "implementation command line, split like a shell would (default: the reference; ref:MUTANT for a mutant)")
		scenarios stringList
		seed      seedFlag
		out       = fs.String("out", "", "write results.json, histories and client logs under `DIR`")
		quick     = fs.Bool("quick", false, "run scaled-down scenarios (the whole suite in under a minute)")
		list      = fs.Bool("list", false, "list the scenarios and the checks, and exit")
		keep      = fs.Bool("keep", false, "keep each scenario's topic directory")
		verbose   = fs.Bool("verbose", false, "print what the harness does")
		server    = fs.String("server", "", "start the engine's server with this `CMD` for each scenario ({dir} = a fresh state directory), stop it after, and kill it where a scenario says so (target: server); with {node} in CMD, one node per address, {node} = 0, 1, ...")
		powerLoss = fs.Bool("power-loss", false, "also run the built-in power-loss scenarios (they mount a FUSE file system, which needs root and /dev/fuse; named with --scenario, they always run)")
		quiet     = fs.Bool("quiet", false, "print no progress on stderr (also -q)")
		serverAdr = fs.String("server-addr", "", "the `HOST:PORT` --server listens on, or one per node with {node} (default: the addresses of a nats:// or kafka:// --impl)")
	)
	fs.Var(&scenarios, "scenario", "built-in scenario `NAME` or scenario FILE to run (repeatable; default: all built-ins)")
	fs.Var(&seed, "seed", "override every scenario's seed with `N`")
	fs.BoolVar(quiet, "q", false, "print no progress (same as --quiet)")
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprintf(w, "usage: klcheck [flags]\n       klcheck adapter [--mutant NAME | --engine URL]\n\nflags (one dash or two):\n")
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitPass
		}
		fmt.Fprintf(stderr, "klcheck: %v\n", err)
		usage(stderr)
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "klcheck: unexpected argument %q\n", fs.Arg(0))
		usage(stderr)
		return exitError
	}
	errorf := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "klcheck: "+format+"\n", args...)
		return exitError
	}

	var scs []*scenario.Scenario
	if len(scenarios) == 0 {
		all, err := scenario.Builtin()
		if err != nil {
			return errorf("built-in scenarios: %v", err)
		}
		for _, sc := range all {
			if *powerLoss || !sc.HasPowerLoss() {
				scs = append(scs, sc)
			}
		}
	} else {
		for _, s := range scenarios {
			sc, err := scenario.Lookup(s)
			if err != nil {
				return errorf("%v", err)
			}
			scs = append(scs, sc)
		}
	}
	if *list {
		if err := report.WriteCheckList(stdout, scs); err != nil {
			return errorf("write: %v", err)
		}
		return exitPass
	}

	im, err := run.ResolveImpl(*impl, "")
	if err != nil {
		return errorf("%v", err)
	}
	srv, err := serverSpec(*server, *serverAdr, *impl)
	if err != nil {
		return errorf("%v", err)
	}
	if *out != "" {
		if err := probeDir(*out); err != nil {
			return errorf("--out %s is not writable: %v", *out, err)
		}
	}

	// Progress goes to stderr, so stdout holds only the table and the
	// verdict; -q silences it.
	var progressOut io.Writer = stderr
	if *quiet {
		progressOut, tty = io.Discard, false
	}
	progress := report.NewCheckProgress(progressOut, tty)
	meta := report.CheckMeta{Tool: "klcheck", Args: args, Impl: im, Quick: *quick, Started: time.Now(),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	meta.Host, _ = os.Hostname()
	if seed.set {
		meta.Seed = &seed.v
	}
	if *verbose {
		fmt.Fprintf(stderr, "klcheck: impl %s\n", im)
	}
	var results []*run.Result
	harnessErr := false
	usedDirs := map[string]bool{}
	for i, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		opts := run.Options{Impl: im, Seed: seed.v, SeedSet: seed.set, Quick: *quick, Keep: *keep, Progress: progress.Update, Server: srv}
		if *verbose {
			opts.Logf = func(format string, args ...any) {
				progress.Clear()
				fmt.Fprintf(stderr, "klcheck: "+format+"\n", args...)
			}
		}
		if *out != "" {
			name := sc.Name
			for n := 2; usedDirs[name]; n++ {
				name = fmt.Sprintf("%s-%d", sc.Name, n)
			}
			usedDirs[name] = true
			opts.OutDir = filepath.Join(*out, name)
		}
		s := sc.Seed
		if seed.set {
			s = seed.v
		}
		progress.Start(i+1, len(scs), sc.Name, s)
		res, err := run.Run(ctx, sc, opts)
		progress.Done(res)
		if err != nil {
			harnessErr = true
		}
		if *keep {
			progress.Clear()
			fmt.Fprintf(stderr, "klcheck: kept %s's topic directory %s\n", sc.Name, res.TopicDir)
		}
		results = append(results, res)
	}
	progress.Clear()
	if err := progress.Err(); err != nil {
		return errorf("write progress: %v", err)
	}
	fmt.Fprintln(stdout)
	if err := report.WriteCheckTable(stdout, results); err != nil {
		return errorf("write the results table: %v", err)
	}
	meta.Finished = time.Now()
	if *out != "" {
		path := filepath.Join(*out, "results.json")
		if err := report.WriteCheckResults(path, meta, results); err != nil {
			return errorf("%v", err)
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "klcheck: interrupted")
		return exitError
	case harnessErr:
		return exitError
	}
	for _, r := range results {
		if r.Status == run.StatusFail {
			return exitAnomaly
		}
	}
	return exitPass
}

// serverSpec turns --server and --server-addr into a run.Server (nil
// without --server). The address defaults to the first host:port of an
// engine URL given as --impl. With {node} in the command line the server
// is a cluster: one node per address of --server-addr (comma-separated)
// or of the URL, node I on address I.
func serverSpec(cmdline, addr, impl string) (*run.Server, error) {
	if cmdline == "" {
		if addr != "" {
			return nil, errors.New("--server-addr needs --server")
		}
		return nil, nil
	}
	argv, err := shlex.Split(cmdline)
	if err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("--server %q: not a command line", cmdline)
	}
	nodes := strings.Contains(cmdline, run.ServerNodePlaceholder)
	var addrs []string
	switch {
	case addr != "":
		addrs = strings.Split(addr, ",")
	case nodes:
		if addrs = engine.Hosts(impl); len(addrs) == 0 {
			return nil, errors.New("--server with {node} needs --server-addr HOST:PORT,HOST:PORT... unless --impl is a nats:// or kafka:// URL with one address per node")
		}
	default:
		if addr = engine.FirstAddr(impl); addr == "" {
			return nil, errors.New("--server needs --server-addr HOST:PORT unless --impl is a nats:// or kafka:// URL")
		}
		addrs = []string{addr}
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("--server-addr %q: %v", a, err)
		}
	}
	switch {
	case nodes && len(addrs) < 2:
		return nil, fmt.Errorf("--server has {node}, but there is only one address (%s): a cluster needs one address per node, in --server-addr or the --impl URL", addrs[0])
	case !nodes && addr != "" && len(addrs) > 1:
		return nil, fmt.Errorf("--server-addr names %d addresses, but --server has no {node}: add {node} to run one server per address, or give one address", len(addrs))
	}
	srv := &run.Server{Argv: argv, Addr: addrs[0]}
	if nodes {
		srv.Nodes = addrs
		ready, leader := engine.ClusterProbes(impl)
		srv.Ready = ready
		if leader != nil {
			srv.Leader = func(ctx context.Context) (int, error) {
				name, err := leader(ctx)
				if err != nil {
					return -1, err
				}
				return nodeIndex(name, len(addrs))
			}
		}
	}
	return srv, nil
}

// nodeIndex maps a klnats server name ("n2") to its node index.
func nodeIndex(name string, n int) (int, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
	if err != nil || !strings.HasPrefix(name, "n") || i < 0 || i >= n {
		return -1, fmt.Errorf("leader %q is not a node name n0..n%d", name, n-1)
	}
	return i, nil
}

// probeDir creates dir and checks that a file can be written in it.
func probeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".klcheck-probe-*")
	if err != nil {
		return err
	}
	_, werr := f.WriteString("probe\n")
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	_ = os.Remove(f.Name())
	if werr != nil {
		return werr
	}
	return cerr
}
