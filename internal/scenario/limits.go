package scenario

import (
	"fmt"
	"math"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Limits of what klcheck's history can hold and what one machine can run.
// A scenario past one of them is refused by Validate, naming the field;
// docs/SCENARIOS.md ("Limits") explains each. The costs per message,
// delivery, operation and value byte were measured with
// TestMeasureHistoryMemory (internal/run/memory_test.go): the live heap of
// the recorded history read back, plus the checks' index, per unit.
const (
	// MaxMessages bounds the values all producers of a scenario append
	// together (count × messages, summed over the producer groups).
	MaxMessages = 1_000_000
	// MaxDeliveries bounds the records the consumers and the final drain
	// are expected to receive: messages × (consumer clients + 1 for the
	// drain from the earliest record + 1 per consumer group that never
	// acks, whose drain reads everything again).
	MaxDeliveries = 3_000_000
	// MaxOps bounds the requests the clients may make: the appends, the
	// polls and acks of the consumers (up to one poll per record, for a
	// consumer that keeps up with the producers), and the drain's polls.
	MaxOps = 3_000_000
	// MaxValueBytes bounds the bytes of values the producers append (count
	// × messages × the group's largest size): the history keeps each
	// value to compare it with what the consumers read.
	MaxValueBytes = 1 << 30
	// MaxRecordBytes bounds the bytes of values the history records: each
	// appended value once, and once more for each expected delivery. The
	// recorder writes them to its spill file and reads them back.
	MaxRecordBytes = 4 << 30
	// MaxMemory bounds the estimated memory of the history and the checks
	// together: MemPerMessage, MemPerDelivery and MemPerOp for each, plus
	// the values (MemPerValueByte). Go's collector can take twice the live
	// heap, so a scenario at the limit stays below 3 GiB.
	MaxMemory = 1536 << 20
	// MaxLineBytes bounds one request or reply line of the protocol: an
	// append of batch values, or a poll reply of poll_max records.
	MaxLineBytes = protocol.MaxLine
	// MaxDurationMS bounds every duration in milliseconds (24 hours).
	MaxDurationMS = 24 * 60 * 60 * 1000
	// MaxDurationS bounds run_s and drain_s (24 hours).
	MaxDurationS = 24 * 60 * 60
	// MaxFaults bounds a fault's max_faults and quick.max_faults: every
	// firing starts or stops processes and adds to the history.
	MaxFaults = 100_000
)

// Measured live memory of the history and the checks, in bytes.
const (
	// MemPerMessage is the cost of one appended value beyond its bytes
	// and its operations and deliveries: the checks' maps and the
	// recorder's send times.
	MemPerMessage = 400
	// MemPerDelivery is the cost of one delivered record in the history
	// and the checks' index (its value is shared with the appended one).
	MemPerDelivery = 200
	// MemPerOp is the cost of one operation of the history.
	MemPerOp = 300
	// MemPerValueByte is the cost of one byte of the appended values,
	// held once; Go's allocation classes round strings up.
	MemPerValueByte = 1.25
)

// Limits of a history as it is recorded, which the recorder enforces by
// stopping the run: they catch what the scenario's sizes do not predict,
// such as a consumer polling an idle log for a long run_s, or restarting
// without acks and reading everything again. They leave room above the
// scenario limits, which a correct implementation stays under.
const (
	// MaxHistoryOps bounds the operations of a recorded history.
	MaxHistoryOps = 4_000_000
	// MaxHistoryRecords bounds the records its polls delivered.
	MaxHistoryRecords = 4_000_000
	// MaxHistoryBytes bounds the bytes of values it holds, every copy
	// counted.
	MaxHistoryBytes = 6 << 30
)

// Estimate is what a scenario is expected to make a history hold, for
// the limits (saturating at math.MaxInt64 rather than overflowing).
type Estimate struct {
	Messages   int64 // values appended
	ValueBytes int64 // bytes of values appended, at each group's largest size
	Deliveries int64 // records delivered to the consumers and the drain
	// RecordBytes is the bytes of values the history records: appended
	// and delivered.
	RecordBytes int64
	Appends     int64 // append requests
	Polls       int64 // poll requests, the drain's included
	Acks        int64 // ack requests
	// Memory is the estimated live memory of the history and the checks.
	Memory int64
}

// Ops is the number of requests: appends, polls and acks.
func (e Estimate) Ops() int64 { return addSat(e.Appends, addSat(e.Polls, e.Acks)) }

// Estimate returns what s is expected to make a history hold at full size
// (Scaled(true) only lowers it). It expects the defaults applied and the
// counts, sizes, batch and poll_max valid.
func (s *Scenario) Estimate() Estimate {
	return s.estimate().Estimate
}

// estimation is an Estimate with the groups that contribute to it, for
// naming the field that crosses a limit.
type estimation struct {
	Estimate
	readers     int64   // clients reading every message: consumer clients, the drain, and the drains of groups that never ack
	noAckGroups int     // consumer groups that never ack
	groupOps    []int64 // per consumer group, its polls and acks
	drainPolls  int64
	drainGroup  int // the consumer group whose poll_max the drain uses (-1: none)
}

func (s *Scenario) estimate() estimation {
	var e estimation
	for _, g := range s.Producers {
		n := mulSat(int64(g.Count), int64(g.Messages))
		e.Messages = addSat(e.Messages, n)
		e.ValueBytes = addSat(e.ValueBytes, mulSat(n, int64(maxSize(g.Size))))
		e.Appends = addSat(e.Appends, mulSat(int64(g.Count), ceilDiv(int64(g.Messages), int64(max(g.Batch, 1)))))
	}
	m := e.Messages
	// The drain: one consumer from the earliest record, one per group
	// resuming from its acks (which reads everything again when the group
	// never acks), polling with the smallest poll_max of the scenario.
	drainReaders := int64(1)
	noAck := map[string]bool{}
	drainPollMax := int64(DefaultPollMax)
	e.drainGroup = -1
	e.readers = 0
	for i, g := range s.Consumers {
		count, pollMax := int64(g.Count), int64(max(g.PollMax, 1))
		e.readers = addSat(e.readers, count)
		recs := mulSat(count, m)
		// A consumer that keeps up with the producers gets what is new at
		// each poll, often a single record, whatever its poll_max.
		polls := recs
		var acks int64
		switch g.Ack {
		case AckEach:
			acks = recs
		case AckBatch:
			acks = polls
		default:
			for c := range min(g.Count, MaxClients) {
				noAck[g.GroupFor(c)] = true
			}
		}
		e.Polls = addSat(e.Polls, polls)
		e.Acks = addSat(e.Acks, acks)
		e.groupOps = append(e.groupOps, addSat(polls, acks))
		if e.drainGroup < 0 || pollMax < drainPollMax {
			drainPollMax, e.drainGroup = pollMax, i
		}
	}
	e.noAckGroups = len(noAck)
	drainReaders += int64(len(noAck))
	e.readers = addSat(e.readers, drainReaders)
	e.drainPolls = mulSat(drainReaders, ceilDiv(m, drainPollMax))
	e.Polls = addSat(e.Polls, e.drainPolls)
	e.Deliveries = mulSat(m, e.readers)
	e.RecordBytes = mulSat(e.ValueBytes, addSat(e.readers, 1))
	mem := float64(e.ValueBytes)*MemPerValueByte + float64(m)*MemPerMessage +
		float64(e.Deliveries)*MemPerDelivery + float64(e.Ops())*MemPerOp
	e.Memory = math.MaxInt64
	if mem < 1<<62 {
		e.Memory = int64(mem)
	}
	return e
}

// maxSize is the largest value size of z.
func maxSize(z Sizes) int {
	n := max(z.Fixed, z.Range[0], z.Range[1])
	for _, v := range z.List {
		n = max(n, v)
	}
	return n
}

// sizeField is the path of the size field that is set in z.
func sizeField(p string, z Sizes) string {
	switch {
	case z.Fixed != 0:
		return p + ".size.fixed"
	case z.List != nil:
		return p + ".size.list"
	default:
		return p + ".size.range"
	}
}

// maxValueSize is the largest value size of any producer of s.
func (s *Scenario) maxValueSize() int {
	n := 0
	for _, g := range s.Producers {
		n = max(n, maxSize(g.Size))
	}
	return n
}

// atMost reports n over max; what follows the limit in the message is its
// unit and why.
func (v *validator) atMost(field string, n, max int64, why string) {
	if n > max {
		v.add(field, "%d is more than the limit of %d %s", n, max, why)
	}
}

// Line overheads: the JSON around one value of an append request, and
// around one record of a poll reply (its offset and keys).
const (
	appendValueOverhead = 3
	pollRecordOverhead  = 64
)

// validateLimits checks s against the limits of what klcheck can hold and
// run. The sums and products are checked only when the fields they come
// from are valid, each limit once, naming the group that crosses it.
func (s *Scenario) validateLimits(v *validator) {
	// Durations: time.Duration of an int of milliseconds overflows past
	// about 292 years, and a day is more than any run needs.
	const day = "(24 hours)"
	for i, g := range s.Producers {
		v.atMost(fmt.Sprintf("producers[%d].start_delay_ms", i), int64(g.StartDelayMS), MaxDurationMS, "ms "+day)
	}
	for i, g := range s.Consumers {
		p := fmt.Sprintf("consumers[%d]", i)
		v.atMost(p+".delay_ms", int64(g.DelayMS), MaxDurationMS, "ms "+day)
	}
	for i, f := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		v.atMost(p+".restart_after_ms", int64(f.RestartAfterMS), MaxDurationMS, "ms "+day)
		v.atMost(p+".gap.mean_ms", int64(f.Gap.MeanMS), MaxDurationMS, "ms "+day)
		v.atMost(p+".gap.min_ms", int64(f.Gap.MinMS), MaxDurationMS, "ms "+day)
		v.atMost(p+".gap.max_ms", int64(f.Gap.MaxMS), MaxDurationMS, "ms "+day)
		v.atMost(p+".max_faults", int64(f.MaxFaults), MaxFaults, "firings (each starts or stops processes and adds to the history)")
		v.atMost(p+".after_ops", int64(f.AfterOps), MaxHistoryOps, "operations (a history holds no more, so it would never fire)")
		if op := int64(s.Timeouts.OpMS); op > 0 && int64(f.MaxDelayUS) >= op*1000 {
			v.add(p+".max_delay_us", "%d µs is not less than timeouts.op_ms (%d ms): the fault would land after the reply, with the client waiting for it", f.MaxDelayUS, op)
		}
	}
	t := s.Timeouts
	v.atMost("timeouts.op_ms", int64(t.OpMS), MaxDurationMS, "ms "+day)
	v.atMost("timeouts.init_ms", int64(t.InitMS), MaxDurationMS, "ms "+day)
	v.atMost("timeouts.stuck_ms", int64(t.StuckMS), MaxDurationMS, "ms "+day)
	v.atMost("timeouts.run_s", int64(t.RunS), MaxDurationS, "s "+day)
	v.atMost("timeouts.drain_s", int64(t.DrainS), MaxDurationS, "s "+day)
	v.atMost("quick.max_faults", int64(s.Quick.MaxFaults), MaxFaults, "firings")

	// The sums and products need valid counts, sizes, batches and polls.
	clients := int64(0)
	for _, g := range s.Producers {
		if g.Count < 1 || g.Messages < 1 || g.Batch < 1 || g.Batch > g.Messages || !validSizes(g.Size) {
			return
		}
		clients = addSat(clients, int64(g.Count))
	}
	for _, g := range s.Consumers {
		if g.Count < 1 || g.PollMax < 1 {
			return
		}
		clients = addSat(clients, int64(g.Count))
	}
	if clients > MaxClients {
		return
	}

	// One request or reply line.
	largest := int64(s.maxValueSize())
	for i, g := range s.Producers {
		line := mulSat(int64(g.Batch), int64(maxSize(g.Size))+appendValueOverhead)
		if line > MaxLineBytes {
			v.add(fmt.Sprintf("producers[%d].batch", i), "%d values of up to %d bytes make append requests of up to %s, more than the %s a request line may hold: lower batch to at most %d",
				g.Batch, maxSize(g.Size), bytesText(line), bytesText(MaxLineBytes), MaxLineBytes/(int64(maxSize(g.Size))+appendValueOverhead))
		}
	}
	if largest > 0 {
		for i, g := range s.Consumers {
			line := mulSat(int64(g.PollMax), largest+pollRecordOverhead)
			if line > MaxLineBytes {
				v.add(fmt.Sprintf("consumers[%d].poll_max", i), "%d records of up to %d bytes (the scenario's largest value) make poll replies of up to %s, more than the %s klcheck reads in one reply line: lower poll_max to at most %d",
					g.PollMax, largest, bytesText(line), bytesText(MaxLineBytes), MaxLineBytes/(largest+pollRecordOverhead))
			}
		}
	}

	// Messages, counted group by group: name the group that crosses.
	total := int64(0)
	for i, g := range s.Producers {
		n := mulSat(int64(g.Count), int64(g.Messages))
		before := total
		total = addSat(total, n)
		if total <= MaxMessages {
			continue
		}
		p := fmt.Sprintf("producers[%d].messages", i)
		each := fmt.Sprintf("(at most %d messages in a scenario, about %d bytes of memory each besides the value)", MaxMessages, MemPerMessage+MemPerOp+MemPerDelivery)
		switch {
		case int64(g.Messages) > MaxMessages:
			v.add(p, "%d is more than klcheck's history can hold %s", g.Messages, each)
		case before == 0:
			v.add(p, "%s × %d messages are %s messages, more than klcheck's history can hold %s", plural(g.Count, "producer"), g.Messages, countText(total), each)
		default:
			v.add(p, "%s × %d messages bring the scenario to %s messages, more than klcheck's history can hold %s", plural(g.Count, "producer"), g.Messages, countText(total), each)
		}
		// Every product below grows with the messages: one error is enough.
		return
	}

	e := s.estimate()
	over := false
	// Bytes of values, group by group.
	vb := int64(0)
	for i, g := range s.Producers {
		vb = addSat(vb, mulSat(mulSat(int64(g.Count), int64(g.Messages)), int64(maxSize(g.Size))))
		if vb > MaxValueBytes {
			v.add(sizeField(fmt.Sprintf("producers[%d]", i), g.Size), "%s × %d messages of up to %d bytes bring the scenario to %s of values, more than klcheck's history can hold (at most %s of values in a scenario: it keeps every value to compare it with what the consumers read)",
				plural(g.Count, "producer"), g.Messages, maxSize(g.Size), bytesText(vb), bytesText(MaxValueBytes))
			over = true
			break
		}
	}
	// Deliveries and recorded bytes grow with the consumers: name the
	// consumer group that crosses.
	if e.Deliveries > MaxDeliveries || (!over && e.RecordBytes > MaxRecordBytes) {
		field := "producers"
		readers := int64(1)
		for i, g := range s.Consumers {
			readers = addSat(readers, int64(g.Count))
			field = fmt.Sprintf("consumers[%d].count", i)
			if mulSat(e.Messages, readers) > MaxDeliveries || (e.Deliveries <= MaxDeliveries && mulSat(e.ValueBytes, readers+1) > MaxRecordBytes) {
				break
			}
		}
		consumers := int(e.readers - 1 - int64(e.noAckGroups))
		who := plural(consumers, "consumer client") + " and the final drain"
		if e.noAckGroups > 0 {
			who = fmt.Sprintf("%s, the final drain and the drains of %s that never ack", plural(consumers, "consumer client"), plural(e.noAckGroups, "group"))
		}
		if e.Deliveries > MaxDeliveries {
			v.add(field, "%s, each reading all %d messages, make %s deliveries, more than klcheck's history can hold (at most %d records delivered in a scenario, about %d bytes of memory each)",
				who, e.Messages, countText(e.Deliveries), MaxDeliveries, MemPerDelivery)
		} else {
			v.add(field, "%s, each reading all %s of values, make the history record %s of values, more than klcheck can hold (at most %s in a scenario, which it writes to its spill file and reads back to check)",
				who, bytesText(e.ValueBytes), bytesText(e.RecordBytes), bytesText(MaxRecordBytes))
		}
		over = true
	}
	if ops := e.Ops(); ops > MaxOps && e.Deliveries <= MaxDeliveries {
		field, what := s.opsCulprit(e)
		v.add(field, "the clients would make about %s requests (%s appends, %s polls, %s acks), more than klcheck's history can hold (at most %d operations in a scenario, about %d bytes of memory each); %s",
			countText(ops), countText(e.Appends), countText(e.Polls), countText(e.Acks), MaxOps, MemPerOp, what)
		over = true
	}
	if !over && e.Memory > MaxMemory {
		v.add(s.memoryCulprit(e), "the history and its checks would take about %s of memory (%s for %s of values, %s for %d messages, %s for %d deliveries, %s for %d operations), more than klcheck allows (%s): lower messages, size or the consumers",
			bytesText(e.Memory),
			bytesText(int64(float64(e.ValueBytes)*MemPerValueByte)), bytesText(e.ValueBytes),
			bytesText(e.Messages*MemPerMessage), e.Messages,
			bytesText(e.Deliveries*MemPerDelivery), e.Deliveries,
			bytesText(e.Ops()*MemPerOp), e.Ops(),
			bytesText(MaxMemory))
	}
}

