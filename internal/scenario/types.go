// Package scenario defines klcheck's scenario files: their schema, strict
// decoding (unknown fields are errors with file:line), validation, the
// --quick scaling, and the built-in scenarios embedded from scenarios/.
package scenario

// Scenario is one decoded and validated scenario file. docs/SCENARIOS.md
// documents every field. Durations are in the unit their name says.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed makes the run replayable; --seed overrides it.
	Seed int64 `yaml:"seed"`

	Topic     Topic           `yaml:"topic"`
	Producers []ProducerGroup `yaml:"producers"`
	Consumers []ConsumerGroup `yaml:"consumers"`
	Faults    []Fault         `yaml:"faults"`
	Timeouts  Timeouts        `yaml:"timeouts"`

	// Checks names the checks that apply (see check.Names); empty = all.
	Checks []string `yaml:"checks"`
	// Histograms names the latency histograms to record: "append", "poll",
	// "e2e".
	Histograms []string `yaml:"histograms"`
	// Quick scales the scenario down for --quick.
	Quick Quick `yaml:"quick"`

	// File is where the scenario came from ("builtin:NAME" or a path); set
	// by the loader.
	File string `yaml:"-"`
}

// Topic is the topic config sent with every init.
type Topic struct {
	ChunkRecords int    `yaml:"chunk_records"`
	ChunkBytes   int64  `yaml:"chunk_bytes"`
	RetainChunks int    `yaml:"retain_chunks"`
	RetainBytes  int64  `yaml:"retain_bytes"`
	Fsync        string `yaml:"fsync"` // never (default), always, interval
}

// Sizes is a value size: exactly one of Fixed, List or Range is set.
type Sizes struct {
	Fixed int    `yaml:"fixed"`
	List  []int  `yaml:"list"`  // chosen per producer round-robin: producer i uses List[i%len]
	Range [2]int `yaml:"range"` // uniform in [min, max], per message, from the seed
}

// ProducerGroup is Count producer clients named Name+"1".."N".
type ProducerGroup struct {
	Name     string `yaml:"name"` // client name prefix, default "p"
	Count    int    `yaml:"count"`
	Messages int    `yaml:"messages"` // per producer
	Size     Sizes  `yaml:"size"`
	Rate     int    `yaml:"rate"`  // messages per second per producer; 0 = as fast as possible
	Batch    int    `yaml:"batch"` // values per append request, default 1
	// StartDelayMS delays the group's start after the run begins.
	StartDelayMS int `yaml:"start_delay_ms"`
}

// Ack policies of a consumer group.
const (
	AckNone  = "none"  // never ack
	AckEach  = "each"  // ack every record after receiving it
	AckBatch = "batch" // ack the last record of each poll (cumulative)
)

// ConsumerGroup is Count consumer clients named Name+"1".."N".
type ConsumerGroup struct {
	Name  string `yaml:"name"` // client name prefix, default "c"
	Count int    `yaml:"count"`
	// Group is the consumer group; with GroupPerClient each client gets
	// Group+"-"+its index instead (one group per client).
	Group          string `yaml:"group"`
	GroupPerClient bool   `yaml:"group_per_client"`
	Start          string `yaml:"start"` // acked (default), earliest, latest
	PollMax        int    `yaml:"poll_max"`
	PollTimeoutMS  int    `yaml:"poll_timeout_ms"`
	Ack            string `yaml:"ack"` // none, each, batch (default)
	// DelayMS sleeps after each poll: a slow consumer.
	DelayMS int `yaml:"delay_ms"`
	// RestartEveryPolls closes the client cleanly after this many polls and
	// starts it again with start: acked (0 = never).
	RestartEveryPolls int `yaml:"restart_every_polls"`
}

// Fault kinds.
const (
	FaultKill   = "kill"   // SIGKILL
	FaultPause  = "pause"  // SIGSTOP, then SIGCONT after PauseMS
	FaultRlimit = "rlimit" // run the target under RLIMIT_FSIZE = FsizeBytes
	// FaultPowerLoss simulates a power loss of the whole machine: every
	// client (and the engine's server) is SIGKILLed, what was not durable
	// is dropped from the data directory as Mode says, and everything is
	// restarted on what survived. It needs internal/lazyfs (Linux, FUSE,
	// root); where lazyfs cannot mount, the scenario is skipped.
	FaultPowerLoss = "power-loss"
)

// Power-loss modes: what happens to file data that was never synced
// (unsynced directory changes are undone in every mode). They are
// internal/lazyfs's modes, named as LazyFS names its faults.
const (
	ModeLoseAll = "lose-all" // every unsynced byte is lost
	ModeTornSeq = "torn-seq" // each file keeps a random prefix of its unsynced appends
	ModeTornOp  = "torn-op"  // each file's last unsynced write is torn into 512 B / 4 KiB pieces, some lost
)

