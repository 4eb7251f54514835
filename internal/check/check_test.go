package check

import (
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/stretchr/testify/require"
)

const (
	acked    = protocol.StartAcked
	earliest = protocol.StartEarliest
)

// logVals are the four values of the base history, at offsets 0..3.
var logVals = []string{v("p1", 1), v("p1", 2), v("p2", 1), v("p1", 3)}

// produce appends logVals at offsets 0..3 from two producers.
func produce() *hb {
	b := &hb{}
	b.app("p1", logVals[:2], 0, 1)
	b.app("p2", logVals[2:3], 2)
	b.app("p1", logVals[3:], 3)
	return b
}

// base is a clean history: logVals produced, read and acked by c1 in two
// polls, and drained.
func base() *hb {
	b := produce()
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:2]...)...).ack("c1", 1, "g", 1)
	b.poll("c1", 1, "g", run(2, logVals[2:]...)...).ack("c1", 1, "g", 3)
	return b.drain("d", run(0, logVals...)...)
}

type anomalyCase struct {
	name    string
	check   string
	opts    Options
	h       func() *hb
	anomaly string
	count   int
	mention string // substring of some example's explanation
	offset  int64  // an offset some example carries (-1: none)
	stats   map[string]int
}

func anomalyCases() []anomalyCase {
	return []anomalyCase{
		{name: "torn", check: "integrity", anomaly: "torn", count: 1, offset: 3, mention: "first 20 of the 40 bytes",
			h: func() *hb {
				return produce().drain("d", rec(0, logVals[0]), rec(1, logVals[1]), rec(2, logVals[2]), rec(3, logVals[3][:20]))
			}},
		{name: "merged", check: "integrity", anomaly: "merged-or-corrupt", count: 1, offset: 1, mention: "fails its checksum",
			h: func() *hb {
				return produce().drain("d", rec(0, logVals[0]), rec(1, logVals[1][:25]+logVals[2]), rec(2, logVals[3]))
			}},
		{name: "corrupt", check: "integrity", anomaly: "merged-or-corrupt", count: 2, offset: 0, mention: "offset 0 holds",
			h: func() *hb {
				bad := []byte(logVals[0])
				bad[35] ^= 1
				// c1 and the drain see the same corrupt record at 0 (counted
				// once), and another at 1.
				bad2 := strings.Replace(logVals[1], "p1", "p2", 1)
				return produce().poll("c1", 1, "g", rec(0, string(bad))).drain("d", rec(0, string(bad)), rec(1, bad2))
			}},
		{name: "phantom", check: "integrity", anomaly: "phantom", count: 1, offset: 4, mention: v("p9", 5),
			h: func() *hb { return produce().drain("d", append(run(0, logVals...), rec(4, v("p9", 5)))...) }},
		{name: "failed append delivered (G1a)", check: "integrity", anomaly: "G1a", count: 1, offset: 4, mention: "aborted read",
			h: func() *hb {
				b := produce()
				b.app("p2", []string{v("p2", 2)}).outcome(history.Fail)
				return b.drain("d", append(run(0, logVals...), rec(4, v("p2", 2)))...)
			}},
		{name: "lost write", check: "lost-write", anomaly: "lost-write", count: 1, offset: 1, mention: v("p1", 2),
			stats: map[string]int{"unseen-indeterminate": 1, "confirmed": 4},
			h: func() *hb {
				b := produce()
				b.app("p2", []string{v("p2", 2)}).outcome(history.Indeterminate)
				return b.drain("d", rec(0, logVals[0]), rec(2, logVals[2]), rec(3, logVals[3]))
			}},
		{name: "lost write despite retention", check: "lost-write", opts: Options{Retention: true}, anomaly: "lost-write", count: 1, offset: 3, mention: "returned offset 3",
			h: func() *hb { return produce().drain("d", rec(2, logVals[2])) }},
		{name: "duplicate", check: "duplicate", anomaly: "duplicate", count: 1, offset: 4, mention: "at offset 1 for d and at offset 4 for d",
			h: func() *hb { return produce().drain("d", append(run(0, logVals...), rec(4, logVals[1]))...) }},
		{name: "inconsistent offsets", check: "inconsistent-offsets", anomaly: "inconsistent-offsets", count: 1, offset: 2,
			mention: `offset 2 holds "` + v("p1", 3) + `" for c1 but "` + v("p2", 1) + `" for d`,
			h: func() *hb {
				return produce().poll("c1", 1, "g", rec(0, logVals[0]), rec(2, logVals[3])).drain("d", run(0, logVals...)...)
			}},
		{name: "producer order", check: "producer-order", anomaly: "producer-order", count: 1, offset: 0, mention: "sit at offsets 1 and 0",
			h: func() *hb {
				b := &hb{}
				b.app("p1", []string{v("p1", 1)}).app("p1", []string{v("p1", 2)})
				return b.drain("d", rec(0, v("p1", 2)), rec(1, v("p1", 1)))
			}},
		{name: "producer order from returned offsets", check: "producer-order", anomaly: "producer-order", count: 1, offset: 5, mention: "sit at offsets 7 and 5",
			h: func() *hb {
				b := &hb{}
				return b.app("p1", []string{v("p1", 1), v("p1", 2)}, 7, 5)
			}},
		{name: "realtime order", check: "realtime-order", anomaly: "realtime-order", count: 1, offset: 0, mention: "yet wrote offset 1",
			h: func() *hb {
				b := &hb{}
				b.app("p1", []string{v("p1", 1)}).at(10, 15)
				b.app("p2", []string{v("p2", 1)}).at(20, 25)
				b.app("p3", []string{v("p3", 1)}).at(12, 30) // concurrent with both: fine anywhere
				return b.drain("d", rec(0, v("p2", 1)), rec(1, v("p1", 1)), rec(2, v("p3", 1)))
			}},
		{name: "nonmonotonic poll", check: "poll-order", anomaly: "nonmonotonic-poll", count: 1, offset: 1, mention: "got offset 1",
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", earliest).poll("c1", 1, "g", run(0, logVals[:3]...)...).poll("c1", 1, "g", run(1, logVals[1:]...)...)
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "poll skip", check: "poll-order", anomaly: "poll-skip", count: 1, offset: 2, mention: "went from offset 1 to 3, skipping 1 record(s)",
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", earliest).poll("c1", 1, "g", run(0, logVals[:2]...)...).poll("c1", 1, "g", rec(3, logVals[3]))
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "poll skip without retention", check: "poll-order", anomaly: "poll-skip", count: 1, offset: 2, mention: "went from offset 0 to 3, skipping 1 record(s)",
			h: retentionHistory},
		{name: "resume skip", check: "resume", anomaly: "resume-skip", count: 1, offset: 3, mention: "puts the next record at offset 2",
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:2]...)...).ack("c1", 1, "g", 1)
				b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(3, logVals[3]))
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "resume skip without ack", check: "resume", anomaly: "resume-skip", count: 1, offset: 1, mention: "acked nothing",
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(1, logVals[1:]...)...)
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "resume skip despite indeterminate ack", check: "resume", anomaly: "resume-skip", count: 1, offset: 3,
			mention: "(or offset 4 after acks that may have taken effect)", h: func() *hb { return indeterminateAck(3) }},
		{name: "resume rewind", check: "resume", anomaly: "resume-rewind", count: 1, offset: 1, mention: "resumed at offset 1",
			h: rewindHistory},
		{name: "ack once", check: "ack-once", anomaly: "ack-once", count: 1, offset: 1, mention: "group g got offset 1",
			h: rewindHistory},
		// Within one session, rereading acked records is a step backwards:
		// poll-order's business, not ack-once's (acks bind later sessions).
		{name: "acked records reread in the same session", check: "poll-order", anomaly: "nonmonotonic-poll", count: 1, offset: 0, mention: "got offset 0",
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:2]...)...).ack("c1", 1, "g", 1)
				b.poll("c1", 1, "g", run(0, logVals...)...)
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "redelivery window", check: "ack-once", opts: Options{MaxRedeliveryPerCrash: 2}, anomaly: "redelivery-window", count: 1, offset: 1,
			mention: "redelivered 3 unacked records", stats: map[string]int{"redelivered-unacked": 3},
			h: func() *hb {
				b := produce()
				b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals...)...).ack("c1", 1, "g", 0)
				return b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(1, logVals[1:]...)...)
			}},
		{name: "lost write under retention", check: "lost-write", opts: Options{Retention: true}, anomaly: "lost-write", count: 1, offset: -1, mention: v("p1", 2),
			h: func() *hb {
				b := &hb{}
				b.app("p1", []string{v("p1", 1)})
				b.app("p1", []string{v("p1", 2)}) // after a value at the drain's first offset: cannot have been deleted
				return b.drain("d", rec(5, v("p1", 1)))
			}},
		{name: "refused append", check: "liveness", anomaly: "refused", count: 1, offset: -1, mention: "p2's append failed",
			h: func() *hb {
				b := produce()
				b.app("p2", []string{v("p2", 2)}).outcome(history.Fail)
				return b.drain("d", run(0, logVals...)...)
			}},
		{name: "stuck", check: "liveness", anomaly: "stuck", count: 2, offset: -1, mention: "c2 made no progress",
			h: func() *hb {
				b := base()
				return b.stuck("c2", "at a chunk boundary").stuck("c3", "")
			}},
	}
}

