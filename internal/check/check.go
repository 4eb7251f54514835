// Package check holds klcheck's checkers: each a named function over a
// history.History that returns a Result with the anomalies it found and
// concrete examples of each.
//
// The checks share a few notions. A confirmed append is one with outcome
// ok. The log L is every offset any poll delivered, with the value the
// drain-phase consumers reading from "earliest" saw there (else the first
// value any poll saw), sorted by offset. A consumer session is one client
// process: its (Client, Session). Names lists the checks and Describe says
// what each asserts; a check with nothing to look at passes with the note
// "nothing to check". Every check is near-linear in the number of delivered
// records (maps keyed by value or offset, sorting, binary search).
//
// Histories read back from a file written with WriteJSONL's abbreviation
// still check correctly for equal values (both sides are abbreviated the
// same way), but torn and phantom values longer than the limit show up as
// merged-or-corrupt.
package check

import (
	"fmt"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// Status is a check's verdict for one scenario.
type Status string

// Verdicts.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Example is one concrete instance of an anomaly.
type Example struct {
	Explanation string   `json:"explanation"`
	Offsets     []int64  `json:"offsets,omitempty"`
	Values      []string `json:"values,omitempty"` // abbreviated
	Clients     []string `json:"clients,omitempty"`
	TimesNS     []int64  `json:"times_ns,omitempty"`
	Ops         []int    `json:"ops,omitempty"` // history indices
}

// Anomaly is one named kind of violation a check found, with its count and
// up to MaxExamples examples.
type Anomaly struct {
	Name     string    `json:"name"`
	Count    int       `json:"count"`
	Examples []Example `json:"examples"`
}

// Result is one check's verdict over one history.
type Result struct {
	Check     string         `json:"check"`
	Status    Status         `json:"status"`
	Anomalies []Anomaly      `json:"anomalies,omitempty"`
	Stats     map[string]int `json:"stats,omitempty"` // informational counts
	Note      string         `json:"note,omitempty"`  // why skipped, or a summary
	// Windows is the durability check's account of each power loss: the
	// acknowledged records it took (empty for other checks).
	Windows []LossWindow `json:"loss_windows,omitempty"`
}

// MaxExamples is the most examples kept per anomaly.
const MaxExamples = 8

// Options tunes the checks for a scenario.
type Options struct {
	// MaxRedeliveryPerCrash bounds the at-least-once window: redeliveries of
	// delivered-but-unacked records per consumer crash (usually the poll
	// batch size). 0 means unbounded.
	MaxRedeliveryPerCrash int
	// Retention says the scenario deletes old chunks: records below the
	// lowest offset the final drain-from-earliest delivered may have been
	// removed, so lost-write, poll-order and resume excuse gaps there.
	Retention bool
	// MayFail names the clients whose operations may fail definitely
	// (ok:false) because the scenario makes them (an RLIMIT_FSIZE fault, say);
	// "*" means every client. A definite failure of any other client is a
	// `refused` anomaly of the liveness check: the implementation could not
	// do what the scenario asked, so the run proves nothing about it.
	MayFail map[string]bool
	// Fsync is the scenario's fsync mode (protocol.FsyncNever, Always or
	// Interval; "" is never). Across a power loss, under always nothing
	// acknowledged may be lost (appends: lost-acked; acks: lost-ack); under
	// never and interval such losses are counted, not anomalies.
	Fsync string
}

// Func is the signature of one check: it reads the history and returns its
// Result (Check set to its name).
type Func func(h history.History, opts Options) Result

// checkDef is one entry of the registry of checks.
type checkDef struct {
	name string
	desc string
	fn   func(ix *index, opts Options) Result
}

// registry lists the checks in their stable order.
var registry = []checkDef{
	{"integrity", "every delivered value is byte-identical to a value an ok or indeterminate append sent (anomalies: torn, merged-or-corrupt, phantom, G1a: a value of a failed append, an aborted read)", integrity},
	{"lost-write", "every value of an ok append is delivered by some poll; values acked before a power loss are durability's (anomaly: lost-write)", lostWrite},
	{"durability", "across each power loss, nothing acknowledged under fsync always is lost; under never and interval the loss is counted, in records and ms (anomaly: lost-acked)", durability},
	{"duplicate", "no value is delivered at more than one offset (anomaly: duplicate)", duplicate},
	{"inconsistent-offsets", "no offset is delivered with two different values (anomaly: inconsistent-offsets)", inconsistentOffsets},
	{"producer-order", "each producer's ok appends sit at increasing offsets, in the order it sent them (anomaly: producer-order)", producerOrder},
	{"realtime-order", "an ok append that completed before another was invoked has lower offsets (anomaly: realtime-order)", realtimeOrder},
	{"poll-order", "within a consumer session, consecutive records are consecutive in the log (anomalies: nonmonotonic-poll, poll-skip)", pollOrder},
	{"resume", "a consumer starting from its group's acks resumes right after the last ack (anomalies: resume-skip, resume-rewind)", resume},
	{"ack-once", "a consumer that resumes from its group's acks never gets a record at or below the acked position; unacked redeliveries after a restart stay within the window (anomalies: ack-once, redelivery-window)", ackOnce},
	{"liveness", "no reader got stuck while records remained, no operation was refused that the scenario did not provoke, and every client could start again after a power loss (anomalies: stuck, refused, unrecoverable)", liveness},
}

// Names returns the names of all checks, in the stable order Run reports
// them.
func Names() []string {
	out := make([]string, len(registry))
	for i, c := range registry {
		out[i] = c.name
	}
	return out
}

// Describe returns the one-line description of the named check, or "" for
// an unknown name.
func Describe(name string) string {
	for _, c := range registry {
		if c.name == name {
			return c.desc
		}
	}
	return ""
}

// Run runs the named checks (all of them when names is empty) over h and
// returns their results in Names() order. An unknown name is an error.
func Run(h history.History, names []string, opts Options) ([]Result, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if Describe(n) == "" {
			return nil, fmt.Errorf("unknown check %q (known: %s)", n, strings.Join(Names(), ", "))
		}
		want[n] = true
	}
	ix := newIndex(h)
	var out []Result
	for _, c := range registry {
		if len(names) == 0 || want[c.name] {
			out = append(out, c.fn(ix, opts))
		}
	}
	return out, nil
}

