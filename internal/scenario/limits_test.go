package scenario

import (
	"errors"
	"strings"
	"testing"
)

// TestLimits: a scenario too big for klcheck's history, or for the
// machine, is refused with the field, its line, the limit and why.
func TestLimits(t *testing.T) {
	// producer returns a scenario of one producer group and one consumer
	// group; line 4 is messages, line 5 size, line 8 the consumers' count.
	producer := func(count, messages, size, consumers string, extra ...string) string {
		return "name: t\nproducers:\n  - count: " + count + "\n    messages: " + messages + "\n    size: {fixed: " + size + "}\n" +
			"consumers:\n  - start: earliest\n    count: " + consumers + "\n" + strings.Join(extra, "")
	}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"messages", producer("1", "1000000000000", "100", "1"),
			"x.yaml:4: producers[0].messages: 1000000000000 is more than klcheck's history can hold (at most 1000000 messages in a scenario, about 900 bytes of memory each besides the value)"},
		{"messages of the largest int", producer("1", "9223372036854775807", "100", "1"),
			"x.yaml:4: producers[0].messages: 9223372036854775807 is more than klcheck's history can hold"},
		{"count times messages", producer("4", "300000", "100", "1"),
			"x.yaml:4: producers[0].messages: 4 producers × 300000 messages are 1200000 messages, more than klcheck's history can hold (at most 1000000"},
		{"messages of two groups", "name: t\nproducers:\n  - {count: 1, messages: 600000, size: {fixed: 100}}\n  - name: q\n    count: 1\n    messages: 600000\n    size: {fixed: 10}\n",
			"x.yaml:6: producers[1].messages: 1 producer × 600000 messages bring the scenario to 1200000 messages"},
		{"producers", producer("1000000000000", "10", "100", "1"),
			"x.yaml:3: producers[0].count: 1000000000000 brings the scenario to 1000000000000 clients, more than the limit of 256"},
		{"consumers", producer("1", "10", "100", "300"),
			"x.yaml:8: consumers[0].count: 300 brings the scenario to 301 clients, more than the limit of 256"},
		{"value bytes", producer("1", "2000", "1048576", "1"),
			"x.yaml:5: producers[0].size.fixed: 1 producer × 2000 messages of up to 1048576 bytes bring the scenario to 2 GiB of values, more than klcheck's history can hold (at most 1 GiB of values in a scenario"},
		{"deliveries", producer("1", "1000000", "10", "3"),
			"x.yaml:8: consumers[0].count: 3 consumer clients and the final drain, each reading all 1000000 messages, make 4000000 deliveries, more than klcheck's history can hold (at most 3000000 records delivered in a scenario, about 200 bytes of memory each)"},
		{"deliveries of groups that never ack", producer("1", "700000", "10", "2", "    ack: none\n    group_per_client: true\n"),
			"x.yaml:8: consumers[0].count: 2 consumer clients, the final drain and the drains of 2 groups that never ack, each reading all 700000 messages, make 3500000 deliveries"},
		{"recorded bytes", producer("1", "1000", "1048576", "3"),
			"x.yaml:8: consumers[0].count: 3 consumer clients and the final drain, each reading all 1000 MiB of values, make the history record 4.9 GiB of values, more than klcheck can hold (at most 4 GiB"},
		{"requests", producer("1", "800000", "10", "1", "    poll_max: 1\n    ack: each\n"),
			"x.yaml:8: consumers[0].count: the clients would make about 3200000 requests (800000 appends, 1600000 polls, 800000 acks), more than klcheck's history can hold (at most 3000000 operations in a scenario, about 300 bytes of memory each); 1 client of consumers[0] may make 1600000 polls and acks: a consumer that keeps up with the producers polls once per record, and makes an ack per record (ack: each)"},
		{"requests of a consumer that keeps up", "name: t\nproducers:\n  - count: 4\n    messages: 250000\n    size: {fixed: 10}\nconsumers:\n  - count: 1\n",
			"x.yaml:7: consumers[0].count: the clients would make about 3010000 requests (1000000 appends, 1010000 polls, 1000000 acks)"},
		{"requests of the drain", producer("1", "800000", "10", "1", "    poll_max: 1\n    ack: none\n"),
			"x.yaml:9: consumers[0].poll_max: the clients would make about 3200000 requests (800000 appends, 2400000 polls, 0 acks), more than klcheck's history can hold (at most 3000000 operations in a scenario, about 300 bytes of memory each); the final drain makes 1600000 polls with poll_max 1"},
		{"memory", "name: t\nproducers:\n  - count: 1\n    messages: 800000\n    batch: 100\n    size: {fixed: 800}\nconsumers:\n  - count: 1\n",
			"x.yaml:6: producers[0].size.fixed: the history and its checks would take about 1.8 GiB of memory"},
		{"append line", "name: t\nproducers:\n  - count: 1\n    messages: 300\n    batch: 300\n    size: {fixed: 1048576}\n",
			"x.yaml:5: producers[0].batch: 300 values of up to 1048576 bytes make append requests of up to 300 MiB, more than the 256 MiB a request line may hold: lower batch to at most 255"},
		{"poll line", producer("1", "10", "67108864", "1"),
			"x.yaml:7: consumers[0].poll_max: 100 records of up to 67108864 bytes (the scenario's largest value) make poll replies of up to 6.3 GiB, more than the 256 MiB klcheck reads in one reply line: lower poll_max to at most 3"},
		{"run_s", producer("1", "10", "100", "1", "timeouts: {run_s: 1000000000}\n"),
			"x.yaml:9: timeouts.run_s: 1000000000 is more than the limit of 86400 s (24 hours)"},
		{"drain_s", producer("1", "10", "100", "1", "timeouts: {drain_s: 100000}\n"),
			"x.yaml:9: timeouts.drain_s: 100000 is more than the limit of 86400 s"},
		{"op_ms", producer("1", "10", "100", "1", "timeouts: {op_ms: 9223372036854775807}\n"),
			"x.yaml:9: timeouts.op_ms: 9223372036854775807 is more than the limit of 86400000 ms (24 hours)"},
		{"init_ms", producer("1", "10", "100", "1", "timeouts: {init_ms: 86400001}\n"),
			"x.yaml:9: timeouts.init_ms: 86400001 is more than the limit of 86400000 ms"},
		{"start delay", "name: t\nproducers:\n  - count: 1\n    messages: 1\n    size: {fixed: 1}\n    start_delay_ms: 100000000000\n",
			"x.yaml:6: producers[0].start_delay_ms: 100000000000 is more than the limit of 86400000 ms"},
		{"consumer delay", producer("1", "10", "100", "1", "    delay_ms: 100000000000\n"),
			"x.yaml:9: consumers[0].delay_ms: 100000000000 is more than the limit of 86400000 ms"},
		{"gap", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: random, gap: {mean_ms: 100000000000}}]\n"),
			"x.yaml:9: faults[0].gap.mean_ms: 100000000000 is more than the limit of 86400000 ms"},
		{"uniform gap", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: random, gap: {dist: uniform, max_ms: 9223372036854775807}}]\n"),
			"x.yaml:9: faults[0].gap.max_ms: 9223372036854775807 is more than the limit of 86400000 ms"},
		{"restart after", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: rotation, restart: true, restart_after_ms: 100000000000}]\n"),
			"x.yaml:9: faults[0].restart_after_ms: 100000000000 is more than the limit of 86400000 ms"},
		{"kills", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: rotation, max_faults: 1000000000000}]\n"),
			"x.yaml:9: faults[0].max_faults: 1000000000000 is more than the limit of 100000 firings"},
		{"quick kills", producer("1", "10", "100", "1", "quick: {max_faults: 1000000000000}\n"),
			"x.yaml:9: quick.max_faults: 1000000000000 is more than the limit of 100000 firings"},
		{"after_ops", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: after, after_ops: 1000000000000}]\n"),
			"x.yaml:9: faults[0].after_ops: 1000000000000 is more than the limit of 4000000 operations"},
		{"during delay", producer("1", "10", "100", "1", "faults: [{kind: kill, target: p1, trigger: during, op: append, max_delay_us: 9223372036854775807}]\n"),
			"x.yaml:9: faults[0].max_delay_us: 9223372036854775807 µs is not less than timeouts.op_ms (10000 ms)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; estimate %+v", s.Estimate())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
			var se *Error
			if !errors.As(err, &se) || se.Line == 0 {
				t.Errorf("error %q has no line", err)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n > 1 {
				t.Errorf("%d errors for one cause:\n%s", n, err)
			}
		})
	}
}

// TestEstimate: what a scenario is expected to put in the history.
func TestEstimate(t *testing.T) {
	s, err := Parse("x.yaml", []byte(`name: t
producers:
  - count: 2
    messages: 100
    batch: 10
    size: {list: [50, 300]}
consumers:
  - count: 2
    poll_max: 30
    ack: each
  - name: d
    count: 1
    poll_max: 50
    ack: none
`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Estimate()
	// 200 messages; readers: 3 clients, the drain, and group d's drain.
	// A consumer may poll once per record; the drain polls 30 at a time.
	want := Estimate{Messages: 200, ValueBytes: 200 * 300, Deliveries: 200 * 5, RecordBytes: 200 * 300 * 6,
		Appends: 20, Polls: 3*200 + 2*7, Acks: 2 * 200}
	want.Memory = int64(float64(want.ValueBytes)*MemPerValueByte) + want.Messages*MemPerMessage +
		want.Deliveries*MemPerDelivery + want.Ops()*MemPerOp
	if got != want {
		t.Errorf("estimate\n%+v, want\n%+v", got, want)
	}
}