// rewindHistory: c1#2 resumes at 1 though 1 was acked.
func rewindHistory() *hb {
	b := produce()
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:2]...)...).ack("c1", 1, "g", 1)
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(1, logVals[1:]...)...)
	return b.drain("d", run(0, logVals...)...)
}

// retentionHistory: c2 read 0..2 early; retention then deleted them, so c1
// jumps from 0 to 3, c1#2 resumes at 3 after acking 0, and the drain starts
// at 3. p1's value at offset 1 was never read by anyone.
func retentionHistory() *hb {
	b := produce()
	b.init("c2", 1, "g2", earliest).poll("c2", 1, "g2", rec(0, logVals[0]), rec(2, logVals[2]))
	b.init("c1", 1, "g", earliest).poll("c1", 1, "g", rec(0, logVals[0])).ack("c1", 1, "g", 0)
	b.poll("c1", 1, "g", rec(3, logVals[3]))
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(3, logVals[3]))
	return b.drain("d", rec(3, logVals[3]))
}

func TestAnomalies(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range append(anomalyCases(), powerAnomalyCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(tc.h().h, []string{tc.check}, tc.opts)
			require.NoError(t, err)
			require.Len(t, res, 1)
			r := res[0]
			require.Equal(t, tc.check, r.Check)
			require.Equal(t, Fail, r.Status, "%+v", r)
			var a *Anomaly
			for i := range r.Anomalies {
				if r.Anomalies[i].Name == tc.anomaly {
					a = &r.Anomalies[i]
				}
			}
			require.NotNil(t, a, "anomaly %s not in %+v", tc.anomaly, r.Anomalies)
			require.Equal(t, tc.count, a.Count, "%+v", a)
			require.Len(t, a.Examples, min(tc.count, MaxExamples))
			mentioned, hasOffset := false, tc.offset < 0
			for _, ex := range a.Examples {
				mentioned = mentioned || strings.Contains(ex.Explanation, tc.mention)
				for _, o := range ex.Offsets {
					hasOffset = hasOffset || o == tc.offset
				}
			}
			require.True(t, mentioned, "no example mentions %q: %+v", tc.mention, a.Examples)
			require.True(t, hasOffset, "no example carries offset %d: %+v", tc.offset, a.Examples)
			for k, n := range tc.stats {
				require.Equal(t, n, r.Stats[k], "stat %s in %v", k, r.Stats)
			}
			seen[tc.anomaly] = true
		})
	}
	for _, name := range []string{"torn", "merged-or-corrupt", "phantom", "G1a", "lost-write",
		"duplicate", "inconsistent-offsets", "producer-order", "realtime-order", "nonmonotonic-poll", "poll-skip",
		"resume-skip", "resume-rewind", "ack-once", "redelivery-window", "stuck", "refused",
		"lost-acked", "lost-ack", "unrecoverable"} {
		require.True(t, seen[name], "no test case for anomaly %s", name)
	}
}

