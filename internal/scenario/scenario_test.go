package scenario

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/scenarios"
)

// minimal is the smallest valid scenario; the bad-input cases edit it.
const minimal = `name: t
producers:
  - count: 2
    messages: 10
    size: {fixed: 100}
consumers:
  - count: 1
`

func TestBuiltin(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(files) || len(all) < 13 {
		t.Fatalf("%d built-ins from %d files, want one per file and at least 13", len(all), len(files))
	}
	if !slices.IsSortedFunc(all, func(a, b *Scenario) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Builtin() is not sorted by name")
	}
	totalQuick := 0
	for _, s := range all {
		t.Run(s.Name, func(t *testing.T) {
			data, err := fs.ReadFile(scenarios.FS, s.Name+".yaml")
			if err != nil {
				t.Fatalf("the file is not named after the scenario: %v", err)
			}
			if s.File != "builtin:"+s.Name {
				t.Errorf("File = %q", s.File)
			}
			if strings.TrimSpace(s.Description) == "" {
				t.Error("no description")
			}
			if !strings.Contains(string(data), "\nquick:") {
				t.Error("no quick block")
			}
			if err := s.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			q := s.Scaled(true)
			if err := q.Validate(); err != nil {
				t.Errorf("Scaled(true).Validate: %v", err)
			}
			msgs := 0
			for _, g := range q.Producers {
				msgs += g.Count * g.Messages
			}
			totalQuick += msgs
			if msgs > 10000 {
				t.Errorf("%d messages under --quick; keep the quick suite fast", msgs)
			}
			for _, f := range q.Faults {
				if f.Kind != FaultRlimit && (f.MaxFaults == 0 || f.MaxFaults > 20) {
					t.Errorf("fault %s/%s fires up to %d times under --quick", f.Kind, f.Trigger, f.MaxFaults)
				}
			}
			got, err := Lookup(s.Name)
			if err != nil || got.Name != s.Name {
				t.Errorf("Lookup(%q) = %v, %v", s.Name, got, err)
			}
		})
	}
	t.Logf("%d messages in all under --quick", totalQuick)
}

