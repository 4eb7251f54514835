package scenario

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Defaults of the fields that have one (docs/SCENARIOS.md lists them all).
const (
	DefaultProducerName  = "p"
	DefaultConsumerName  = "c"
	DefaultBatch         = 1
	DefaultPollMax       = 100
	DefaultPollTimeoutMS = 200
	DefaultAck           = AckBatch
	DefaultStart         = StartAcked
	DefaultFsync         = FsyncNever
	DefaultOpMS          = 10000
	DefaultRunS          = 120
	DefaultDrainS        = 60
	DefaultStuckMS       = 5000
	DefaultInitMS        = 30000
	DefaultQuickScale    = 0.1
	DefaultGapDist       = GapExponential
	DefaultProbability   = 1.0
)

// Consumer start positions (the protocol's).
const (
	StartAcked    = protocol.StartAcked    // after the group's last ack; the earliest record when it has none
	StartEarliest = protocol.StartEarliest // the earliest retained record
	StartLatest   = protocol.StartLatest   // only records appended after init
)

// Fsync modes of the topic (the protocol's).
const (
	FsyncNever    = protocol.FsyncNever
	FsyncAlways   = protocol.FsyncAlways
	FsyncInterval = protocol.FsyncInterval
)

// Fault targets that name a set of clients rather than one client.
const (
	TargetProducers = "producers"
	TargetConsumers = "consumers"
	TargetAny       = "any"
	// TargetServer is the engine's server process, which klcheck starts
	// itself when given --server (kind kill or pause, trigger random).
	TargetServer = "server"
)

// Operations a fault can be tied to (the protocol's op names).
const (
	OpAppend = protocol.OpAppend
	OpPoll   = protocol.OpPoll
	OpAck    = protocol.OpAck
)

// Limits of validation.
const (
	// MaxValueSize is the largest value size a scenario may ask for.
	MaxValueSize = 64 << 20
	// MaxClients bounds the clients of one scenario.
	MaxClients = 256
)

var (
	checkNames     = []string{"integrity", "lost-write", "durability", "duplicate", "inconsistent-offsets", "producer-order", "realtime-order", "poll-order", "resume", "ack-once", "liveness"}
	histogramNames = []string{"append", "poll", "e2e"}
)

// CheckNames returns the names a scenario's checks list may hold, in
// report order.
func CheckNames() []string { return slices.Clone(checkNames) }

// HistogramNames returns the names a scenario's histograms list may hold.
func HistogramNames() []string { return slices.Clone(histogramNames) }

// ApplyDefaults sets every unset (zero) field that has a default to it.
// Parse calls it before Validate; call it on a Scenario built in code.
func (s *Scenario) ApplyDefaults() {
	if s.Topic.Fsync == "" {
		s.Topic.Fsync = DefaultFsync
	}
	for i := range s.Producers {
		g := &s.Producers[i]
		if g.Name == "" {
			g.Name = DefaultProducerName
		}
		if g.Batch == 0 {
			g.Batch = DefaultBatch
		}
	}
	for i := range s.Consumers {
		g := &s.Consumers[i]
		if g.Name == "" {
			g.Name = DefaultConsumerName
		}
		if g.Group == "" {
			g.Group = g.Name
		}
		if g.Start == "" {
			g.Start = DefaultStart
		}
		if g.PollMax == 0 {
			g.PollMax = DefaultPollMax
		}
		if g.PollTimeoutMS == 0 {
			g.PollTimeoutMS = DefaultPollTimeoutMS
		}
		if g.Ack == "" {
			g.Ack = DefaultAck
		}
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		if f.Kind != FaultRlimit && f.Probability == 0 {
			f.Probability = DefaultProbability
		}
		if f.Trigger == TriggerRandom && f.Gap.Dist == "" {
			f.Gap.Dist = DefaultGapDist
		}
		if f.Target == TargetServer && f.Node == "" {
			f.Node = NodeAll
		}
	}
	t := &s.Timeouts
	if t.OpMS == 0 {
		t.OpMS = DefaultOpMS
	}
	if t.RunS == 0 {
		t.RunS = DefaultRunS
	}
	if t.DrainS == 0 {
		t.DrainS = DefaultDrainS
	}
	if t.InitMS == 0 {
		t.InitMS = DefaultInitMS
	}
	if t.StuckMS == 0 {
		t.StuckMS = DefaultStuckMS
	}
	if s.Quick.Scale == 0 {
		s.Quick.Scale = DefaultQuickScale
	}
}

