// Package run is klcheck's orchestrator: it runs one scenario against an
// implementation through the adapter protocol, one child process per
// client, injects the scenario's faults (kills, pauses, file-size limits),
// records every operation into a history, drains the log with fresh
// consumers, and runs the checks over the history.
//
// It never prints: progress and diagnostics go to the caller through
// Options callbacks, Result and *HarnessError.
package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/lazyfs"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// Options configure one scenario run.
type Options struct {
	// Impl is the implementation's client command (see ResolveImpl).
	Impl Impl
	// Seed overrides the scenario's seed when SeedSet.
	Seed    int64
	SeedSet bool
	// Quick runs the scenario scaled down (scenario.Scaled).
	Quick bool
	// Keep keeps the topic directory after the run.
	Keep bool
	// OutDir, when set, receives history.jsonl and clients/*.log for this
	// scenario.
	OutDir string
	// TempDir is where topic directories are made ("" = os.TempDir()).
	TempDir string
	// Progress, when set, is called about every ProgressEvery with a
	// snapshot of the run.
	Progress func(Progress)
	// ProgressEvery is the interval of Progress calls (default 250ms).
	ProgressEvery time.Duration
	// Logf, when set, receives verbose notes about the run.
	Logf func(format string, args ...any)
	// Server, when set, is the engine's server: Run starts it before the
	// clients, stops it after the drain, and applies the scenario's server
	// faults to it. A scenario with server faults is skipped without it.
	Server *Server
	// SpillOps is how many history operations the run keeps in memory
	// before it writes them to a spill file in its temporary directory
	// (0 = DefaultSpillOps). The checks read the spilled history back.
	SpillOps int
}

// HistoryValueMax is how many bytes of each value history.jsonl keeps.
const HistoryValueMax = 120

// runner is the state of one scenario run.
type runner struct {
	sc    *scenario.Scenario
	opts  Options
	impl  Impl
	rec   *recorder
	procs *procSet
	// recorders counts the goroutines that may still add to the history
	// on their own (a client's exit watcher, a pause's resume timer): the
	// history is sealed only once they are done.
	recorders sync.WaitGroup

	faults    *faultSet
	server    *serverProc // nil unless Options.Server
	topicRoot string
	topic     string
	config    protocol.Config
	opTimeout time.Duration
	maxLine   int

	cancel        context.CancelFunc // ends the whole run
	producersDone chan struct{}

	// machine is the lazy file system of a scenario with power-loss faults
	// (nil otherwise). gate is held for reading while a client process
	// starts and while a server fault runs, and for writing by a power
	// loss, so that nothing starts while the machine is down.
	machine *machine
	gate    sync.RWMutex
	// bg counts the power losses fired from the rotation watch, which
	// run on their own goroutines.
	bg sync.WaitGroup

	mu       sync.Mutex
	implName string
	firstErr error
	logs     []*stderrLog
	clients  []*client
	nclients int
	curPhase string
	// faultCtx ends when the main phase's faults must stop firing (nil
	// before the main phase); rotation is the running rotation watch.
	faultCtx context.Context
	rotation *rotationWatch
}

