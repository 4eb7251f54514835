package run

import (
	"time"

	"github.com/kafka-lite/kafka-lite/internal/check"
	"github.com/kafka-lite/kafka-lite/internal/history"
)

// Status is a scenario's verdict.
type Status string

// Scenario verdicts.
const (
	// StatusPass: every check passed (or was skipped by the checks).
	StatusPass Status = "pass"
	// StatusFail: a check found an anomaly.
	StatusFail Status = "fail"
	// StatusSkip: the implementation answered init with "unsupported", or
	// the scenario cannot run here (a server fault without --server, a
	// power loss without lazyfs).
	StatusSkip Status = "skip"
	// StatusError: a harness error (see HarnessError); nothing was judged.
	StatusError Status = "error"
)

// Counts are a run's totals.
type Counts struct {
	Ops           int `json:"ops"`
	Appends       int `json:"appends"`       // append requests
	ValuesSent    int `json:"values_sent"`   // values in append requests
	ValuesAcked   int `json:"values_acked"`  // values in ok appends
	Polls         int `json:"polls"`         // poll requests
	Delivered     int `json:"delivered"`     // records delivered by polls
	Acks          int `json:"acks"`          // ack requests
	Failed        int `json:"failed"`        // ops answered ok:false
	Indeterminate int `json:"indeterminate"` // ops without a valid reply
	Starts        int `json:"starts"`        // client processes started
	Kills         int `json:"kills"`         // SIGKILLs sent by faults
	Pauses        int `json:"pauses"`        // SIGSTOPs sent by faults
	Stuck         int `json:"stuck"`         // readers found stuck
	PowerLosses   int `json:"power_losses"`  // simulated power losses
}

// Latency summarizes one latency histogram, in nanoseconds.
type Latency struct {
	Count int64 `json:"count"`
	P50NS int64 `json:"p50_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
}

// ErrorType is one kind of failed or indeterminate operation, like
// "append fail: error" or "poll indeterminate: exited", with its count and
// a few examples.
type ErrorType struct {
	Type     string   `json:"type"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

// Result is the outcome of one scenario.
type Result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Seed        int64  `json:"seed"`
	Quick       bool   `json:"quick"`
	Impl        Impl   `json:"impl"`
	// Server is the engine server klcheck ran (--server), if any.
	Server *Server `json:"server,omitempty"`
	// ImplName is what the implementation's init reply called itself.
	ImplName string `json:"impl_name,omitempty"`
	Status   Status `json:"status"`
	// Reason says why the scenario was skipped or errored.
	Reason string `json:"reason,omitempty"`
	// Note is informational (the run bound was reached, say).
	Note     string         `json:"note,omitempty"`
	Duration time.Duration  `json:"duration_ns"`
	Checks   []check.Result `json:"checks"`
	Counts   Counts         `json:"counts"`
	// Latency holds the append, poll and e2e histograms' summaries.
	Latency    map[string]Latency `json:"latency"`
	ErrorTypes []ErrorType        `json:"error_types,omitempty"`
	// PowerLosses are the simulated power losses of the run, in order
	// (the checks' durability result says what they took).
	PowerLosses []PowerLossResult `json:"power_losses,omitempty"`
	// TopicDir is the scenario's topic directory (removed unless kept).
	TopicDir string `json:"topic_dir"`
	// OutDir is where the history and client logs were written ("" for
	// none).
	OutDir string `json:"out_dir,omitempty"`
	// History is the recorded history that was checked (not in
	// results.json: see history.jsonl); nil when the run was skipped or
	// ended in a harness error.
	History history.History `json:"-"`
}

// Progress is a snapshot of a running scenario, for a progress line.
type Progress struct {
	Scenario string
	Phase    string // "main", "drain" or "check"
	Elapsed  time.Duration
	Counts   Counts
}