type cleanCase struct {
	name  string
	opts  Options
	h     func() *hb
	stats map[string]map[string]int // check → stat → value
	notes map[string]string         // check → note
}

func cleanCases() []cleanCase {
	return []cleanCase{
		{name: "base", h: base},
		{name: "a session keeps reading after acking ahead", h: func() *hb {
			b := produce()
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:1]...)...).ack("c1", 1, "g", 5)
			b.poll("c1", 1, "g", run(1, logVals[1:]...)...)
			return b.drain("d", run(0, logVals...)...)
		}},
		{name: "a group's acks go down: the last one counts", h: func() *hb {
			b := produce()
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals...)...).ack("c1", 1, "g", 3)
			b.ack("c2", 1, "g", 1)
			b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(2, logVals[2:]...)...)
			return b.drain("d", run(0, logVals...)...)
		}},
		{name: "two clients of one group read side by side", opts: Options{MaxRedeliveryPerCrash: 1}, h: func() *hb {
			b := produce()
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals...)...)
			b.init("c2", 1, "g", acked).poll("c2", 1, "g", run(0, logVals...)...)
			return b.drain("d", run(0, logVals...)...)
		}},
		{name: "retention deleted values whose offsets were never returned", opts: Options{Retention: true}, h: func() *hb {
			b := &hb{}
			b.app("p1", []string{v("p1", 1), v("p1", 2), v("p1", 3)})
			b.app("p1", []string{v("p1", 4)})
			return b.drain("d", rec(3, v("p1", 4)))
		}, stats: map[string]map[string]int{"lost-write": {"retention-deleted": 3}}},
		{name: "failure the scenario provokes", opts: Options{MayFail: map[string]bool{"p2": true}}, h: func() *hb {
			b := base()
			return b.app("p2", []string{v("p2", 9)}).outcome(history.Fail)
		}},
		{name: "concurrent producers", h: func() *hb {
			b := &hb{}
			// p1 and p2 overlap; their values interleave in the log.
			b.app("p1", []string{v("p1", 1), v("p1", 2)}, 0, 2).at(10, 40)
			b.app("p2", []string{v("p2", 1)}, 1).at(12, 30)
			b.app("p2", []string{v("p2", 2)}, 3).at(31, 50)
			b.app("p1", []string{v("p1", 3)}).at(41, 60) // offset unknown
			b.t = 100
			vals := []string{v("p1", 1), v("p2", 1), v("p1", 2), v("p2", 2), v("p1", 3)}
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[:3]...)...).poll("c1", 1, "g", run(3, vals[3:]...)...)
			return b.drain("d", run(0, vals...)...)
		}, notes: map[string]string{"resume": "", "ack-once": "nothing to check"}},
		{name: "consumer restart resumes exactly", h: func() *hb {
			b := produce()
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals[:3]...)...).ack("c1", 1, "g", 2)
			b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(3, logVals[3])).ack("c1", 2, "g", 3)
			b.init("c1", 3, "g", acked).poll("c1", 3, "g") // nothing left
			return b.drain("d", run(0, logVals...)...)
		}, stats: map[string]map[string]int{"resume": {"sessions": 2}, "ack-once": {"redelivered-unacked": 0}}},
		{name: "indeterminate ack not applied", h: func() *hb { return indeterminateAck(2) },
			stats: map[string]map[string]int{"ack-once": {"redelivered-unacked": 2}}},
		{name: "indeterminate ack applied", h: func() *hb { return indeterminateAck(4) },
			stats: map[string]map[string]int{"resume": {"resumed-after-uncertain-ack": 1}}},
		{name: "retention", opts: Options{Retention: true}, h: retentionHistory,
			stats: map[string]map[string]int{
				"poll-order": {"retention-resets": 1},
				"resume":     {"retention-resets": 1},
				"lost-write": {"retention-deleted": 1},
			}},
		{name: "redelivery within the window", opts: Options{MaxRedeliveryPerCrash: 3}, h: func() *hb {
			b := produce()
			b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, logVals...)...).ack("c1", 1, "g", 0)
			b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(1, logVals[1:]...)...).ack("c1", 2, "g", 3)
			return b.drain("d", run(0, logVals...)...)
		}, stats: map[string]map[string]int{"ack-once": {"redelivered-unacked": 3}}},
		{name: "empty history", h: func() *hb { return &hb{} }},
	}
}

