// Package history holds the record of a klcheck run: every operation every
// client invoked, when, and how it ended. Checkers are functions over a
// History; the orchestrator writes it to history.jsonl.
package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Outcome is how an operation ended.
type Outcome string

// Outcomes of an operation.
const (
	// OK: the client replied ok:true; the operation took effect.
	OK Outcome = "ok"
	// Fail: the client replied ok:false; the operation did not take effect.
	Fail Outcome = "fail"
	// Indeterminate: the client died, hung, or replied garbage; the operation
	// may or may not have taken effect.
	Indeterminate Outcome = "indeterminate"
)

// Kinds of history entries. The protocol operations keep their protocol
// names; the others are harness events.
const (
	FInit   = "init"
	FAppend = "append"
	FPoll   = "poll"
	FAck    = "ack"
	FClose  = "close"
	// FStart: the harness started a client process (a new session).
	FStart = "start"
	// FKill: the harness sent SIGKILL to a client; Error holds the reason
	// (e.g. "on-rotation", "during append").
	FKill = "kill"
	// FPause and FResume: SIGSTOP and SIGCONT of a client.
	FPause  = "pause"
	FResume = "resume"
	// FExit: a client process ended (Error holds its status) without being
	// killed by the harness.
	FExit = "exit"
)

// Record is one delivered message.
type Record struct {
	Offset int64  `json:"offset"`
	Value  string `json:"value"`
}

// Op is one entry of the history. Times are nanoseconds on the monotonic
// clock since the start of the run.
type Op struct {
	Index   int    `json:"index"`
	Client  string `json:"client"`
	Session int    `json:"session"` // 1 for the first process of a client, +1 per restart
	Role    string `json:"role"`    // "producer", "consumer", or "server" (klcheck --server)
	Group   string `json:"group,omitempty"`
	F       string `json:"f"`
	// Phase is "main" for the scenario proper and "drain" for the final
	// drain's fresh consumers.
	Phase string `json:"phase,omitempty"`

	Invoke   int64   `json:"invoke_ns"`
	Complete int64   `json:"complete_ns"`
	Outcome  Outcome `json:"outcome"`
	Error    string  `json:"error,omitempty"`

	// init
	Start string `json:"start,omitempty"`
	// append: the values sent, and the offsets the client returned (nil or
	// shorter when unknown).
	Values  []string `json:"values,omitempty"`
	Offsets []*int64 `json:"offsets,omitempty"`
	// poll: the records delivered.
	Records []Record `json:"records,omitempty"`
	// ack: the acked offset.
	Offset *int64 `json:"offset,omitempty"`
}

// History is a run's operations in the order they completed.
type History []Op

// WriteJSONL writes h as one JSON object per line. Values and record values
// longer than maxValue bytes are abbreviated as "<prefix>…(N bytes)" so a
// history of 1 MiB values stays readable; 0 means no limit.
func WriteJSONL(w io.Writer, h History, maxValue int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	for i := range h {
		op := h[i]
		if maxValue > 0 {
			op.Values = abbreviateAll(op.Values, maxValue)
			if len(op.Records) > 0 {
				recs := make([]Record, len(op.Records))
				for j, r := range op.Records {
					recs[j] = Record{Offset: r.Offset, Value: Abbreviate(r.Value, maxValue)}
				}
				op.Records = recs
			}
		}
		if err := enc.Encode(&op); err != nil {
			return fmt.Errorf("write history entry %d: %w", op.Index, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// ReadJSONL reads a history written by WriteJSONL.
func ReadJSONL(r io.Reader) (History, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h History
	for {
		var op Op
		if err := dec.Decode(&op); err == io.EOF {
			return h, nil
		} else if err != nil {
			return nil, fmt.Errorf("read history entry %d: %w", len(h), err)
		}
		h = append(h, op)
	}
}

// Abbreviate shortens s to its first max bytes plus a note of its length.
func Abbreviate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:max], len(s))
}

func abbreviateAll(vs []string, max int) []string {
	need := false
	for _, v := range vs {
		if len(v) > max {
			need = true
			break
		}
	}
	if !need {
		return vs
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = Abbreviate(v, max)
	}
	return out
}

// FStuck is recorded by the harness when a consumer made no progress for
// the scenario's stuck timeout while the log held records it had not yet
// delivered (a reader stuck at a chunk boundary, say).
const FStuck = "stuck"
