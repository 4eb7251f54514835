// Package check holds klcheck's checkers: each a named function over a
// history.History that returns a Result with the anomalies it found and
// concrete examples of each.
package check

import "github.com/kafka-lite/kafka-lite/internal/history"

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
}

// MaxExamples is the most examples kept per anomaly.
const MaxExamples = 8

// Options tunes the checks for a scenario.
type Options struct {
	// MaxRedeliveryPerCrash bounds the at-least-once window: redeliveries of
	// delivered-but-unacked records per consumer crash (usually the poll
	// batch size). 0 means unbounded.
	MaxRedeliveryPerCrash int
}

// Func is the signature of one check: it reads the history and returns its
// Result (Check set to its name).
type Func func(h history.History, opts Options) Result
