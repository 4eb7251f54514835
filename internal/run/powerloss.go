package run

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/lazyfs"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// A scenario with a power-loss fault runs on internal/lazyfs: the run's
// temporary directory holds the backing directory (the "disk") and the
// mount point, and the clients' directory and the server's state are inside
// the mount, so that a power loss reaches both:
//
//	DIR/disk/            backing directory: what a power loss leaves
//	DIR/mnt/             lazyfs mount of DIR/disk
//	DIR/mnt/data/        the clients' dir (init)
//	DIR/mnt/server/      the server's {dir} (--server)
//
// data/ and server/ are made in the backing directory before the mount, so
// they are durable: an implementation is responsible only for what it
// makes inside them.
const (
	diskDirName  = "disk"
	mountDirName = "mnt"
)

// powerStream offsets the PCG streams of power losses (one per firing)
// from the clients' and the faults' streams.
const powerStream = 1 << 40

// PowerLossResult is one power loss of a run, for results.json and the
// report; the history holds the full account (history.FPowerLoss).
type PowerLossResult struct {
	// Index counts the run's power losses from 1.
	Index int `json:"index"`
	// AtNS is when the last SIGKILL was sent, since the start of the run;
	// DurationNS how long until the file system was back.
	AtNS       int64 `json:"at_ns"`
	DurationNS int64 `json:"duration_ns"`
	// Mode and Trigger: how unsynced data was dropped, and what fired it.
	Mode    string `json:"mode"`
	Trigger string `json:"trigger"`
	// Killed is how many client processes (and servers) were running.
	Killed int `json:"killed"`
	// DroppedBytes, Files and Entries: unsynced bytes that did not
	// survive, files that lost or got back data, directory entries undone.
	DroppedBytes int64 `json:"dropped_bytes"`
	Files        int   `json:"files"`
	Entries      int   `json:"entries"`
}

// machine is the simulated machine of a run with power-loss faults: its
// lazy file system and the count of its power losses.
type machine struct {
	fs      *lazyfs.FS
	backing string // DIR/disk
	busy    atomic.Bool

	mu      sync.Mutex
	n       int // power losses so far
	results []PowerLossResult
}

// inProgress tells whether a power loss is under way.
func (m *machine) inProgress() bool { return m != nil && m.busy.Load() }

// lost tells how many power losses the machine has had.
func (m *machine) lost() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// powerLossFaults tells whether sc has a power-loss fault.
func powerLossFaults(sc *scenario.Scenario) bool {
	for _, f := range sc.Faults {
		if f.Kind == scenario.FaultPowerLoss {
			return true
		}
	}
	return false
}

// powerLossSkip returns why a scenario with power-loss faults cannot run
// here, or "".
func powerLossSkip(opts Options) string {
	if opts.Server == nil && opts.Impl.IsEngine() {
		return "the scenario simulates a power loss, and the engine's server keeps its data where klcheck cannot drop it: run it with --server CMD and {dir} (docs/ENGINES.md), so that the server's state is on the lazy file system"
	}
	if err := lazyfs.Available(); err != nil {
		return "the scenario simulates a power loss, which needs lazyfs: " + err.Error()
	}
	return ""
}

