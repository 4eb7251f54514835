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
	// FPowerLoss: the harness simulated a power loss of the machine: it
	// SIGKILLed every client (and the engine's server), reaped them, rolled
	// the data directory back to what was durable, and let them restart.
	// Invoke is when the last SIGKILL was sent (every op invoked before
	// belongs to the machine's life before the loss), Complete when the
	// file system was mounted again; Error holds the trigger and Loss what
	// was dropped. Client and Role are MachineClient.
	FPowerLoss = "power-loss"
)

// FUnrecoverable is recorded by the harness when a client could not start
// again after a power loss: its init was refused, or it died before
// answering. Error says how. The client is not started again.
const FUnrecoverable = "unrecoverable"

// MachineClient is Op.Client and Op.Role of the harness's power losses.
const MachineClient = "machine"

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

	// power-loss: what the power loss dropped.
	Loss *PowerLoss `json:"power_loss,omitempty"`
}

// PowerLoss is what one simulated power loss did to the data directory (see
// internal/lazyfs): the files whose unsynced bytes it dropped and the
// directory entries it undid. Paths are relative to the top of the lazy
// file system, which holds the clients' directory ("data/") and the
// server's ("server/").
type PowerLoss struct {
	// Mode is how unsynced file data was dropped: lose-all, torn-seq or
	// torn-op.
	Mode string `json:"mode"`
	// Killed names the client sessions (CLIENT#SESSION) and the server
	// process that were running and were SIGKILLed.
	Killed []string `json:"killed,omitempty"`
	// DroppedBytes is the sum of Files[i].Dropped.
	DroppedBytes int64       `json:"dropped_bytes"`
	Files        []FileLoss  `json:"files,omitempty"`
	Entries      []EntryLoss `json:"entries,omitempty"`
}

// FileLoss is one file whose unsynced data a power loss dropped or rolled
// back. Sizes are in bytes.
type FileLoss struct {
	Path     string `json:"path"`
	Before   int64  `json:"before"`         // size just before the power loss
	After    int64  `json:"after"`          // size after it
	Durable  int64  `json:"durable"`        // size at its last sync
	Dropped  int64  `json:"dropped"`        // unsynced bytes that did not survive
	Restored int64  `json:"restored"`       // durable bytes put back
	Torn     string `json:"torn,omitempty"` // how the last write was torn (torn-op)
}

// EntryLoss is one directory entry a power loss undid: "dropped" (made
// since its directory's last sync), "restored" (removed since) or
// "replaced".
type EntryLoss struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Dir    bool   `json:"dir,omitempty"`
}

// History is a run's operations in the order they completed.
type History []Op

// WriteJSONL writes h as one JSON object per line. Values and record values
// longer than maxValue bytes are abbreviated as "<prefix>…(N bytes)" so a
// history of 1 MiB values stays readable; 0 means no limit.
func WriteJSONL(w io.Writer, h History, maxValue int) error {
	hw := NewWriter(w, maxValue)
	for i := range h {
		if err := hw.Write(&h[i]); err != nil {
			return err
		}
	}
	return hw.Flush()
}

// Writer writes ops one at a time in WriteJSONL's format, through a
// buffer: call Flush at the end.
type Writer struct {
	bw       *bufio.Writer
	enc      *json.Encoder
	maxValue int
}

// NewWriter returns a Writer to w that abbreviates values longer than
// maxValue bytes (0: no limit), as WriteJSONL does.
func NewWriter(w io.Writer, maxValue int) *Writer {
	bw := bufio.NewWriterSize(w, 1<<20)
	return &Writer{bw: bw, enc: json.NewEncoder(bw), maxValue: maxValue}
}

// Write writes one op as one line. It does not modify op.
func (w *Writer) Write(op *Op) error {
	o := *op
	if w.maxValue > 0 {
		o.Values = abbreviateAll(o.Values, w.maxValue)
		if len(o.Records) > 0 {
			recs := make([]Record, len(o.Records))
			for j, r := range o.Records {
				recs[j] = Record{Offset: r.Offset, Value: Abbreviate(r.Value, w.maxValue)}
			}
			o.Records = recs
		}
	}
	if err := w.enc.Encode(&o); err != nil {
		return fmt.Errorf("write history entry %d: %w", o.Index, err)
	}
	return nil
}

// Flush writes out what the buffer holds.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// ReadJSONL reads a history written by WriteJSONL.
func ReadJSONL(r io.Reader) (History, error) {
	var h History
	err := ReadEach(r, func(op *Op) error {
		h = append(h, *op)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// ReadEach reads a history written by WriteJSONL or a Writer one op at a
// time and calls fn with each, in file order; fn may keep *op. It stops at
// the first error of the reader or of fn.
func ReadEach(r io.Reader, fn func(op *Op) error) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	for n := 0; ; n++ {
		op := new(Op)
		if err := dec.Decode(op); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read history entry %d: %w", n, err)
		}
		if err := fn(op); err != nil {
			return err
		}
	}
}

// Interner makes equal strings of the ops it is given share one copy: the
// client, role, group and other names every op repeats, and the values,
// which a history read back from a file holds once per append and once
// per delivery. A history interned as it is read holds each distinct value
// once. The zero Interner is ready to use; it is not safe for concurrent
// use.
type Interner struct {
	m map[string]string
}

// Op replaces the strings of op by their first-seen equal copies.
func (in *Interner) Op(op *Op) {
	op.Client = in.String(op.Client)
	op.Role = in.String(op.Role)
	op.Group = in.String(op.Group)
	op.F = in.String(op.F)
	op.Phase = in.String(op.Phase)
	op.Outcome = Outcome(in.String(string(op.Outcome)))
	op.Start = in.String(op.Start)
	for i, v := range op.Values {
		op.Values[i] = in.String(v)
	}
	for i := range op.Records {
		op.Records[i].Value = in.String(op.Records[i].Value)
	}
}

// String returns the first-seen copy of s.
func (in *Interner) String(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := in.m[s]; ok {
		return c
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	in.m[s] = s
	return s
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