// Run runs scenario sc (scaled for opts.Quick, with opts' seed) against
// opts.Impl and returns its result. A returned error is a *HarnessError
// (the implementation could not be run, broke the protocol, or an output
// could not be written); the Result is then still returned, with
// StatusError. Run kills and reaps every process it started on every
// path, including a cancelled ctx.
func Run(ctx context.Context, sc *scenario.Scenario, opts Options) (res *Result, err error) {
	sc = sc.Scaled(opts.Quick)
	if opts.SeedSet {
		sc.Seed = opts.Seed
	}
	began := time.Now()
	res = &Result{Scenario: sc.Name, Description: sc.Description, File: sc.File, Seed: sc.Seed,
		Quick: opts.Quick, Impl: opts.Impl, OutDir: opts.OutDir, Server: opts.Server}
	if len(opts.Impl.Argv) == 0 {
		err := &HarnessError{Scenario: sc.Name, Kind: "start", Detail: "no implementation command"}
		res.Status, res.Reason = StatusError, err.Error()
		return res, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &runner{
		sc: sc, opts: opts, impl: opts.Impl, rec: newRecorder(began, sc.Histograms), procs: newProcSet(),
		faults: newFaultSet(sc), topic: "t", cancel: cancel, producersDone: make(chan struct{}),
		opTimeout: time.Duration(sc.Timeouts.OpMS) * time.Millisecond, maxLine: maxLineFor(sc),
		config: protocol.Config{ChunkRecords: sc.Topic.ChunkRecords, ChunkBytes: sc.Topic.ChunkBytes,
			RetainChunks: sc.Topic.RetainChunks, RetainBytes: sc.Topic.RetainBytes, Fsync: sc.Topic.Fsync},
	}
	r.rec.onProblem = r.historyProblem
	defer func() {
		if v := recover(); v != nil {
			err = &HarnessError{Scenario: sc.Name, Kind: "internal", Detail: fmt.Sprintf("panic: %v\n%s", v, debug.Stack())}
			res.Status, res.Reason = StatusError, err.Error()
		}
		if stuck := r.procs.killAll(reapTimeout); len(stuck) > 0 && err == nil {
			err = &HarnessError{Scenario: sc.Name, Kind: "internal", Detail: fmt.Sprintf("could not reap client processes %v", stuck)}
			res.Status, res.Reason = StatusError, err.Error()
		}
		res.Duration = time.Since(began)
	}()

	if serverFaults(sc) && opts.Server == nil {
		res.Status = StatusSkip
		res.Reason = "the scenario kills or pauses the engine's server, and klcheck did not start one: run it with --server CMD (see docs/ENGINES.md)"
		if opts.Impl.IsRef() {
			res.Reason = "the scenario kills or pauses the engine's server, and the reference log has none (its clients are the whole implementation)"
		}
		return res, nil
	}

	if sc.NeedsNodes() && (opts.Server == nil || len(opts.Server.Nodes) < 2) {
		res.Status = StatusSkip
		res.Reason = "the scenario kills or pauses one node of a clustered server (node: random or leader), and klcheck did not start one: run it with --server 'CMD … {node} …' and one address per node (see docs/ENGINES.md)"
		return res, nil
	}

	lossy := powerLossFaults(sc)
	if lossy {
		if why := powerLossSkip(opts); why != "" {
			res.Status, res.Reason = StatusSkip, why
			return res, nil
		}
	}

	dir, err := os.MkdirTemp(opts.TempDir, "klcheck-"+sc.Name+"-")
	if err != nil {
		he := &HarnessError{Scenario: sc.Name, Kind: "output", Detail: fmt.Sprintf("create the topic directory: %v", err), Err: err}
		res.Status, res.Reason = StatusError, he.Error()
		return res, he
	}
	// Clients get dir/data (dir/mnt/data on lazyfs); anything else that
	// appears in dir was written outside the directory they were given.
	data := filepath.Join(dir, dataDirName)
	if !lossy {
		if err := os.Mkdir(data, 0o755); err != nil {
			he := &HarnessError{Scenario: sc.Name, Kind: "output", Detail: fmt.Sprintf("create the topic directory: %v", err), Err: err}
			res.Status, res.Reason = StatusError, he.Error()
			return res, he
		}
	}
	r.topicRoot, res.TopicDir = data, data
	if !opts.Keep {
		defer func() {
			r.procs.killAll(reapTimeout)
			if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
				r.logf("remove %s: %v", dir, rmErr)
			}
		}()
	}
	if lossy {
		m, merr := mountMachine(dir, opts.Server != nil)
		if merr != nil {
			he := &HarnessError{Scenario: sc.Name, Kind: "start", Detail: fmt.Sprintf("mount lazyfs for the power losses: %v", merr), Err: merr}
			res.Status, res.Reason = StatusError, he.Error()
			return res, he
		}
		r.machine = m
		r.topicRoot = filepath.Join(m.mountpoint(), dataDirName)
		// After the unmount the mount point is empty: what survived is
		// in the backing directory.
		res.TopicDir = filepath.Join(m.backing, dataDirName)
		defer func() {
			// Every process on the mount must be gone first; the server's
			// deferred stop ran already.
			r.procs.killAll(reapTimeout)
			if r.server != nil {
				r.server.stop()
			}
			if uerr := m.fs.Unmount(); uerr != nil {
				he := &HarnessError{Scenario: sc.Name, Kind: "internal", Detail: fmt.Sprintf("unmount lazyfs: %v", uerr), Err: uerr}
				if err == nil {
					res.Status, res.Reason, err = StatusError, he.Error(), he
				} else {
					r.logf("%v", he)
				}
			}
		}()
		r.logf("scenario %s: lazyfs on %s, backed by %s", sc.Name, m.mountpoint(), m.backing)
	}
	r.rec.spill(filepath.Join(dir, spillFileName), opts.SpillOps)
	defer r.rec.close()
	if opts.OutDir != "" {
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			he := r.outputError(fmt.Errorf("create %s: %w", opts.OutDir, err))
			res.Status, res.Reason = StatusError, he.Error()
			return res, he
		}
	}
	r.logf("scenario %s: seed %d, topic directory %s, impl %s", sc.Name, sc.Seed, dir, r.impl)
	if opts.Server != nil {
		if he := r.startServer(dir); he != nil {
			res.Status, res.Reason = StatusError, he.Error()
			return res, he
		}
		defer func() {
			if !r.server.stop() && err == nil {
				err = &HarnessError{Scenario: sc.Name, Client: serverRole, Kind: "internal", Detail: "could not reap the server process"}
				res.Status, res.Reason = StatusError, err.Error()
			}
		}()
	}

	stopProgress := r.startProgress(ctx)
	note := r.mainPhase(ctx)
	if parent.Err() != nil {
		// Interrupted (Ctrl-C): a history without its drain proves nothing,
		// so neither drain nor check it.
		r.wrap(&HarnessError{Scenario: sc.Name, Kind: "interrupted", Detail: "the run was interrupted", Err: parent.Err()})
	}
	if r.error() == nil {
		r.phase("drain")
		r.wrap(r.drain(ctx))
	}
	stopProgress()
	r.procs.killAll(reapTimeout)
	if r.server != nil {
		// Now, not only in the deferred stop: its log must be complete
		// before writeOutputs checks it. A failure to reap is reported by
		// the deferred stop.
		r.server.stop()
	}
	stray := strayEntries(dir)
	if r.machine != nil {
		stray = append(stray, strayBacking(r.machine.backing)...)
	}
	if len(stray) > 0 {
		r.wrap(&HarnessError{Scenario: sc.Name, Kind: "stray-write",
			Detail: fmt.Sprintf("the implementation wrote outside the directory it was given (%s): %s", data, strings.Join(stray, ", "))})
	}

	if r.machine != nil && r.machine.lost() == 0 {
		// Say so: the durability checks had nothing to judge. (A rotation
		// trigger never fires for an engine, whose clients leave their
		// directory empty.)
		note = strings.TrimSpace(note + " No power loss fired, so nothing was checked across one.")
	}
	res.Note = note
	res.ImplName = r.name()
	// A client paused at the end resumes, and is recorded, when its pause
	// is over.
	if bound := reapTimeout + longestClientPause(sc); !waitFor(&r.recorders, bound) {
		r.wrap(&HarnessError{Scenario: sc.Name, Kind: "internal", Detail: "a client's exit or resume was still being recorded " + bound.String() + " after the run"})
	}
	if ferr := r.rec.finish(); ferr != nil {
		r.wrap(r.outputError(ferr))
	}
	res.Counts = r.rec.snapshot()
	res.PowerLosses = r.machine.powerLossResults()
	res.Latency = r.rec.latencies()
	res.ErrorTypes = r.rec.errorTypes()
	if werr := r.writeOutputs(); werr != nil {
		r.wrap(werr)
	}
	var skip *skipError
	var he *HarnessError
	switch ferr := r.error(); {
	case errors.As(ferr, &skip):
		res.Status, res.Reason = StatusSkip, skip.reason
		return res, nil
	case errors.As(ferr, &he):
		res.Status, res.Reason = StatusError, he.Error()
		return res, he
	case ferr != nil:
		he = &HarnessError{Scenario: sc.Name, Kind: "internal", Detail: ferr.Error(), Err: ferr}
		res.Status, res.Reason = StatusError, he.Error()
		return res, he
	}
	h, herr := r.rec.readAll()
	if herr != nil {
		he := r.outputError(herr)
		res.Status, res.Reason = StatusError, he.Error()
		return res, he
	}
	res.History = h
	checks, cerr := check.Run(h, sc.Checks, checkOptions(sc))
	if cerr != nil {
		he := &HarnessError{Scenario: sc.Name, Kind: "config", Detail: cerr.Error(), Err: cerr}
		res.Status, res.Reason = StatusError, he.Error()
		return res, he
	}
	res.Checks = checks
	res.Status = StatusPass
	for _, c := range checks {
		if c.Status == check.Fail {
			res.Status = StatusFail
		}
	}
	return res, nil
}