// validator collects the problems of one scenario.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) nonNegative(field string, n int64) {
	if n < 0 {
		v.add(field, "must not be negative, got %d", n)
	}
}

func (v *validator) atLeast(field string, n, min int64) {
	if n < min {
		v.add(field, "must be at least %d, got %d", min, n)
	}
}

func (v *validator) oneOf(field, val string, valid ...string) {
	if !slices.Contains(valid, val) {
		v.add(field, "unknown value %q (valid: %s)", val, strings.Join(valid, ", "))
	}
}

// unset reports a field that is set although it does not apply.
func (v *validator) unset(field string, set bool, why string) {
	if set {
		v.add(field, "does not apply %s", why)
	}
}

// Validate reports every impossible or inconsistent value of s, each as an
// *Error naming its field, joined with errors.Join; nil when s is valid. It
// expects the defaults to be applied (Parse does both).
func (s *Scenario) Validate() error {
	v := &validator{}
	if s.Name == "" {
		v.add("name", "must be set")
	} else if !validName(s.Name) {
		v.add("name", "%q may hold only letters, digits, '-', '_' and '.'", s.Name)
	}

	t := s.Topic
	v.nonNegative("topic.chunk_records", int64(t.ChunkRecords))
	v.nonNegative("topic.chunk_bytes", t.ChunkBytes)
	v.nonNegative("topic.retain_chunks", int64(t.RetainChunks))
	v.nonNegative("topic.retain_bytes", t.RetainBytes)
	v.oneOf("topic.fsync", t.Fsync, FsyncNever, FsyncAlways, FsyncInterval)

	if len(s.Producers) == 0 && len(s.Consumers) == 0 {
		v.add("producers", "a scenario needs at least one producer or consumer group")
	}
	roles := map[string]string{} // client name -> "producer"/"consumer"
	// The clients, counted group by group: name the group that crosses
	// the limit (the sum saturates rather than overflow).
	total := int64(0)
	countOver := func(field string, count int) {
		before := total
		total = addSat(total, int64(max(count, 0)))
		if total > MaxClients && before <= MaxClients {
			v.add(field, "%d brings the scenario to %s clients, more than the limit of %d: klcheck runs each client as a process of its own", count, countText(total), MaxClients)
		}
	}
	for i, g := range s.Producers {
		p := fmt.Sprintf("producers[%d]", i)
		s.validateProducers(v, p, g, roles)
		countOver(p+".count", g.Count)
	}
	for i, g := range s.Consumers {
		p := fmt.Sprintf("consumers[%d]", i)
		s.validateConsumers(v, p, g, roles)
		countOver(p+".count", g.Count)
	}

	for i, f := range s.Faults {
		validateFault(v, fmt.Sprintf("faults[%d]", i), f, s, roles)
	}

	tm := s.Timeouts
	v.atLeast("timeouts.op_ms", int64(tm.OpMS), 1)
	v.atLeast("timeouts.run_s", int64(tm.RunS), 1)
	v.atLeast("timeouts.drain_s", int64(tm.DrainS), 1)
	v.atLeast("timeouts.stuck_ms", int64(tm.StuckMS), 1)
	v.atLeast("timeouts.init_ms", int64(tm.InitMS), 1)

	validateNames(v, "checks", s.Checks, checkNames)
	validateNames(v, "histograms", s.Histograms, histogramNames)

	if s.Quick.Scale <= 0 || s.Quick.Scale > 1 {
		v.add("quick.scale", "must be in (0, 1], got %g", s.Quick.Scale)
	}
	v.nonNegative("quick.max_faults", int64(s.Quick.MaxFaults))
	s.validateLimits(v)
	return errors.Join(v.errs...)
}

