package run

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// faultStream offsets the PCG stream of fault i from the clients' streams.
const faultStream = 1 << 32

// faultState is one fault injector of the scenario and its seeded random
// source: the same seed gives the same gaps, delays and coin flips.
type faultState struct {
	index int
	f     scenario.Fault

	mu    sync.Mutex
	rng   *rand.Rand
	fired int
}

func newFaultState(index int, f scenario.Fault, seed int64) *faultState {
	return &faultState{index: index, f: f, rng: rand.New(rand.NewPCG(uint64(seed), faultStream+uint64(index)))}
}

// matches tells whether the fault can hit client c.
func (fs *faultState) matches(c *client) bool {
	if c.phase != phaseMain || fs.f.Target == scenario.TargetServer {
		return false
	}
	switch fs.f.Target {
	case "":
		// A power loss on any client's operations.
		return fs.f.Kind == scenario.FaultPowerLoss
	case scenario.TargetProducers:
		return c.role == roleProducer
	case scenario.TargetConsumers:
		return c.role == roleConsumer
	case scenario.TargetAny:
		return true
	default:
		return c.name == fs.f.Target
	}
}

// exhausted tells whether the fault has fired MaxFaults times.
func (fs *faultState) exhausted() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.MaxFaults > 0 && fs.fired >= fs.f.MaxFaults
}

// tryFire decides whether the fault fires now: it has not reached
// MaxFaults and the coin (Probability) says yes. It counts the firing.
func (fs *faultState) tryFire() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f.MaxFaults > 0 && fs.fired >= fs.f.MaxFaults {
		return false
	}
	if p := fs.f.Probability; p < 1 && fs.rng.Float64() >= p {
		return false
	}
	fs.fired++
	return true
}

// nextGap draws the time until the next random firing.
func (fs *faultState) nextGap() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return gapFor(fs.f.Gap, fs.rng)
}

// gapFor draws one gap of distribution g.
func gapFor(g scenario.Gap, rng *rand.Rand) time.Duration {
	ms := time.Millisecond
	switch g.Dist {
	case scenario.GapUniform:
		lo, hi := g.MinMS, g.MaxMS
		if hi <= lo {
			return time.Duration(lo) * ms
		}
		return time.Duration(lo+rng.IntN(hi-lo+1)) * ms
	default:
		mean := g.MeanMS
		if mean <= 0 {
			mean = 1000
		}
		return time.Duration(rng.ExpFloat64() * float64(mean) * float64(ms))
	}
}

// delay draws a "during" delay in [0, MaxDelayUS] µs.
func (fs *faultState) delay() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return time.Duration(fs.rng.IntN(fs.f.MaxDelayUS+1)) * time.Microsecond
}

// pick chooses one of n targets.
func (fs *faultState) pick(n int) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rng.IntN(n)
}

// plan is what happens after the fault kills a client.
func (fs *faultState) plan() *restartPlan {
	if !fs.f.Restart {
		return nil
	}
	return &restartPlan{after: time.Duration(fs.f.RestartAfterMS) * time.Millisecond}
}

// apply kills or pauses process p of client c, or takes the whole machine
// down (a power loss, which kills p too); it reports whether p was killed.
// The fault has fired (tryFire).
func (fs *faultState) apply(c *client, p *process, reason string) bool {
	switch fs.f.Kind {
	case scenario.FaultKill:
		return c.kill(p, reason, fs.plan())
	case scenario.FaultPause:
		c.pause(p, reason, time.Duration(fs.f.PauseMS)*time.Millisecond)
	case scenario.FaultPowerLoss:
		if !c.r.faultsLive() {
			return false
		}
		return c.r.powerLoss(fs, fmt.Sprintf("%s %s", c.name, reason)) && p.killed.Load()
	}
	return false
}

// faultSet holds a run's kill, pause and power-loss injectors.
type faultSet struct {
	faults []*faultState
}

func newFaultSet(sc *scenario.Scenario) *faultSet {
	s := &faultSet{}
	for i, f := range sc.Faults {
		if f.Kind == scenario.FaultKill || f.Kind == scenario.FaultPause || f.Kind == scenario.FaultPowerLoss {
			s.faults = append(s.faults, newFaultState(i, f, sc.Seed))
		}
	}
	return s
}

