package check

import (
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/stretchr/testify/require"
)

var (
	always = Options{Fsync: protocol.FsyncAlways}
	never  = Options{Fsync: protocol.FsyncNever}
)

// lostTail: p1's third value (offset 2), acked and read, is lost in a
// power loss; p1's next value takes offset 2; c1's ack of 2 is lost too,
// so c1#2 reads everything again.
func lostTail() *hb {
	vals := []string{v("p1", 1), v("p1", 2), v("p1", 3), v("p1", 4)}
	b := &hb{}
	b.app("p1", vals[:2], 0, 1).app("p1", vals[2:3], 2)
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[:3]...)...).ack("c1", 1, "g", 2)
	b.powerLoss("lose-all")
	b.appSess("p1", 2, vals[3:], 2)
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(0, vals[0]), rec(1, vals[1]), rec(2, vals[3]))
	return b.drain("d", rec(0, vals[0]), rec(1, vals[1]), rec(2, vals[3]))
}

// survivedButAckLost: every record survives the power loss, but c1#2
// starts before c1's ack of offset 1.
func survivedButAckLost() *hb {
	vals := []string{v("p1", 1), v("p1", 2), v("p1", 3)}
	b := &hb{}
	b.app("p1", vals[:2], 0, 1)
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[:2]...)...).ack("c1", 1, "g", 1)
	b.powerLoss("torn-seq")
	b.appSess("p1", 2, vals[2:], 2)
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(0, vals...)...)
	return b.drain("d", run(0, vals...)...)
}

// survived: everything survives and c1#2 resumes right after its ack.
func survived() *hb {
	vals := []string{v("p1", 1), v("p1", 2), v("p1", 3)}
	b := &hb{}
	b.app("p1", vals[:2], 0, 1)
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[:2]...)...).ack("c1", 1, "g", 1)
	b.powerLoss("torn-op")
	b.appSess("p1", 2, vals[2:], 2)
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(2, vals[2])).ack("c1", 2, "g", 2)
	return b.drain("d", run(0, vals...)...)
}

// holeAfterLoss: offsets 1 and 2 are lost, and the log goes on at 3 (an
// implementation that never reuses an offset); c2 reads 0 then 3.
func holeAfterLoss() *hb {
	vals := []string{v("p1", 1), v("p1", 2), v("p1", 3), v("p1", 4)}
	b := &hb{}
	b.app("p1", vals[:3], 0, 1, 2)
	b.init("c1", 1, "g", earliest).poll("c1", 1, "g", run(0, vals[:3]...)...)
	b.powerLoss("lose-all")
	b.appSess("p1", 2, vals[3:], 3)
	b.init("c2", 1, "g2", earliest).poll("c2", 1, "g2", rec(0, vals[0]), rec(3, vals[3]))
	return b.drain("d", rec(0, vals[0]), rec(3, vals[3]))
}

func powerAnomalyCases() []anomalyCase {
	return []anomalyCase{
		{name: "acked append lost under fsync always", check: "durability", opts: always, anomaly: "lost-acked", count: 1, offset: 2,
			mention: "acknowledged under fsync always", stats: map[string]int{"lost-acked": 1, "acked-before-power-loss": 3, "power-losses": 1},
			h: lostTail},
		{name: "confirmed ack lost under fsync always (resume)", check: "resume", opts: always, anomaly: "lost-ack", count: 1, offset: 0,
			mention: "the power loss lost a confirmed ack", h: survivedButAckLost},
		{name: "confirmed ack lost under fsync always (ack-once)", check: "ack-once", opts: always, anomaly: "lost-ack", count: 2, offset: 1,
			mention: "had acked offset 1 (op 3) under fsync always before power loss 1", h: survivedButAckLost},
		{name: "offset reused while its old value is still there", check: "inconsistent-offsets", opts: never, anomaly: "inconsistent-offsets", count: 1, offset: 1,
			mention: "both in epoch 1",
			h: func() *hb {
				vals := []string{v("p1", 1), v("p1", 2), v("p2", 1)}
				b := &hb{}
				b.app("p1", vals[:2], 0, 1)
				b.init("c1", 1, "g", earliest).poll("c1", 1, "g", run(0, vals[:2]...)...)
				b.powerLoss("torn-op")
				b.app("p2", vals[2:], 1)
				b.init("c2", 1, "g2", earliest).poll("c2", 1, "g2", rec(0, vals[0]), rec(1, vals[2]))
				return b.drain("d", run(0, vals[:2]...)...)
			}},
		{name: "a surviving record skipped after a power loss", check: "poll-order", opts: never, anomaly: "poll-skip", count: 1, offset: 1,
			mention: "skipping 1 record(s)",
			h: func() *hb {
				vals := []string{v("p1", 1), v("p1", 2), v("p1", 3)}
				b := &hb{}
				b.app("p1", vals, 0, 1, 2)
				b.powerLoss("lose-all")
				b.init("c1", 1, "g", earliest).poll("c1", 1, "g", rec(0, vals[0]), rec(2, vals[2]))
				return b.drain("d", run(0, vals...)...)
			}},
		{name: "a client that cannot start after a power loss", check: "liveness", anomaly: "unrecoverable", count: 1, offset: -1,
			mention: "p1#2 could not start again after a power loss: init was refused",
			h: func() *hb {
				b := base().powerLoss("torn-op")
				return b.add(history.Op{Client: "p1", Session: 2, Role: protocol.RoleProducer, F: history.FUnrecoverable, Error: "init was refused: control file damaged"})
			}},
	}
}