func (s *Scenario) validateProducers(v *validator, p string, g ProducerGroup, roles map[string]string) {
	validateGroupName(v, p+".name", g.Name)
	v.atLeast(p+".count", int64(g.Count), 1)
	v.atLeast(p+".messages", int64(g.Messages), 1)
	v.atLeast(p+".batch", int64(g.Batch), 1)
	if g.Batch > g.Messages && g.Messages >= 1 {
		v.add(p+".batch", "%d is more than messages (%d)", g.Batch, g.Messages)
	}
	v.nonNegative(p+".rate", int64(g.Rate))
	v.nonNegative(p+".start_delay_ms", int64(g.StartDelayMS))
	validateSizes(v, p+".size", g.Size)
	addClients(v, p+".name", g.Name, g.Count, "producer", roles)
}

func (s *Scenario) validateConsumers(v *validator, p string, g ConsumerGroup, roles map[string]string) {
	validateGroupName(v, p+".name", g.Name)
	v.atLeast(p+".count", int64(g.Count), 1)
	if !validName(g.Group) {
		v.add(p+".group", "%q may hold only letters, digits, '-', '_' and '.'", g.Group)
	}
	v.oneOf(p+".start", g.Start, StartAcked, StartEarliest, StartLatest)
	v.atLeast(p+".poll_max", int64(g.PollMax), 1)
	v.nonNegative(p+".poll_timeout_ms", int64(g.PollTimeoutMS))
	if g.PollTimeoutMS >= s.Timeouts.OpMS && s.Timeouts.OpMS > 0 {
		v.add(p+".poll_timeout_ms", "%d must be less than timeouts.op_ms (%d), or every idle poll times out", g.PollTimeoutMS, s.Timeouts.OpMS)
	}
	v.oneOf(p+".ack", g.Ack, AckNone, AckEach, AckBatch)
	v.nonNegative(p+".delay_ms", int64(g.DelayMS))
	v.nonNegative(p+".restart_every_polls", int64(g.RestartEveryPolls))
	addClients(v, p+".name", g.Name, g.Count, "consumer", roles)
}

// addClients records the client names of a group and reports duplicates.
func addClients(v *validator, field, prefix string, count int, role string, roles map[string]string) {
	if count > MaxClients {
		count = MaxClients
	}
	for i := range count {
		name := clientName(prefix, i)
		if _, dup := roles[name]; dup {
			v.add(field, "client %q is also a client of another group; give the groups different names", name)
			return
		}
		roles[name] = role
	}
}

func validateGroupName(v *validator, field, name string) {
	if !validName(name) {
		v.add(field, "%q may hold only letters, digits, '-', '_' and '.'", name)
		return
	}
	switch name {
	case TargetProducers, TargetConsumers, TargetAny, TargetServer:
		v.add(field, "%q is reserved for fault targets", name)
	}
}

func validateSizes(v *validator, p string, z Sizes) {
	set := 0
	if z.Fixed != 0 {
		set++
		checkSize(v, p+".fixed", z.Fixed)
	}
	if z.List != nil {
		set++
		if len(z.List) == 0 {
			v.add(p+".list", "must not be empty")
		}
		for i, n := range z.List {
			checkSize(v, fmt.Sprintf("%s.list[%d]", p, i), n)
		}
	}
	if z.Range != [2]int{} {
		set++
		checkSize(v, p+".range", z.Range[0])
		checkSize(v, p+".range", z.Range[1])
		if z.Range[0] > z.Range[1] {
			v.add(p+".range", "min %d is more than max %d", z.Range[0], z.Range[1])
		}
	}
	switch set {
	case 0:
		v.add(p, "set one of fixed, list or range (a size of 0 is not allowed)")
	case 1:
	default:
		v.add(p, "set only one of fixed, list or range")
	}
}