// dataDirName is the directory, inside a run's temporary directory, that
// clients are given in init; serverDirName is the server's {dir}, and
// serverLogDirName holds its logs when there is no OutDir.
const (
	dataDirName      = "data"
	serverDirName    = "server"
	serverLogDirName = "server-logs"
)

// startServer starts Options.Server for this scenario, with its state in
// dir/server. Something already listening on its address is an error: the
// clients would talk to that instead, and the faults would miss it.
func (r *runner) startServer(dir string) *HarnessError {
	spec := *r.opts.Server
	fail := func(detail string, err error) *HarnessError {
		return &HarnessError{Scenario: r.sc.Name, Client: serverRole, Kind: "start", Detail: detail, Impl: strings.Join(spec.Argv, " "), Err: err}
	}
	if len(spec.Argv) == 0 || spec.Addr == "" {
		return fail("the server needs a command line and an address", nil)
	}
	if len(spec.Nodes) > 1 && !slices.ContainsFunc(spec.Argv, func(a string) bool { return strings.Contains(a, ServerNodePlaceholder) }) {
		return fail(fmt.Sprintf("%d server nodes need %s in the command line, so that each runs as itself", len(spec.Nodes), ServerNodePlaceholder), nil)
	}
	for _, addr := range spec.addrs() {
		if listening(addr) {
			return fail(fmt.Sprintf("something already listens on %s; with --server, klcheck starts the server itself (stop the other one, or drop --server)", addr), nil)
		}
	}
	state := filepath.Join(dir, serverDirName)
	if r.machine != nil {
		state = filepath.Join(r.machine.mountpoint(), serverDirName)
	}
	logDir := r.opts.OutDir
	if logDir == "" {
		logDir = filepath.Join(dir, serverLogDirName)
	}
	for _, d := range []string{state, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(fmt.Sprintf("create %s: %v", d, err), err)
		}
	}
	r.server = newServer(r, spec, state, logDir)
	if err := r.server.start(context.Background(), spec.readyTimeout()); err != nil {
		var he *HarnessError
		if errors.As(err, &he) {
			return he
		}
		return fail(err.Error(), err)
	}
	return nil
}