// indeterminateAck: c1 acks 1 (ok) and 3 (indeterminate), is killed, and
// c1#2 resumes at start: either 2 or 4 is right.
func indeterminateAck(start int64) *hb {
	vals := append(append([]string{}, logVals...), v("p2", 2), v("p2", 3))
	b := produce()
	b.app("p2", vals[4:], 4, 5)
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[:4]...)...).ack("c1", 1, "g", 1)
	b.ack("c1", 1, "g", 3).outcome(history.Indeterminate)
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", run(start, vals[start:]...)...)
	return b.drain("d", run(0, vals...)...)
}

func TestClean(t *testing.T) {
	for _, tc := range append(cleanCases(), powerCleanCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(tc.h().h, nil, tc.opts)
			require.NoError(t, err)
			require.Len(t, res, len(Names()))
			for i, r := range res {
				require.Equal(t, Names()[i], r.Check)
				require.Equal(t, Pass, r.Status, "%+v", r)
				require.Empty(t, r.Anomalies)
				for k, n := range tc.stats[r.Check] {
					require.Equal(t, n, r.Stats[k], "%s stat %s in %v", r.Check, k, r.Stats)
				}
				if note, ok := tc.notes[r.Check]; ok {
					require.Equal(t, note, r.Note, r.Check)
				}
			}
		})
	}
}