func TestCheckNamesMatchCheckPackage(t *testing.T) {
	if got, want := CheckNames(), check.Names(); !slices.Equal(got, want) {
		t.Errorf("CheckNames() = %v, check.Names() = %v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown field", "name: t\ntopic:\n  chunk_records: 4\n  chunk_recrds: 5\n", []string{`x.yaml:4: field "chunk_recrds" not found in type scenario.Topic`}},
		{"unknown top-level field", minimal + "bogus: 1\n", []string{`x.yaml:8: field "bogus" not found in type scenario.Scenario`}},
		{"wrong type", "name: t\nseed: abc\n", []string{"x.yaml:2: cannot unmarshal !!str `abc` into int64"}},
		{"wrong type nested", minimal + "timeouts: {op_ms: 1.5}\n", []string{"x.yaml:8: cannot unmarshal !!float `1.5` into int"}},
		{"float for int in list", "name: t\nproducers: [{count: 1, messages: 1, size: {list: [1, 2.5]}}]\n", []string{"x.yaml:2: cannot unmarshal !!float `2.5` into int"}},
		{"float for int64", "name: t\nseed: 1e3\n", []string{"x.yaml:2: cannot unmarshal !!float `1e3` into int64"}},
		{"list for a map", "name: t\ntopic: [1, 2]\n", []string{"x.yaml:2: cannot unmarshal !!seq into scenario.Topic"}},
		{"syntax error", "name: t\ntopic:\n  chunk_records: 4\n chunk_bytes: 5\n", []string{"x.yaml:3: did not find expected key"}},
		{"syntax error tab", "name: t\n\tseed: 1\n", []string{"x.yaml:2: "}},
		{"two documents", minimal + "---\nname: u\n", []string{"x.yaml:9: a second YAML document"}},
		{"empty", "", []string{"x.yaml: empty file"}},
		{"comments only", "# nothing\n", []string{"x.yaml: empty file"}},
		{"duplicate key", minimal + "name: u\n", []string{`x.yaml:8: mapping key "name" already defined at line 1`}},
		{"range of three", "name: t\nproducers:\n  - count: 1\n    messages: 1\n    size: {range: [1, 2, 3]}\n", []string{"x.yaml:5: range: want [min, max], got 3 elements"}},
		{"no clients", "name: t\n", []string{"producers: a scenario needs at least one producer or consumer group"}},
		{"bad scenario name", "name: a/b\nconsumers: [{count: 1}]\n", []string{"name: "}},
		{"negative count", minimal + "  - name: d\n    count: -1\n", []string{"x.yaml:9: consumers[1].count: must be at least 1, got -1"}},
		{"zero messages", "name: t\nproducers: [{count: 1, messages: 0, size: {fixed: 1}}]\n", []string{"producers[0].messages: must be at least 1"}},
		{"negative rate", "name: t\nproducers: [{count: 1, messages: 1, rate: -5, size: {fixed: 1}}]\n", []string{"producers[0].rate: must not be negative"}},
		{"batch over messages", "name: t\nproducers: [{count: 1, messages: 5, batch: 6, size: {fixed: 1}}]\n", []string{"producers[0].batch: 6 is more than messages (5)"}},
		{"no size", "name: t\nproducers: [{count: 1, messages: 5}]\n", []string{"producers[0].size: set one of fixed, list or range"}},
		{"size zero", "name: t\nproducers: [{count: 1, messages: 5, size: {fixed: 0}}]\n", []string{"producers[0].size: set one of"}},
		{"size too big", "name: t\nproducers: [{count: 1, messages: 5, size: {fixed: 67108865}}]\n", []string{"producers[0].size.fixed: size 67108865 is outside"}},
		{"size negative", "name: t\nproducers: [{count: 1, messages: 5, size: {fixed: -1}}]\n", []string{"producers[0].size.fixed: size -1"}},
		{"two sizes", "name: t\nproducers: [{count: 1, messages: 5, size: {fixed: 1, list: [2]}}]\n", []string{"producers[0].size: set only one"}},
		{"empty list", "name: t\nproducers: [{count: 1, messages: 5, size: {list: []}}]\n", []string{"producers[0].size.list: must not be empty"}},
		{"list entry zero", "name: t\nproducers: [{count: 1, messages: 5, size: {list: [1, 0]}}]\n", []string{"producers[0].size.list[1]: size 0"}},
		{"range min over max", "name: t\nproducers: [{count: 1, messages: 5, size: {range: [10, 5]}}]\n", []string{"producers[0].size.range: min 10 is more than max 5"}},
		{"poll_max zero", minimal + "    poll_max: -1\n", []string{"consumers[0].poll_max: must be at least 1"}},
		{"poll timeout over op", minimal + "    poll_timeout_ms: 20000\n", []string{"consumers[0].poll_timeout_ms: 20000 must be less than timeouts.op_ms"}},
		{"unknown ack", minimal + "    ack: sometimes\n", []string{`consumers[0].ack: unknown value "sometimes"`}},
		{"unknown start", minimal + "    start: middle\n", []string{`consumers[0].start: unknown value "middle"`}},
		{"bad client name", minimal + "  - name: 'a:b'\n    count: 1\n", []string{`consumers[1].name: "a:b" may hold only`}},
		{"reserved client name", minimal + "  - name: any\n    count: 1\n", []string{`consumers[1].name: "any" is reserved`}},
		{"bad group name", minimal + "    group: 'x y'\n", []string{`consumers[0].group: "x y" may hold only`}},
		{"duplicate client", minimal + "  - count: 1\n", []string{`consumers[1].name: client "c1" is also a client of another group`}},
		{"producer consumer clash", "name: t\nproducers: [{name: x, count: 1, messages: 1, size: {fixed: 1}}]\nconsumers: [{name: x, count: 1}]\n", []string{`consumers[0].name: client "x1" is also`}},
		{"unknown fsync", minimal + "topic: {fsync: sometimes}\n", []string{`x.yaml:8: topic.fsync: unknown value "sometimes"`}},
		{"negative chunk", minimal + "topic: {chunk_records: -1}\n", []string{"topic.chunk_records: must not be negative"}},
		{"negative retain", minimal + "topic: {retain_bytes: -1}\n", []string{"topic.retain_bytes: must not be negative"}},
		{"negative timeout", minimal + "timeouts: {run_s: -1}\n", []string{"timeouts.run_s: must be at least 1"}},
		{"unknown check", minimal + "checks: [integrity, lost-writes]\n", []string{`checks[1]: unknown name "lost-writes"`}},
		{"check twice", minimal + "checks: [integrity, integrity]\n", []string{`checks[1]: "integrity" is listed twice`}},
		{"unknown histogram", minimal + "histograms: [append, latency]\n", []string{`histograms[1]: unknown name "latency"`}},
		{"quick scale negative", minimal + "quick: {scale: -0.5}\n", []string{"quick.scale: must be in (0, 1]"}},
		{"quick scale over one", minimal + "quick: {scale: 2}\n", []string{"quick.scale: must be in (0, 1]"}},
		{"quick max_faults negative", minimal + "quick: {max_faults: -1}\n", []string{"quick.max_faults: must not be negative"}},
		{"unknown kind", minimal + "faults: [{kind: explode, target: p1, trigger: random, gap: {mean_ms: 5}}]\n", []string{`faults[0].kind: unknown value "explode"`}},
		{"no target", minimal + "faults: [{kind: kill, trigger: random, gap: {mean_ms: 5}}]\n", []string{"faults[0].target: must be set"}},
		{"target no client", minimal + "faults: [{kind: kill, target: p3, trigger: random, gap: {mean_ms: 5}}]\n", []string{`x.yaml:8: faults[0].target: "p3" names no client of the scenario (clients: c1, p1, p2)`}},
		{"server rlimit", minimal + "faults: [{kind: rlimit, target: server, fsize_bytes: 10}]\n", []string{"faults[0].kind: rlimit cannot target the server"}},
		{"server after", minimal + "faults: [{kind: kill, target: server, trigger: after, after_ops: 3, restart: true}]\n", []string{`faults[0].trigger: the server is not a client: only trigger random reaches it, got "after"`}},
		{"server kill without restart", minimal + "faults: [{kind: kill, target: server, trigger: random, gap: {mean_ms: 5}}]\n", []string{"faults[0].restart: a killed server must be restarted (restart: true)"}},
		{"server node unknown", minimal + "faults:\n  - kind: kill\n    target: server\n    trigger: random\n    restart: true\n    node: follower\n", []string{`x.yaml:13: faults[0].node: unknown value "follower" (valid: all, random, leader)`}},
		{"node on a client fault", minimal + "faults:\n  - kind: kill\n    target: producers\n    trigger: random\n    node: leader\n", []string{"x.yaml:12: faults[0].node: does not apply to target producers (only a server fault picks nodes)"}},
		{"node on a power loss", minimal + "faults: [{kind: power-loss, mode: lose-all, trigger: rotation, node: random}]\n", []string{"faults[0].node: does not apply to kind power-loss (it takes every node down)"}},
		{"server reserved", minimal + "  - name: server\n    count: 1\n", []string{`consumers[1].name: "server" is reserved`}},
		{"target no producers", "name: t\nconsumers: [{count: 1}]\nfaults: [{kind: kill, target: producers, trigger: random, gap: {mean_ms: 5}}]\n", []string{"faults[0].target: the scenario has no producers"}},
		{"unknown trigger", minimal + "faults: [{kind: kill, target: p1, trigger: sometimes}]\n", []string{`faults[0].trigger: unknown value "sometimes"`}},
		{"no trigger", minimal + "faults: [{kind: kill, target: p1}]\n", []string{`faults[0].trigger: unknown value ""`}},
		{"probability over one", minimal + "faults: [{kind: kill, target: p1, trigger: during, op: append, probability: 1.5}]\n", []string{"faults[0].probability: must be in [0, 1], got 1.5"}},
		{"probability negative", minimal + "faults: [{kind: kill, target: c1, trigger: between, op: poll, probability: -0.1}]\n", []string{"faults[0].probability: must be in [0, 1]"}},
		{"probability with random", minimal + "faults: [{kind: kill, target: p1, trigger: random, gap: {mean_ms: 5}, probability: 0.5}]\n", []string{"faults[0].probability: does not apply to trigger random"}},
		{"random without mean", minimal + "faults: [{kind: kill, target: p1, trigger: random}]\n", []string{"faults[0].gap.mean_ms: must be at least 1"}},
		{"uniform min over max", minimal + "faults: [{kind: kill, target: p1, trigger: random, gap: {dist: uniform, min_ms: 9, max_ms: 5}}]\n", []string{"faults[0].gap.min_ms: min 9 is more than max 5"}},
		{"unknown dist", minimal + "faults: [{kind: kill, target: p1, trigger: random, gap: {dist: normal, mean_ms: 5}}]\n", []string{`faults[0].gap.dist: unknown value "normal"`}},
		{"gap with during", minimal + "faults: [{kind: kill, target: p1, trigger: during, op: append, gap: {mean_ms: 5}}]\n", []string{"faults[0].gap: does not apply to trigger during"}},
		{"during without op", minimal + "faults: [{kind: kill, target: p1, trigger: during}]\n", []string{"faults[0].op: must be set for trigger during"}},
		{"unknown op", minimal + "faults: [{kind: kill, target: p1, trigger: during, op: write}]\n", []string{`faults[0].op: unknown value "write"`}},
		{"op of other role", minimal + "faults: [{kind: kill, target: producers, trigger: between, op: ack}]\n", []string{"faults[0].op: the target's clients are producers, which never ack"}},
		{"op of other role by name", minimal + "faults: [{kind: kill, target: c1, trigger: during, op: append}]\n", []string{"faults[0].op: the target's clients are consumers, which never append"}},
		{"after without after_ops", minimal + "faults: [{kind: kill, target: p1, trigger: after}]\n", []string{"faults[0].after_ops: must be at least 1"}},
		{"after_ops with random", minimal + "faults: [{kind: kill, target: p1, trigger: random, gap: {mean_ms: 5}, after_ops: 3}]\n", []string{"faults[0].after_ops: does not apply to trigger random"}},
		{"max_delay with between", minimal + "faults: [{kind: kill, target: c1, trigger: between, op: poll, max_delay_us: 5}]\n", []string{"faults[0].max_delay_us: does not apply to trigger between"}},
		{"op with rotation", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, op: append}]\n", []string{"faults[0].op: does not apply to trigger rotation"}},
		{"negative max_faults", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, max_faults: -2}]\n", []string{"faults[0].max_faults: must not be negative"}},
		{"pause without pause_ms", minimal + "faults: [{kind: pause, target: p1, trigger: rotation}]\n", []string{"faults[0].pause_ms: must be at least 1"}},
		{"pause longer than op_ms", minimal + "faults: [{kind: pause, target: p1, trigger: rotation, pause_ms: 12000}]\n", []string{"faults[0].pause_ms: a pause of 12000 ms (plus up to 0 µs of delay) must be shorter than timeouts.op_ms (10000)"}},
		{"pause with restart", minimal + "faults: [{kind: pause, target: p1, trigger: rotation, pause_ms: 5, restart: true}]\n", []string{"faults[0].restart: does not apply to kind pause"}},
		{"kill with pause_ms", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, pause_ms: 5}]\n", []string{"faults[0].pause_ms: does not apply to kind kill"}},
		{"restart_after without restart", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, restart_after_ms: 5}]\n", []string{"faults[0].restart_after_ms: does not apply without restart: true"}},
		{"rlimit with trigger", minimal + "faults: [{kind: rlimit, target: p1, trigger: random, fsize_bytes: 10}]\n", []string{"faults[0].trigger: does not apply to kind rlimit"}},
		{"rlimit without fsize", minimal + "faults: [{kind: rlimit, target: p1}]\n", []string{"faults[0].fsize_bytes: must be at least 1"}},
		{"fsize with kill", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, fsize_bytes: 10}]\n", []string{"faults[0].fsize_bytes: does not apply to kind kill"}},
		{"power loss without mode", minimal + "faults: [{kind: power-loss, trigger: rotation}]\n", []string{"faults[0].mode: must be set for kind power-loss: lose-all, torn-seq or torn-op"}},
		{"power loss unknown mode", minimal + "faults: [{kind: power-loss, mode: clear-cache, trigger: rotation}]\n", []string{`faults[0].mode: unknown value "clear-cache" (valid: lose-all, torn-seq, torn-op)`}},
		{"power loss with restart", minimal + "faults: [{kind: power-loss, mode: lose-all, trigger: rotation, restart: true}]\n", []string{"faults[0].restart: does not apply to kind power-loss (every client and the server always restart"}},
		{"power loss random with target", minimal + "faults: [{kind: power-loss, mode: lose-all, target: p1, trigger: random, gap: {mean_ms: 5}}]\n", []string{"faults[0].target: does not apply to a power loss on trigger random: it hits the whole machine"}},
		{"power loss on the server", minimal + "faults: [{kind: power-loss, mode: lose-all, target: server, trigger: after, after_ops: 3}]\n", []string{"faults[0].target: a power loss always takes the server down"}},
		{"power loss op of other role", minimal + "faults: [{kind: power-loss, mode: torn-op, target: producers, trigger: between, op: ack}]\n", []string{"faults[0].op: the target's clients are producers, which never ack"}},
		{"power loss pause_ms", minimal + "faults: [{kind: power-loss, mode: torn-op, trigger: during, op: append, pause_ms: 5}]\n", []string{"faults[0].pause_ms: does not apply to kind power-loss"}},
		{"power loss without trigger", minimal + "faults: [{kind: power-loss, mode: torn-op}]\n", []string{`faults[0].trigger: unknown value ""`}},
		{"mode with kill", minimal + "faults: [{kind: kill, target: p1, trigger: rotation, mode: lose-all}]\n", []string{"faults[0].mode: does not apply to kind kill (only a power-loss has a mode)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; decoded %+v", s)
			}
			if s != nil {
				t.Error("a scenario returned with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var se *Error
			if !errors.As(err, &se) || se.File != "x.yaml" {
				t.Errorf("error %q is not an *Error naming the file", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse("x.yaml", []byte(minimal+"topic: {chunk_records: -1, fsync: x}\nquick: {scale: 3}\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"x.yaml:8: topic.chunk_records", "x.yaml:8: topic.fsync", "x.yaml:9: quick.scale"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("dir/my-test.yaml", []byte(`producers:
  - count: 1
    messages: 3
    size: {range: [10, 20]}
consumers:
  - count: 2
faults:
  - kind: kill
    target: producers
    trigger: random
    gap: {mean_ms: 100}
  - kind: rlimit
    target: p1
    fsize_bytes: 1000
`))
	if err != nil {
		t.Fatal(err)
	}
	p, c, f := s.Producers[0], s.Consumers[0], s.Faults[0]
	checks := []struct {
		field     string
		got, want any
	}{
		{"name", s.Name, "my-test"},
		{"file", s.File, "dir/my-test.yaml"},
		{"producer name", p.Name, "p"},
		{"batch", p.Batch, 1},
		{"consumer name", c.Name, "c"},
		{"group", c.Group, "c"},
		{"start", c.Start, "acked"},
		{"poll_max", c.PollMax, 100},
		{"poll_timeout_ms", c.PollTimeoutMS, 200},
		{"ack", c.Ack, "batch"},
		{"fsync", s.Topic.Fsync, "never"},
		{"op_ms", s.Timeouts.OpMS, 10000},
		{"run_s", s.Timeouts.RunS, 120},
		{"drain_s", s.Timeouts.DrainS, 60},
		{"stuck_ms", s.Timeouts.StuckMS, 5000},
		{"quick.scale", s.Quick.Scale, 0.1},
		{"gap.dist", f.Gap.Dist, "exponential"},
		{"probability", f.Probability, 1.0},
		{"rlimit probability", s.Faults[1].Probability, 0.0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.field, ch.got, ch.want)
		}
	}
}

func TestScaled(t *testing.T) {
	s, err := Parse("x.yaml", []byte(`name: t
producers:
  - {name: a, count: 1, messages: 1000, batch: 10, size: {fixed: 1}}
  - {name: b, count: 1, messages: 3, batch: 3, size: {list: [1, 2]}}
consumers: [{count: 1}]
faults:
  - {kind: kill, target: a1, trigger: rotation}
  - {kind: kill, target: a1, trigger: rotation, max_faults: 2}
  - {kind: kill, target: a1, trigger: rotation, max_faults: 50}
  - {kind: rlimit, target: b1, fsize_bytes: 10}
quick: {scale: 0.05, max_faults: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	full := s.Scaled(false)
	if full == s || full.Producers[0].Messages != 1000 || full.Faults[0].MaxFaults != 0 {
		t.Errorf("Scaled(false) = %+v, want an unchanged copy", full)
	}
	q := s.Scaled(true)
	if got := []int{q.Producers[0].Messages, q.Producers[0].Batch, q.Producers[1].Messages, q.Producers[1].Batch}; !slices.Equal(got, []int{50, 10, 1, 1}) {
		t.Errorf("quick messages/batch = %v, want [50 10 1 1]", got)
	}
	if got := []int{q.Faults[0].MaxFaults, q.Faults[1].MaxFaults, q.Faults[2].MaxFaults, q.Faults[3].MaxFaults}; !slices.Equal(got, []int{5, 2, 5, 0}) {
		t.Errorf("quick max_faults = %v, want [5 2 5 0]", got)
	}
	if err := q.Validate(); err != nil {
		t.Errorf("the quick copy does not validate: %v", err)
	}
	// The copy is deep: changing it leaves the original alone.
	q.Producers[1].Size.List[0] = 99
	q.Faults[0].Target = "b1"
	if s.Producers[1].Size.List[0] != 1 || s.Faults[0].Target != "a1" || s.Producers[0].Messages != 1000 {
		t.Error("Scaled changed the original")
	}
	// Without max_faults under quick, faults keep their bound.
	s.Quick.MaxFaults = 0
	if got := s.Scaled(true).Faults[2].MaxFaults; got != 50 {
		t.Errorf("max_faults = %d without quick.max_faults, want 50", got)
	}
}

func TestClientHelpers(t *testing.T) {
	s, err := Parse("x.yaml", []byte(`name: t
producers:
  - {count: 2, messages: 1, size: {list: [10, 20, 30]}}
  - {name: big, count: 1, messages: 1, size: {range: [5, 8]}}
consumers:
  - {count: 2, group: g, group_per_client: true}
  - {name: s, count: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ProducerNames(); !slices.Equal(got, []string{"p1", "p2", "big1"}) {
		t.Errorf("ProducerNames = %v", got)
	}
	if got := s.ConsumerNames(); !slices.Equal(got, []string{"c1", "c2", "s1"}) {
		t.Errorf("ConsumerNames = %v", got)
	}
	list := s.Producers[0]
	for i, want := range []int{10, 20, 30, 10} {
		if got := list.SizeFor(i, nil); got != want {
			t.Errorf("SizeFor(%d) = %d, want %d", i, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[int]bool{}
	for range 200 {
		n := s.Producers[1].SizeFor(0, rng)
		if n < 5 || n > 8 {
			t.Fatalf("SizeFor in range [5, 8] = %d", n)
		}
		seen[n] = true
	}
	if len(seen) != 4 {
		t.Errorf("range sizes seen: %v, want all of 5..8", seen)
	}
	if got := s.Producers[1].SizeFor(0, nil); got != 5 {
		t.Errorf("SizeFor without rng = %d, want the minimum", got)
	}
	fixed := ProducerGroup{Size: Sizes{Fixed: 7}}
	if got := fixed.SizeFor(3, rng); got != 7 {
		t.Errorf("fixed SizeFor = %d", got)
	}
	if got := []string{s.Consumers[0].GroupFor(0), s.Consumers[0].GroupFor(1), s.Consumers[1].GroupFor(0)}; !slices.Equal(got, []string{"g-1", "g-2", "s"}) {
		t.Errorf("GroupFor = %v", got)
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("builtin:tail-follow")
	if err != nil || s.Name != "tail-follow" {
		t.Fatalf("Lookup(builtin:tail-follow) = %v, %v", s, err)
	}
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Lookup(path)
	if err != nil || s.Name != "t" || s.File != path {
		t.Fatalf("Lookup(file) = %+v, %v", s, err)
	}
	_, err = Lookup("no-such-scenario")
	if err == nil || !strings.Contains(err.Error(), "no-such-scenario") || !strings.Contains(err.Error(), "tail-follow") {
		t.Errorf("Lookup(unknown) error %q does not name the input and the built-ins", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(minimal+"oops: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad+":8:") {
		t.Errorf("LoadFile(bad) error %q does not name file:line", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadFile(missing) succeeded")
	}
}