// strayEntries lists what is in a run's temporary directory besides the
// clients' data directory.
func strayEntries(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{fmt.Sprintf("(cannot list %s: %v)", dir, err)}
	}
	var out []string
	for _, e := range ents {
		switch e.Name() {
		case dataDirName, serverDirName, serverLogDirName, spillFileName, diskDirName, mountDirName:
		default:
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// strayBacking lists what is in the lazyfs backing directory besides the
// clients' and the server's directories (and lazyfs's own stash).
func strayBacking(backing string) []string {
	ents, err := os.ReadDir(backing)
	if err != nil {
		return []string{fmt.Sprintf("(cannot list %s: %v)", backing, err)}
	}
	var out []string
	for _, e := range ents {
		switch e.Name() {
		case dataDirName, serverDirName, lazyfs.StashName:
		default:
			out = append(out, filepath.Join(backing, e.Name()))
		}
	}
	return out
}

// mainPhase runs the producers, consumers and faults until the producers
// are done and the consumers caught up, or run_s is over. It returns a
// note when the bound was hit.
func (r *runner) mainPhase(ctx context.Context) string {
	runS := time.Duration(r.sc.Timeouts.RunS) * time.Second
	mctx, cancel := context.WithTimeout(ctx, runS)
	defer cancel()
	var producers, consumers, faults sync.WaitGroup
	spawn := func(wg *sync.WaitGroup, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			defer func() { r.wrap(err) }()
			defer r.recoverInto(&err)
			err = fn()
		}()
	}
	for _, g := range r.sc.Producers {
		for i := range g.Count {
			c := r.newClient(g.ClientName(i), roleProducer, "", phaseMain)
			spawn(&producers, func() error { return r.runProducer(mctx, c, g, i) })
		}
	}
	for _, g := range r.sc.Consumers {
		for i := range g.Count {
			c := r.newClient(g.ClientName(i), roleConsumer, g.GroupFor(i), phaseMain)
			spawn(&consumers, func() error { return r.runConsumer(mctx, c, g) })
		}
	}
	fctx, stopFaults := context.WithCancel(mctx)
	defer stopFaults()
	r.mu.Lock()
	r.faultCtx = fctx
	r.mu.Unlock()
	rotation := false
	for _, fs := range r.faults.faults {
		switch fs.f.Trigger {
		case scenario.TriggerRandom:
			spawn(&faults, func() error { r.randomLoop(fctx, fs); return nil })
		case scenario.TriggerRotation:
			rotation = true
		}
	}
	if rotation {
		if err := r.startRotationWatch(); err != nil {
			r.wrap(&HarnessError{Scenario: r.sc.Name, Kind: "internal", Detail: fmt.Sprintf("watch for rotations: %v", err), Err: err})
		} else {
			defer r.stopRotationWatch()
		}
	}
	go func() {
		producers.Wait()
		close(r.producersDone)
	}()
	producers.Wait()
	consumers.Wait()
	stopFaults()
	// The watch's goroutine may be starting a power loss: once it is
	// stopped, bg counts every power loss still under way (one of them may
	// start a new watch, which the deferred stop ends).
	r.stopRotationWatch()
	faults.Wait()
	r.bg.Wait()
	if errors.Is(mctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Sprintf("the main phase hit its bound of run_s=%ds before the producers finished and the consumers caught up", r.sc.Timeouts.RunS)
	}
	return ""
}

// newClient registers a client of the run.
func (r *runner) newClient(name, role, group, phase string) *client {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &client{r: r, name: name, role: role, group: group, phase: phase, index: r.nclients}
	r.nclients++
	if phase == phaseMain {
		for _, f := range r.sc.Faults {
			if f.Kind != scenario.FaultRlimit {
				continue
			}
			fs := faultState{f: f}
			if fs.matches(c) && (c.fsize == 0 || f.FsizeBytes < c.fsize) {
				c.fsize = f.FsizeBytes
			}
		}
	}
	r.clients = append(r.clients, c)
	return c
}

// clientList returns the run's clients.
func (r *runner) clientList() []*client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*client(nil), r.clients...)
}