func powerCleanCases() []cleanCase {
	return []cleanCase{
		{name: "fsync never: a lost acked record, a reused offset and a lost ack are counted", opts: never, h: lostTail,
			stats: map[string]map[string]int{
				"durability":           {"lost-acked": 1, "acked-before-power-loss": 3, "window-records-max": 1, "power-losses": 1},
				"inconsistent-offsets": {"reused-after-power-loss": 1},
				"producer-order":       {"lost-in-power-loss": 1},
				"resume":               {"rewound-after-power-loss": 1},
				"ack-once":             {"redelivered-after-power-loss": 2, "reused-offset-after-power-loss": 1},
			}},
		{name: "fsync never: a lost ack is counted", opts: never, h: survivedButAckLost,
			stats: map[string]map[string]int{"resume": {"rewound-after-power-loss": 1}, "ack-once": {"redelivered-after-power-loss": 2}}},
		{name: "fsync always: everything survives", opts: always, h: survived,
			stats: map[string]map[string]int{"durability": {"lost-acked": 0, "acked-before-power-loss": 2}, "resume": {"sessions": 2}}},
		{name: "fsync never: offsets lost in a power loss are not skipped", opts: never, h: holeAfterLoss,
			stats: map[string]map[string]int{"poll-order": {"skipped-absent-after-power-loss": 4}, "durability": {"lost-acked": 2}}},
	}
}

// TestLossWindows checks the durability check's account of each power
// loss: records acked since the previous one, those lost, and how long
// before the power loss the oldest lost one was acked.
func TestLossWindows(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    func() *hb
		opts Options
		want []LossWindow
		note string
	}{
		{name: "one record lost", h: lostTail, opts: never,
			want: []LossWindow{{PowerLoss: 1, AtNS: 60, Mode: "lose-all", Trigger: "random", Acked: 3, Lost: 1, WindowNS: 60 - 25}},
			note: "fsync never: 1 power losses took 1 of the 3 records acknowledged before them (allowed, counted); the most one took: 1 records, the oldest acked 0.0 ms before it"},
		{name: "nothing lost", h: survived, opts: always,
			want: []LossWindow{{PowerLoss: 1, AtNS: 50, Mode: "torn-op", Trigger: "random", Acked: 2}}},
		{name: "two power losses", opts: never, h: func() *hb {
			b := &hb{}
			b.app("p1", []string{v("p1", 1)}, 0).outcome(history.Indeterminate)
			b.powerLoss("lose-all")
			b.app("p1", []string{v("p1", 2)}, 0)
			b.powerLoss("torn-seq")
			return b.drain("d")
		}, want: []LossWindow{
			{PowerLoss: 1, AtNS: 20, Mode: "lose-all", Trigger: "random", UnackedLost: 1},
			{PowerLoss: 2, AtNS: 40, Mode: "torn-seq", Trigger: "random", Acked: 1, Lost: 1, WindowNS: 40 - 35},
		}, note: "fsync never: 2 power losses took 1 of the 1 records acknowledged before them (allowed, counted); the most one took: 1 records, the oldest acked 0.0 ms before it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Durability(tc.h().h, tc.opts)
			require.Equal(t, Pass, r.Status, "%+v", r)
			require.Equal(t, tc.want, r.Windows)
			require.Equal(t, tc.note, r.Note)
		})
	}
	r := Durability(base().h, always)
	require.Equal(t, "nothing to check", r.Note)
	require.Empty(t, r.Windows)
}