func checkSize(v *validator, field string, n int) {
	if n < 1 || n > MaxValueSize {
		v.add(field, "size %d is outside [1, %d] (64 MiB)", n, MaxValueSize)
	}
}

// validateFault checks one fault against the kind/trigger matrix of
// docs/SCENARIOS.md.
func validateFault(v *validator, p string, f Fault, s *Scenario, roles map[string]string) {
	v.oneOf(p+".kind", f.Kind, FaultKill, FaultPause, FaultRlimit, FaultPowerLoss)
	if f.Kind == FaultPowerLoss {
		validatePowerLoss(v, p, f, s, roles)
		return
	}
	v.unset(p+".mode", f.Mode != "", "to kind "+f.Kind+" (only a power-loss has a mode)")
	targetRoles := validateTarget(v, p, f, s, roles)
	validateCounts(v, p, f)

	if f.Kind == FaultRlimit {
		v.atLeast(p+".fsize_bytes", f.FsizeBytes, 1)
		why := "to kind rlimit (it holds from the client's start)"
		v.unset(p+".trigger", f.Trigger != "", why)
		v.unset(p+".gap", f.Gap != Gap{}, why)
		v.unset(p+".after_ops", f.AfterOps != 0, why)
		v.unset(p+".op", f.Op != "", why)
		v.unset(p+".max_delay_us", f.MaxDelayUS != 0, why)
		v.unset(p+".probability", f.Probability != 0, why)
		v.unset(p+".max_faults", f.MaxFaults != 0, why)
		v.unset(p+".restart", f.Restart, why)
		v.unset(p+".restart_after_ms", f.RestartAfterMS != 0, why)
		v.unset(p+".pause_ms", f.PauseMS != 0, why)
		return
	}
	if f.Kind != FaultKill && f.Kind != FaultPause {
		return
	}
	v.unset(p+".fsize_bytes", f.FsizeBytes != 0, "to kind "+f.Kind)
	if f.Kind == FaultPause {
		v.atLeast(p+".pause_ms", int64(f.PauseMS), 1)
		// A client stopped for longer than op_ms would time out, and the
		// harness would blame the implementation for its own stall.
		if stall := int64(f.PauseMS) + int64(f.MaxDelayUS)/1000; s.Timeouts.OpMS > 0 && stall >= int64(s.Timeouts.OpMS) {
			v.add(p+".pause_ms", "a pause of %d ms (plus up to %d µs of delay) must be shorter than timeouts.op_ms (%d)", f.PauseMS, f.MaxDelayUS, s.Timeouts.OpMS)
		}
		v.unset(p+".restart", f.Restart, "to kind pause (a paused client is continued)")
		v.unset(p+".restart_after_ms", f.RestartAfterMS != 0, "to kind pause")
	} else {
		v.unset(p+".pause_ms", f.PauseMS != 0, "to kind kill")
		v.unset(p+".restart_after_ms", f.RestartAfterMS != 0 && !f.Restart, "without restart: true")
	}
	validateTrigger(v, p, f, targetRoles)
}

// validateTarget checks a kill, pause or rlimit fault's target and returns
// the roles it can reach.
func validateTarget(v *validator, p string, f Fault, s *Scenario, roles map[string]string) []string {
	switch f.Target {
	case "":
		v.add(p+".target", `must be set: "producers", "consumers", "any", "server" or a client name`)
	case TargetServer:
		// The engine's server: not a client, so only random moments reach
		// it, and a killed server must come back for the run to go on.
		v.oneOf(p+".node", f.Node, NodeAll, NodeRandom, NodeLeader)
		switch {
		case f.Kind == FaultRlimit:
			v.add(p+".kind", "rlimit cannot target the server (klcheck limits only the clients it starts)")
		case f.Trigger != "" && f.Trigger != TriggerRandom:
			v.add(p+".trigger", "the server is not a client: only trigger random reaches it, got %q", f.Trigger)
		case f.Kind == FaultKill && !f.Restart:
			v.add(p+".restart", "a killed server must be restarted (restart: true), or the run cannot go on")
		}
	default:
		v.unset(p+".node", f.Node != "", "to target "+f.Target+" (only a server fault picks nodes)")
		return clientTargetRoles(v, p, f.Target, s, roles)
	}
	return nil
}