// Integrity checks that every delivered value is one an ok or indeterminate
// append sent.
func Integrity(h history.History, opts Options) Result { return integrity(newIndex(h), opts) }

// LostWrite checks that every value of an ok append is delivered.
func LostWrite(h history.History, opts Options) Result { return lostWrite(newIndex(h), opts) }

// Durability checks that no append acknowledged under fsync always before a
// power loss is missing after it, and counts such losses otherwise.
func Durability(h history.History, opts Options) Result { return durability(newIndex(h), opts) }

// Duplicate checks that no value is delivered at two offsets.
func Duplicate(h history.History, opts Options) Result { return duplicate(newIndex(h), opts) }

// InconsistentOffsets checks that no offset is delivered with two values.
func InconsistentOffsets(h history.History, opts Options) Result {
	return inconsistentOffsets(newIndex(h), opts)
}

// ProducerOrder checks that each producer's ok appends sit at increasing
// offsets in the order it sent them.
func ProducerOrder(h history.History, opts Options) Result { return producerOrder(newIndex(h), opts) }

// RealtimeOrder checks that an ok append completed before another was
// invoked has lower offsets.
func RealtimeOrder(h history.History, opts Options) Result { return realtimeOrder(newIndex(h), opts) }

// PollOrder checks that consecutive records of a consumer session are
// consecutive in the log.
func PollOrder(h history.History, opts Options) Result { return pollOrder(newIndex(h), opts) }

// Resume checks that consumers starting from their group's acks resume
// right after the last ack.
func Resume(h history.History, opts Options) Result { return resume(newIndex(h), opts) }

// AckOnce checks that acked records are not redelivered to their group and
// that unacked redeliveries stay within the at-least-once window.
func AckOnce(h history.History, opts Options) Result { return ackOnce(newIndex(h), opts) }

// Liveness checks that no reader got stuck while records remained.
func Liveness(h history.History, opts Options) Result { return liveness(newIndex(h), opts) }

// Compile-time checks that the exported checks are Funcs.
var _ = []Func{Integrity, LostWrite, Durability, Duplicate, InconsistentOffsets, ProducerOrder,
	RealtimeOrder, PollOrder, Resume, AckOnce, Liveness}