// opsCulprit names the field behind most of the requests, and what to do.
func (s *Scenario) opsCulprit(e estimation) (string, string) {
	best, field, what := int64(-1), "producers", ""
	for i, g := range s.Producers {
		n := mulSat(int64(g.Count), ceilDiv(int64(g.Messages), int64(g.Batch)))
		if n > best {
			best, field = n, fmt.Sprintf("producers[%d].batch", i)
			what = fmt.Sprintf("producers[%d] makes %s appends of batch %d: raise batch", i, countText(n), g.Batch)
		}
	}
	for i, g := range s.Consumers {
		if n := e.groupOps[i]; n > best {
			best, field = n, fmt.Sprintf("consumers[%d].count", i)
			acks := "an ack per poll (ack: batch)"
			switch g.Ack {
			case AckEach:
				acks = "an ack per record (ack: each)"
			case AckNone:
				acks = "no acks"
			}
			what = fmt.Sprintf("%s of consumers[%d] may make %s polls and acks: a consumer that keeps up with the producers polls once per record, and makes %s; use fewer consumers or messages",
				plural(g.Count, "client"), i, countText(n), acks)
		}
	}
	if e.drainPolls > best && e.drainGroup >= 0 {
		field = fmt.Sprintf("consumers[%d].poll_max", e.drainGroup)
		what = fmt.Sprintf("the final drain makes %s polls with poll_max %d, the smallest of the scenario's consumers: raise it", countText(e.drainPolls), s.Consumers[e.drainGroup].PollMax)
	}
	return field, what
}