// clientTargetRoles checks a target that names clients (a set or one
// client) and returns the roles it can reach.
func clientTargetRoles(v *validator, p, target string, s *Scenario, roles map[string]string) []string {
	switch target {
	case TargetProducers:
		if len(s.Producers) == 0 {
			v.add(p+".target", "the scenario has no producers")
		}
		return []string{"producer"}
	case TargetConsumers:
		if len(s.Consumers) == 0 {
			v.add(p+".target", "the scenario has no consumers")
		}
		return []string{"consumer"}
	case TargetAny:
		return []string{"producer", "consumer"}
	}
	r, ok := roles[target]
	if !ok {
		v.add(p+".target", "%q names no client of the scenario (clients: %s)", target, strings.Join(sortedKeys(roles), ", "))
	}
	return []string{r}
}

// validateCounts checks the numeric fields every fault may carry.
func validateCounts(v *validator, p string, f Fault) {
	v.nonNegative(p+".max_faults", int64(f.MaxFaults))
	v.nonNegative(p+".restart_after_ms", int64(f.RestartAfterMS))
	v.nonNegative(p+".after_ops", int64(f.AfterOps))
	v.nonNegative(p+".max_delay_us", int64(f.MaxDelayUS))
	v.nonNegative(p+".pause_ms", int64(f.PauseMS))
	v.nonNegative(p+".fsize_bytes", f.FsizeBytes)
}

// validatePowerLoss checks a power-loss fault. It hits the whole machine:
// a target only says whose operations trigger it (after, during, between),
// every client and the server are killed and always restarted, and
// restart_after_ms is how long the machine stays down.
func validatePowerLoss(v *validator, p string, f Fault, s *Scenario, roles map[string]string) {
	if f.Mode == "" {
		v.add(p+".mode", "must be set for kind power-loss: %s, %s or %s", ModeLoseAll, ModeTornSeq, ModeTornOp)
	} else {
		v.oneOf(p+".mode", f.Mode, ModeLoseAll, ModeTornSeq, ModeTornOp)
	}
	validateCounts(v, p, f)
	why := "to kind power-loss"
	v.unset(p+".restart", f.Restart, why+" (every client and the server always restart after a power loss)")
	v.unset(p+".pause_ms", f.PauseMS != 0, why)
	v.unset(p+".fsize_bytes", f.FsizeBytes != 0, why)
	v.unset(p+".node", f.Node != "", why+" (it takes every node down)")
	var targetRoles []string
	switch f.Trigger {
	case TriggerRandom, TriggerRotation:
		v.unset(p+".target", f.Target != "", "to a power loss on trigger "+f.Trigger+": it hits the whole machine")
	default:
		switch f.Target {
		case "":
			targetRoles = []string{"producer", "consumer"} // any client's operations
		case TargetServer:
			v.add(p+".target", "a power loss always takes the server down with the clients; target names whose operations trigger it (producers, consumers, any or a client)")
		default:
			targetRoles = clientTargetRoles(v, p, f.Target, s, roles)
		}
	}
	validateTrigger(v, p, f, targetRoles)
}