func TestNothingToCheck(t *testing.T) {
	res, err := Run(nil, nil, Options{})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, Pass, r.Status)
		require.Equal(t, "nothing to check", r.Note, r.Check)
	}
}

func TestRunAndNames(t *testing.T) {
	names := Names()
	require.Equal(t, []string{"integrity", "lost-write", "durability", "duplicate", "inconsistent-offsets", "producer-order",
		"realtime-order", "poll-order", "resume", "ack-once", "liveness"}, names)
	for _, n := range names {
		require.NotEmpty(t, Describe(n))
		require.NotContains(t, Describe(n), "\n")
	}
	require.Empty(t, Describe("nope"))

	_, err := Run(nil, []string{"integrity", "nope"}, Options{})
	require.ErrorContains(t, err, `unknown check "nope"`)

	// Results come in Names() order whatever the order asked.
	h := rewindHistory().h
	res, err := Run(h, []string{"ack-once", "integrity"}, Options{})
	require.NoError(t, err)
	require.Equal(t, "integrity", res[0].Check)
	require.Equal(t, "ack-once", res[1].Check)

	// The exported Funcs agree with Run.
	all, err := Run(h, nil, Options{})
	require.NoError(t, err)
	funcs := []Func{Integrity, LostWrite, Durability, Duplicate, InconsistentOffsets, ProducerOrder,
		RealtimeOrder, PollOrder, Resume, AckOnce, Liveness}
	for i, f := range funcs {
		require.Equal(t, all[i], f(h, Options{}))
	}
}

func TestExamplesCapped(t *testing.T) {
	b := &hb{}
	var recs []history.Record
	for i := int64(0); i < 20; i++ {
		recs = append(recs, rec(i, v("p9", i)))
	}
	r := Integrity(b.drain("d", recs...).h, Options{})
	require.Equal(t, Fail, r.Status)
	require.Equal(t, 20, r.Anomalies[0].Count)
	require.Len(t, r.Anomalies[0].Examples, MaxExamples)
}
