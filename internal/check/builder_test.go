package check

import (
	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// v is message n of producer p.
func v(p string, n int64) string { return values.Make(p, n, 40) }

// rec is one delivered record.
func rec(off int64, val string) history.Record { return history.Record{Offset: off, Value: val} }

// run returns records at consecutive offsets from off.
func run(off int64, vals ...string) []history.Record {
	out := make([]history.Record, len(vals))
	for i, val := range vals {
		out[i] = rec(off+int64(i), val)
	}
	return out
}

// hb builds a history concisely: each op gets the next time slot
// [t+10, t+15] unless moved with at.
type hb struct {
	h history.History
	t int64
}

func (b *hb) add(op history.Op) *hb {
	op.Index = len(b.h)
	if op.Session == 0 {
		op.Session = 1
	}
	b.t += 10
	op.Invoke, op.Complete = b.t, b.t+5
	if op.Outcome == "" {
		op.Outcome = history.OK
	}
	if op.Phase == "" {
		op.Phase = "main"
	}
	b.h = append(b.h, op)
	return b
}

// at sets the times of the last op.
func (b *hb) at(invoke, complete int64) *hb {
	b.h[len(b.h)-1].Invoke, b.h[len(b.h)-1].Complete = invoke, complete
	return b
}

// outcome sets the outcome of the last op.
func (b *hb) outcome(o history.Outcome) *hb {
	b.h[len(b.h)-1].Outcome = o
	return b
}

// app is an ok append by producer p; offs are the offsets it returned.
func (b *hb) app(p string, vals []string, offs ...int64) *hb {
	op := history.Op{Client: p, Role: protocol.RoleProducer, F: history.FAppend, Values: vals}
	for _, o := range offs {
		op.Offsets = append(op.Offsets, protocol.Int64(o))
	}
	return b.add(op)
}

// init starts consumer session sess of c in group g from start.
func (b *hb) init(c string, sess int, g, start string) *hb {
	return b.add(history.Op{Client: c, Session: sess, Role: protocol.RoleConsumer, Group: g, F: history.FInit, Start: start})
}

// poll is an ok poll by consumer session sess of c in group g.
func (b *hb) poll(c string, sess int, g string, recs ...history.Record) *hb {
	return b.add(history.Op{Client: c, Session: sess, Role: protocol.RoleConsumer, Group: g, F: history.FPoll, Records: recs})
}

// ack is an ok ack of off by session sess of c in group g.
func (b *hb) ack(c string, sess int, g string, off int64) *hb {
	return b.add(history.Op{Client: c, Session: sess, Role: protocol.RoleConsumer, Group: g, F: history.FAck, Offset: protocol.Int64(off)})
}

// drain is a drain-phase consumer d reading from earliest and delivering
// recs in one poll.
func (b *hb) drain(d string, recs ...history.Record) *hb {
	b.add(history.Op{Client: d, Role: protocol.RoleConsumer, Group: "drain-" + d, F: history.FInit, Start: protocol.StartEarliest, Phase: "drain"})
	return b.add(history.Op{Client: d, Role: protocol.RoleConsumer, Group: "drain-" + d, F: history.FPoll, Records: recs, Phase: "drain"})
}

// stuck is a stuck event for c.
func (b *hb) stuck(c, why string) *hb {
	return b.add(history.Op{Client: c, Role: protocol.RoleConsumer, F: history.FStuck, Error: why})
}

// powerLoss is a power loss of the machine in mode.
func (b *hb) powerLoss(mode string) *hb {
	return b.add(history.Op{Client: history.MachineClient, Role: history.MachineClient, F: history.FPowerLoss,
		Error: "random", Loss: &history.PowerLoss{Mode: mode}})
}

// appSess is an ok append by session sess of producer p.
func (b *hb) appSess(p string, sess int, vals []string, offs ...int64) *hb {
	b.app(p, vals, offs...)
	b.h[len(b.h)-1].Session = sess
	return b
}