// memoryCulprit names the field behind the largest part of the memory
// estimate: the values, the messages, the deliveries or the requests.
func (s *Scenario) memoryCulprit(e estimation) string {
	// The values and the messages: the producer group with the most.
	var mostBytes, mostMsgs int64 = -1, -1
	bytesField, msgsField := "producers", "producers"
	for i, g := range s.Producers {
		n := mulSat(int64(g.Count), int64(g.Messages))
		if b := mulSat(n, int64(maxSize(g.Size))); b > mostBytes {
			mostBytes, bytesField = b, sizeField(fmt.Sprintf("producers[%d]", i), g.Size)
		}
		if n > mostMsgs {
			mostMsgs, msgsField = n, fmt.Sprintf("producers[%d].messages", i)
		}
	}
	deliveriesField := msgsField
	if len(s.Consumers) > 0 {
		deliveriesField = "consumers[0].count"
	}
	opsField, _ := s.opsCulprit(e)
	field, best := bytesField, float64(e.ValueBytes)*MemPerValueByte
	for _, p := range []struct {
		n     float64
		field string
	}{
		{float64(e.Messages) * MemPerMessage, msgsField},
		{float64(e.Deliveries) * MemPerDelivery, deliveriesField},
		{float64(e.Ops()) * MemPerOp, opsField},
	} {
		if p.n > best {
			field, best = p.field, p.n
		}
	}
	return field
}

// validSizes tells whether z passed validateSizes.
func validSizes(z Sizes) bool {
	set := 0
	ok := func(n int) bool { return n >= 1 && n <= MaxValueSize }
	if z.Fixed != 0 {
		set++
		if !ok(z.Fixed) {
			return false
		}
	}
	if z.List != nil {
		set++
		if len(z.List) == 0 {
			return false
		}
		for _, n := range z.List {
			if !ok(n) {
				return false
			}
		}
	}
	if z.Range != [2]int{} {
		set++
		if !ok(z.Range[0]) || !ok(z.Range[1]) || z.Range[0] > z.Range[1] {
			return false
		}
	}
	return set == 1
}

// mulSat is a × b for non-negative a and b, saturating at math.MaxInt64.
func mulSat(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// addSat is a + b for non-negative a and b, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// ceilDiv is ⌈a / b⌉ for non-negative a and positive b.
func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a-1)/b + 1
}

// plural writes "1 producer", "2 producers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// countText writes a count, saying "more than" for a saturated one.
func countText(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9223372036854775807"
	}
	return fmt.Sprintf("%d", n)
}

// bytesText writes a byte count with its binary unit: "1.5 GiB".
func bytesText(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	u := 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[u]
}