// mountMachine makes DIR/disk with data/ (and server/ with a server) in
// it, mounts lazyfs from it on DIR/mnt, and returns the machine.
func mountMachine(dir string, server bool) (*machine, error) {
	backing, mnt := filepath.Join(dir, diskDirName), filepath.Join(dir, mountDirName)
	dirs := []string{backing, mnt, filepath.Join(backing, dataDirName)}
	if server {
		dirs = append(dirs, filepath.Join(backing, serverDirName))
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
	if err != nil {
		return nil, err
	}
	return &machine{fs: fs, backing: backing}, nil
}

// mountpoint is the top of the lazy file system.
func (m *machine) mountpoint() string { return m.fs.Mountpoint() }

// firePowerLoss fires power-loss fault fs now, unless a power loss is
// already in progress or the fault's coin says no; it reports whether the
// machine lost power.
func (r *runner) firePowerLoss(fs *faultState, reason string) bool {
	m := r.machine
	if m == nil || m.inProgress() || !r.faultsLive() || !fs.tryFire() {
		return false
	}
	return r.powerLoss(fs, reason)
}

// faultsLive tells whether the main phase's faults may still fire.
func (r *runner) faultsLive() bool {
	r.mu.Lock()
	ctx := r.faultCtx
	r.mu.Unlock()
	return ctx != nil && ctx.Err() == nil
}

// powerLoss simulates a power loss for fault fs (which has fired): it
// SIGKILLs every client process and then the server, reaps them, drops what
// was not durable, records it, keeps the machine down restart_after_ms, and
// starts the server again. No client process starts meanwhile (r.gate);
// every client that was killed starts again by itself once the gate opens.
// A failure is a harness error that ends the run. It reports whether the
// power loss happened.
func (r *runner) powerLoss(fs *faultState, reason string) bool {
	m := r.machine
	if !m.busy.CompareAndSwap(false, true) {
		return false
	}
	defer m.busy.Store(false)
	r.gate.Lock()
	defer r.gate.Unlock()
	m.mu.Lock()
	m.n++
	n := m.n
	m.mu.Unlock()

	why := fmt.Sprintf("power loss %d (%s): %s", n, fs.f.Mode, reason)
	plan := &restartPlan{} // the gate holds them back until the machine is up
	var killed []string
	var procs []*process
	for _, c := range r.clientList() {
		p := c.current()
		if p == nil || p.exited() {
			continue
		}
		procs = append(procs, p)
		if c.kill(p, why, plan) {
			killed = append(killed, fmt.Sprintf("%s#%d", c.name, p.session))
		}
	}
	var sps []*process
	var serverKills []history.Op
	if r.server != nil {
		sps = r.server.running()
		if len(sps) > 0 {
			r.server.markFaulted()
		}
		for _, sp := range sps {
			op := r.server.op(history.FKill, sp.session)
			op.Invoke = r.rec.now()
			sp.kill(nil)
			serverKills = append(serverKills, op)
			killed = append(killed, fmt.Sprintf("%s#%d", serverRole, sp.session))
		}
	}
	invoke := r.rec.now()
	fail := func(detail string, err error) bool {
		r.wrap(&HarnessError{Scenario: r.sc.Name, Kind: "power-loss", Detail: fmt.Sprintf("%s: %s", why, detail), Err: err})
		return true
	}
	for _, p := range procs {
		if !p.reap(reapTimeout) {
			return fail(fmt.Sprintf("client process %d did not die of SIGKILL within %v", p.pid, reapTimeout), nil)
		}
	}
	for i, sp := range sps {
		if !sp.reap(reapTimeout) {
			return fail(fmt.Sprintf("the server process %d did not die of SIGKILL within %v", sp.pid, reapTimeout), nil)
		}
		serverKills[i].Complete, serverKills[i].Error = r.rec.now(), why
		r.rec.add(serverKills[i], "")
	}
	// What polls delivered before may be gone: the drain must not wait
	// for offsets that only the machine's earlier life had.
	r.rec.powerLoss(invoke)
	watching := r.stopRotationWatch()
	rng := rand.New(rand.NewPCG(uint64(r.sc.Seed), powerStream+uint64(fs.index)<<20+uint64(n)))
	rep, err := m.fs.PowerLoss(lazyfs.Mode(fs.f.Mode), rng)
	if err != nil {
		if errors.Is(err, lazyfs.ErrBusy) {
			return fail("a process still uses the lazy file system, so the power loss could not happen (a client's child that outlived it?)", err)
		}
		return fail(fmt.Sprintf("lazyfs: %v", err), err)
	}
	loss := lossOf(rep, killed)
	op := history.Op{Client: history.MachineClient, Session: n, Role: history.MachineClient, F: history.FPowerLoss,
		Phase: phaseMain, Invoke: invoke, Complete: r.rec.now(), Outcome: history.OK, Error: reason, Loss: loss}
	r.rec.add(op, "")
	m.mu.Lock()
	m.results = append(m.results, PowerLossResult{Index: n, AtNS: invoke, DurationNS: op.Complete - invoke,
		Mode: fs.f.Mode, Trigger: reason, Killed: len(killed), DroppedBytes: loss.DroppedBytes,
		Files: len(loss.Files), Entries: len(loss.Entries)})
	m.mu.Unlock()
	r.logf("%s: %d processes killed, %d bytes dropped in %d files, %d entries undone", why, len(killed), loss.DroppedBytes, len(loss.Files), len(loss.Entries))
	time.Sleep(time.Duration(fs.f.RestartAfterMS) * time.Millisecond)
	if len(sps) > 0 {
		if err := r.server.start(context.Background(), r.server.spec.readyTimeout()); err != nil {
			r.wrap(err)
			return true
		}
	}
	if watching {
		if err := r.startRotationWatch(); err != nil {
			return fail(fmt.Sprintf("watch for rotations again: %v", err), err)
		}
	}
	return true
}

// lossOf converts a lazyfs report for the history.
func lossOf(rep lazyfs.Report, killed []string) *history.PowerLoss {
	l := &history.PowerLoss{Mode: string(rep.Mode), Killed: killed, DroppedBytes: rep.DroppedBytes()}
	for _, f := range rep.Files {
		l.Files = append(l.Files, history.FileLoss{Path: f.Path, Before: f.Before, After: f.After, Durable: f.Durable,
			Dropped: f.Dropped, Restored: f.Restored, Torn: f.Torn})
	}
	for _, e := range rep.Entries {
		l.Entries = append(l.Entries, history.EntryLoss{Path: e.Path, Change: string(e.Change), Dir: e.Dir})
	}
	return l
}

// powerLossResults returns the run's power losses.
func (m *machine) powerLossResults() []PowerLossResult {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]PowerLossResult(nil), m.results...)
}