// Nodes of a server fault (Fault.Node).
const (
	NodeAll    = "all"    // every node at once
	NodeRandom = "random" // one node, chosen at random
	NodeLeader = "leader" // the node that leads the topic
)

// Fault triggers (for kill and pause).
const (
	TriggerRandom   = "random"   // at random moments; gaps from Gap
	TriggerAfterOps = "after"    // after the target's k-th operation (AfterOps)
	TriggerDuring   = "during"   // during an operation Op: request sent, kill 0..MaxDelayUS later, before the reply
	TriggerBetween  = "between"  // after a poll reply and before the next request (consumers: between poll and ack)
	TriggerRotation = "rotation" // the instant a new chunk file appears in the topic directory (inotify)
)

// Fault is one fault injector of the scenario.
type Fault struct {
	Kind string `yaml:"kind"` // kill, pause, rlimit, power-loss
	// Target: "producers", "consumers", "any", or a client name like "p1".
	// For a power loss, whose operations trigger it (after, during,
	// between); every client is killed whatever the target.
	Target  string `yaml:"target"`
	Trigger string `yaml:"trigger"`
	// Node picks which nodes of a multi-node server a target: server fault
	// hits: "all" (default, every node at once), "random" (one, at random)
	// or "leader" (the node that leads the topic, found through
	// klcheck's engine hook; random when it cannot be found).
	Node string `yaml:"node"`

	Gap         Gap     `yaml:"gap"`          // random
	AfterOps    int     `yaml:"after_ops"`    // after
	Op          string  `yaml:"op"`           // during/between: append, poll, ack
	MaxDelayUS  int     `yaml:"max_delay_us"` // during
	Probability float64 `yaml:"probability"`  // during/between/after: chance per eligible op (default 1)
	// MaxFaults bounds how many times this fault fires (0 = unbounded).
	MaxFaults int `yaml:"max_faults"`

	// Restart the killed client (same name, same group) after RestartAfterMS.
	Restart        bool `yaml:"restart"`
	RestartAfterMS int  `yaml:"restart_after_ms"`

	PauseMS    int   `yaml:"pause_ms"`    // pause
	FsizeBytes int64 `yaml:"fsize_bytes"` // rlimit
	// Mode is a power loss's mode: lose-all, torn-seq or torn-op.
	Mode string `yaml:"mode"`
}

// Gap distributions of random faults.
const (
	GapExponential = "exponential"
	GapUniform     = "uniform"
)

// Gap is the distribution of time between random faults.
type Gap struct {
	Dist   string `yaml:"dist"` // exponential (default) or uniform
	MeanMS int    `yaml:"mean_ms"`
	MinMS  int    `yaml:"min_ms"` // uniform
	MaxMS  int    `yaml:"max_ms"` // uniform
}

// Timeouts bounds a run; every wait has one.
type Timeouts struct {
	OpMS    int `yaml:"op_ms"`    // one request's reply (default 10000)
	RunS    int `yaml:"run_s"`    // the main phase (default 120)
	DrainS  int `yaml:"drain_s"`  // the final drain (default 60)
	StuckMS int `yaml:"stuck_ms"` // a drain consumer making no progress while records remain (default 5000)
	// InitMS bounds the reply to init, which includes the client's start-up
	// (an interpreter behind a version-manager shim, a JVM): default 30000,
	// and never less than OpMS.
	InitMS int `yaml:"init_ms"`
}

// Quick is how --quick scales a scenario down.
type Quick struct {
	// Scale multiplies message counts (default 0.1).
	Scale float64 `yaml:"scale"`
	// MaxFaults caps each fault's firings under --quick (0 = keep).
	MaxFaults int `yaml:"max_faults"`
}

// NeedsNodes says whether the scenario faults one node of a multi-node
// server (node: random or leader): with a single server there is no one
// node to pick, so klcheck skips it.
func (s *Scenario) NeedsNodes() bool {
	for _, f := range s.Faults {
		if f.Target == TargetServer && (f.Node == NodeRandom || f.Node == NodeLeader) {
			return true
		}
	}
	return false
}

// HasPowerLoss says whether the scenario has a power-loss fault: klcheck
// then mounts lazyfs under it, which needs root and /dev/fuse, so the
// default suite leaves such scenarios out unless asked (--power-loss).
func (s *Scenario) HasPowerLoss() bool {
	for _, f := range s.Faults {
		if f.Kind == FaultPowerLoss {
			return true
		}
	}
	return false
}
