package run

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// memShape is the shape of a synthetic run for the memory measurement.
type memShape struct {
	messages  int // in all, from 4 producers
	size      int // value size
	batch     int // values per append
	consumers int // consumer clients, one group each, reading everything
	pollMax   int // records per poll of the consumers
	drainPoll int // records per poll of the drain (0: pollMax)
	ackEach   bool
}

// feedRecorder records, through rec.add as the harness does, the history
// of a run of shape sh against a correct log: the appends, each consumer's
// polls and acks, and a drain from the earliest record. Every value is
// made afresh where it is used, as the producers make them and as JSON
// decoding makes the delivered copies.
func feedRecorder(rec *recorder, sh memShape) {
	producers := []string{"p1", "p2", "p3", "p4"}
	value := func(i int) string {
		return values.Make(producers[i/sh.batch%len(producers)], int64(i+1), sh.size)
	}
	t := int64(0)
	op := func(client, role, group, f, phase string) history.Op {
		t += 10
		return history.Op{Client: client, Session: 1, Role: role, Group: group, F: f, Phase: phase,
			Invoke: t, Complete: t + 5, Outcome: history.OK}
	}
	for i := 0; i < sh.messages; i += sh.batch {
		p := producers[i/sh.batch%len(producers)]
		n := min(sh.batch, sh.messages-i)
		a := op(p, roleProducer, "", history.FAppend, phaseMain)
		ids := make([]values.ID, n)
		a.Values = make([]string, n)
		for k := range n {
			a.Values[k] = value(i + k)
			ids[k] = values.ID{Producer: p, Seq: int64(i + k + 1)}
			a.Offsets = append(a.Offsets, protocol.Int64(int64(i+k)))
		}
		rec.noteSent(ids, t)
		rec.add(a, "")
	}
	read := func(client, group, phase, start string) {
		in := op(client, roleConsumer, group, history.FInit, phase)
		in.Start = start
		rec.add(in, "")
		per := sh.pollMax
		if phase == phaseDrain && sh.drainPoll > 0 {
			per = sh.drainPoll
		}
		for i := 0; i < sh.messages; i += per {
			end := min(i+per, sh.messages)
			p := op(client, roleConsumer, group, history.FPoll, phase)
			for k := i; k < end; k++ {
				p.Records = append(p.Records, history.Record{Offset: int64(k), Value: value(k)})
			}
			rec.add(p, "")
			if phase == phaseDrain {
				continue
			}
			from := end - 1
			if sh.ackEach {
				from = i
			}
			for k := from; k < end; k++ {
				a := op(client, roleConsumer, group, history.FAck, phase)
				a.Offset = protocol.Int64(int64(k))
				rec.add(a, "")
			}
		}
	}
	for c := range sh.consumers {
		read("c"+strconv.Itoa(c+1), "g"+strconv.Itoa(c+1), phaseMain, protocol.StartEarliest)
	}
	read("drain-earliest", "klcheck-drain", phaseDrain, protocol.StartEarliest)
}

// heapSampler records the largest HeapInuse seen while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *heapSampler) end() uint64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMeasureHistoryMemory measures the memory a run's history, its
// recorder and the checks take, for the limits of
// internal/scenario/limits.go. It runs only when KLCHECK_MEASURE names a
// shape (it takes seconds and gigabytes), one shape per process so that
// VmHWM is the shape's peak:
//
//	go test -c -o /tmp/run.test ./internal/run/
//	cd internal/run
//	KLCHECK_MEASURE=messages=1000000,size=100,consumers=2 /tmp/run.test -test.run TestMeasureHistoryMemory -test.v
//
// With GOGC=10 the peaks are close to the live heap, which is what the
// costs in internal/scenario/limits.go are fitted to; with the default
// GOGC, VmHWM is what klcheck would take.
//
// The keys are messages, size, batch, consumers, poll (records per poll),
// drainpoll (records per poll of the drain), ack (each or batch) and
// spill (0 for the in-memory path).
func TestMeasureHistoryMemory(t *testing.T) {
	spec := os.Getenv("KLCHECK_MEASURE")
	if spec == "" {
		t.Skip("set KLCHECK_MEASURE to a shape to measure")
	}
	sh := memShape{messages: 200_000, size: 100, batch: 1, consumers: 1, pollMax: 100}
	spill := true
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "messages":
			sh.messages = n
		case "size":
			sh.size = n
		case "batch":
			sh.batch = n
		case "consumers":
			sh.consumers = n
		case "poll":
			sh.pollMax = n
		case "drainpoll":
			sh.drainPoll = n
		case "ack":
			sh.ackEach = v == "each"
		case "spill":
			spill = v != "0"
		default:
			t.Fatalf("unknown key %q", k)
		}
	}
	base := liveHeap()
	rec := newRecorder(time.Now(), nil)
	if spill {
		rec.spill(filepath.Join(t.TempDir(), spillFileName), 0)
	}
	defer rec.close()
	s := sampleHeap()
	began := time.Now()
	feedRecorder(rec, sh)
	duringRun := s.end() - base
	recorded := time.Since(began)
	s = sampleHeap()
	began = time.Now()
	if err := rec.finish(); err != nil {
		t.Fatal(err)
	}
	h, err := rec.readAll()
	if err != nil {
		t.Fatal(err)
	}
	readBack := time.Since(began)
	held := liveHeap() - base
	began = time.Now()
	res, err := check.Run(h, nil, check.Options{MaxRedeliveryPerCrash: sh.pollMax})
	checked := time.Since(began)
	peak := s.end() - base
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != check.Pass {
			t.Errorf("%s: %+v", r.Check, r)
		}
	}
	c := rec.snapshot()
	valueBytes := int64(sh.size) * int64(sh.messages)
	t.Logf("%+v spill=%v: %d ops, %d records delivered, %d bytes of values appended", sh, spill, c.Ops, c.Delivered, valueBytes)
	t.Logf("recording: peak heap %s in %v", mib(duringRun), recorded.Round(time.Millisecond))
	t.Logf("read back: %s held (%.0f B/msg, %.0f B/op) in %v", mib(held), float64(held)/float64(sh.messages), float64(held)/float64(c.Ops), readBack.Round(time.Millisecond))
	t.Logf("checks: peak heap %s (%.0f B/msg beyond the appended values) in %v", mib(peak),
		float64(int64(peak)-valueBytes)/float64(sh.messages), checked.Round(time.Millisecond))
	runtime.KeepAlive(h)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM") {
				t.Log(l)
			}
		}
	}
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