// producersFinished tells whether every producer has finished.
func (r *runner) producersFinished() bool {
	select {
	case <-r.producersDone:
		return true
	default:
		return false
	}
}

// wrap records the run's first error (a skip or a harness error) and
// stops the run.
func (r *runner) wrap(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
	r.cancel()
}

// error returns the run's first error.
func (r *runner) error() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

// recoverInto turns a panic of a run goroutine into a harness error.
func (r *runner) recoverInto(err *error) {
	if v := recover(); v != nil {
		*err = &HarnessError{Scenario: r.sc.Name, Kind: "internal", Detail: fmt.Sprintf("panic: %v\n%s", v, debug.Stack())}
	}
}

// setImplName remembers the implementation's name from an init reply.
func (r *runner) setImplName(name string) {
	r.mu.Lock()
	if r.implName == "" {
		r.implName = name
	}
	r.mu.Unlock()
}

func (r *runner) name() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.implName
}

func (r *runner) addLog(l *stderrLog) {
	r.mu.Lock()
	r.logs = append(r.logs, l)
	r.mu.Unlock()
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// outputError is a harness error writing klcheck's own output.
func (r *runner) outputError(err error) *HarnessError {
	return &HarnessError{Scenario: r.sc.Name, Kind: "output", Detail: err.Error(), Err: err}
}

// historyProblem stops the run when the recorder cannot go on: the
// history outgrew the bounds klcheck can check (a harness error of kind
// "limit"), or its spill file could not be written ("output").
func (r *runner) historyProblem(err error) {
	var hf *historyFullError
	if errors.As(err, &hf) {
		r.wrap(&HarnessError{Scenario: r.sc.Name, Kind: "limit", Err: err,
			Detail: err.Error() + ". The scenario's clients made many more operations than its sizes let klcheck expect: " +
				"a consumer polling an idle log with a short poll_timeout_ms for a long run_s, say, or one that restarts without acks and reads everything again. " +
				"Lower run_s, raise poll_timeout_ms, or ack"})
		return
	}
	r.wrap(r.outputError(err))
}

// writeOutputs writes history.jsonl, reading the history back from the
// recorder one op at a time, and checks the client logs' writes.
func (r *runner) writeOutputs() error {
	if r.opts.OutDir == "" {
		return nil
	}
	r.mu.Lock()
	logs := append([]*stderrLog(nil), r.logs...)
	r.mu.Unlock()
	for _, l := range logs {
		l.waitClosed(time.Second)
		if err := l.err(); err != nil {
			return r.outputError(err)
		}
	}
	path := filepath.Join(r.opts.OutDir, "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return r.outputError(fmt.Errorf("create history: %w", err))
	}
	w := history.NewWriter(f, HistoryValueMax)
	werr := r.rec.each(w.Write)
	if werr == nil {
		werr = w.Flush()
	}
	cerr := f.Close()
	if werr != nil {
		return r.outputError(fmt.Errorf("%s: %w", path, werr))
	}
	if cerr != nil {
		return r.outputError(fmt.Errorf("close %s: %w", path, cerr))
	}
	return nil
}

// phase sets the current phase, for progress.
func (r *runner) phase(p string) {
	r.mu.Lock()
	r.curPhase = p
	r.mu.Unlock()
}

// startProgress calls opts.Progress periodically until the returned stop
// function is called.
func (r *runner) startProgress(ctx context.Context) func() {
	if r.opts.Progress == nil {
		return func() {}
	}
	every := r.opts.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				r.mu.Lock()
				ph := r.curPhase
				r.mu.Unlock()
				if ph == "" {
					ph = phaseMain
				}
				r.opts.Progress(Progress{Scenario: r.sc.Name, Phase: ph, Elapsed: time.Since(r.rec.start), Counts: r.rec.snapshot()})
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// maxLineFor bounds a reply line of sc's clients: room for a full poll of
// its largest values, at least 16 MiB, at most protocol.MaxLine.
func maxLineFor(sc *scenario.Scenario) int {
	size := 0
	for _, g := range sc.Producers {
		z := g.Size
		size = max(size, z.Fixed, z.Range[1], z.Range[0])
		for _, v := range z.List {
			size = max(size, v)
		}
	}
	pollMax := scenario.DefaultPollMax
	for _, g := range sc.Consumers {
		pollMax = max(pollMax, g.PollMax)
	}
	need := int64(pollMax)*int64(size+64)*11/10 + 1<<20
	return int(min(max(need, 16<<20), protocol.MaxLine))
}

// checkOptions derives the checks' options from the scenario.
func checkOptions(sc *scenario.Scenario) check.Options {
	o := check.Options{Retention: sc.Topic.RetainChunks > 0 || sc.Topic.RetainBytes > 0, MayFail: map[string]bool{}, Fsync: sc.Topic.Fsync}
	for _, f := range sc.Faults {
		if f.Target == scenario.TargetServer {
			// While the server is down, a client may rightly answer
			// ok:false ("no server"): nothing happened.
			o.MayFail["*"] = true
		}
		if f.Kind != scenario.FaultRlimit {
			continue
		}
		switch f.Target {
		case scenario.TargetProducers, scenario.TargetConsumers, scenario.TargetAny:
			o.MayFail["*"] = true
		default:
			o.MayFail[f.Target] = true
		}
	}
	for _, g := range sc.Consumers {
		if g.Ack != scenario.AckNone {
			o.MaxRedeliveryPerCrash = max(o.MaxRedeliveryPerCrash, g.PollMax)
		}
	}
	return o
}

// waitFor waits for wg up to timeout and reports whether it is done.
func waitFor(wg *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// longestClientPause is the longest pause sc's faults give a client.
func longestClientPause(sc *scenario.Scenario) time.Duration {
	var d time.Duration
	for _, f := range sc.Faults {
		if f.Kind == scenario.FaultPause && f.Target != scenario.TargetServer {
			d = max(d, time.Duration(f.PauseMS)*time.Millisecond)
		}
	}
	return d
}