// armed is a "during" fault that fires a delay after the request is sent.
type armed struct {
	fs    *faultState
	delay time.Duration
	kill  bool
	done  chan struct{} // closed once the fault has fired
	timer *time.Timer
}

// armDuring returns the "during" fault that fires for c's next op, or nil.
func (s *faultSet) armDuring(c *client, op string) *armed {
	for _, fs := range s.faults {
		if fs.f.Trigger != scenario.TriggerDuring || fs.f.Op != op || !fs.matches(c) {
			continue
		}
		if fs.f.Kind == scenario.FaultPowerLoss && c.r.machine.inProgress() {
			continue
		}
		if fs.tryFire() {
			kill := fs.f.Kind == scenario.FaultKill || fs.f.Kind == scenario.FaultPowerLoss
			return &armed{fs: fs, delay: fs.delay(), kill: kill, done: make(chan struct{})}
		}
	}
	return nil
}

// start sets the fault off: it hits p after the delay.
func (a *armed) start(c *client, p *process, op string) {
	reason := fmt.Sprintf("during %s (%dµs after the request)", op, a.delay.Microseconds())
	a.timer = time.AfterFunc(a.delay, func() {
		defer close(a.done)
		a.fs.apply(c, p, reason)
	})
}

// wait waits until the fault has fired.
func (a *armed) wait() { <-a.done }

// afterReply runs the "after" and "between" faults once c's op got its
// reply; it reports whether one of them killed p.
func (s *faultSet) afterReply(c *client, p *process, op string, opCount, total int) bool {
	for _, fs := range s.faults {
		if !fs.matches(c) {
			continue
		}
		var reason string
		switch fs.f.Trigger {
		case scenario.TriggerAfterOps:
			n := total
			if fs.f.Op != "" {
				if fs.f.Op != op {
					continue
				}
				n = opCount
			}
			if fs.f.AfterOps <= 0 || n%fs.f.AfterOps != 0 {
				continue
			}
			reason = fmt.Sprintf("after %s #%d", op, n)
		case scenario.TriggerBetween:
			if fs.f.Op != op {
				continue
			}
			reason = fmt.Sprintf("between %s and the next request", op)
		default:
			continue
		}
		if fs.f.Kind == scenario.FaultPowerLoss && c.r.machine.inProgress() {
			continue
		}
		if fs.tryFire() && fs.apply(c, p, reason) {
			return true
		}
	}
	return false
}

// randomLoop fires fs at random moments until ctx ends or it is
// exhausted.
func (r *runner) randomLoop(ctx context.Context, fs *faultState) {
	for !fs.exhausted() {
		if !sleepCtx(ctx, fs.nextGap()) {
			return
		}
		if fs.f.Target == scenario.TargetServer {
			if r.server != nil {
				r.wrap(r.server.fault(fs, "random"))
			}
			continue
		}
		if fs.f.Kind == scenario.FaultPowerLoss {
			r.firePowerLoss(fs, "at random")
			continue
		}
		r.fireAtRandomTarget(fs, "random")
	}
}

// fireAtRandomTarget applies fs to one running client it matches, chosen
// with fs's random source.
func (r *runner) fireAtRandomTarget(fs *faultState, reason string) {
	var targets []*client
	var procs []*process
	for _, c := range r.clientList() {
		if !fs.matches(c) {
			continue
		}
		if p := c.current(); p != nil && !p.exited() && !p.killed.Load() && !p.paused.Load() {
			targets = append(targets, c)
			procs = append(procs, p)
		}
	}
	if len(targets) == 0 {
		return
	}
	i := fs.pick(len(targets))
	if fs.tryFire() {
		fs.apply(targets[i], procs[i], reason)
	}
}

// onRotation is called by the rotation watch for each new chunk file.
func (r *runner) onRotation(name string) {
	for _, fs := range r.faults.faults {
		if fs.f.Trigger != scenario.TriggerRotation || fs.exhausted() {
			continue
		}
		reason := "on rotation: new chunk file " + name
		if fs.f.Kind == scenario.FaultPowerLoss {
			// On a goroutine of its own: the power loss stops this watch
			// and starts a new one.
			if r.machine.inProgress() || !r.faultsLive() || !fs.tryFire() {
				continue
			}
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				r.powerLoss(fs, reason)
			}()
			continue
		}
		r.fireAtRandomTarget(fs, reason)
	}
}

// sleepCtx sleeps for d; it returns false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