// validateTrigger checks a kill, pause or power-loss fault's trigger and
// the fields that go with it.
func validateTrigger(v *validator, p string, f Fault, targetRoles []string) {
	if f.Probability < 0 || f.Probability > 1 {
		v.add(p+".probability", "must be in [0, 1], got %g", f.Probability)
	}
	v.oneOf(p+".trigger", f.Trigger, TriggerRandom, TriggerAfterOps, TriggerDuring, TriggerBetween, TriggerRotation)
	why := "to trigger " + f.Trigger
	switch f.Trigger {
	case TriggerRandom:
		v.unset(p+".after_ops", f.AfterOps != 0, why)
		v.unset(p+".op", f.Op != "", why)
		v.unset(p+".max_delay_us", f.MaxDelayUS != 0, why)
		v.unset(p+".probability", f.Probability != DefaultProbability, why)
		validateGap(v, p+".gap", f.Gap)
	case TriggerAfterOps:
		v.atLeast(p+".after_ops", int64(f.AfterOps), 1)
		v.unset(p+".gap", f.Gap != Gap{}, why)
		v.unset(p+".max_delay_us", f.MaxDelayUS != 0, why)
		if f.Op != "" {
			validateOp(v, p+".op", f.Op, targetRoles)
		}
	case TriggerDuring, TriggerBetween:
		v.unset(p+".gap", f.Gap != Gap{}, why)
		v.unset(p+".after_ops", f.AfterOps != 0, why)
		if f.Trigger == TriggerBetween {
			v.unset(p+".max_delay_us", f.MaxDelayUS != 0, why)
		}
		if f.Op == "" {
			v.add(p+".op", "must be set for trigger %s: append, poll or ack", f.Trigger)
		} else {
			validateOp(v, p+".op", f.Op, targetRoles)
		}
	case TriggerRotation:
		v.unset(p+".gap", f.Gap != Gap{}, why)
		v.unset(p+".after_ops", f.AfterOps != 0, why)
		v.unset(p+".op", f.Op != "", why)
		v.unset(p+".max_delay_us", f.MaxDelayUS != 0, why)
	}
}

// validateOp checks that op exists and that a client the target can reach
// performs it.
func validateOp(v *validator, field, op string, targetRoles []string) {
	var role string
	switch op {
	case OpAppend:
		role = "producer"
	case OpPoll, OpAck:
		role = "consumer"
	default:
		v.add(field, "unknown value %q (valid: append, poll, ack)", op)
		return
	}
	if len(targetRoles) > 0 && targetRoles[0] != "" && !slices.Contains(targetRoles, role) {
		v.add(field, "the target's clients are %ss, which never %s", targetRoles[0], op)
	}
}

func validateGap(v *validator, p string, g Gap) {
	v.nonNegative(p+".mean_ms", int64(g.MeanMS))
	v.nonNegative(p+".min_ms", int64(g.MinMS))
	v.nonNegative(p+".max_ms", int64(g.MaxMS))
	switch g.Dist {
	case GapExponential:
		v.atLeast(p+".mean_ms", int64(g.MeanMS), 1)
		v.unset(p+".min_ms", g.MinMS != 0, "to dist exponential (set mean_ms)")
		v.unset(p+".max_ms", g.MaxMS != 0, "to dist exponential (set mean_ms)")
	case GapUniform:
		v.unset(p+".mean_ms", g.MeanMS != 0, "to dist uniform (set min_ms and max_ms)")
		v.atLeast(p+".max_ms", int64(g.MaxMS), 1)
		if g.MinMS > g.MaxMS {
			v.add(p+".min_ms", "min %d is more than max %d", g.MinMS, g.MaxMS)
		}
	default:
		v.oneOf(p+".dist", g.Dist, GapExponential, GapUniform)
	}
}

func validateNames(v *validator, field string, names, valid []string) {
	seen := map[string]bool{}
	for i, n := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !slices.Contains(valid, n) {
			v.add(f, "unknown name %q (valid: %s)", n, strings.Join(valid, ", "))
		} else if seen[n] {
			v.add(f, "%q is listed twice", n)
		}
		seen[n] = true
	}
}

// validName reports whether s is a usable client, group or scenario name:
// non-empty, at most 64 bytes of letters, digits, '-', '_' and '.'.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
