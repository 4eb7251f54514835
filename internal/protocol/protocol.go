// Package protocol defines version 1 of the kafka-lite adapter protocol: the
// JSON-lines contract between the klcheck/klbench harness and an
// implementation under test, in any language.
//
// The harness starts the implementation's command once per client. It writes
// one JSON object per line (a Request) to the client's stdin; the client
// answers each request with exactly one JSON object per line (a Reply) on its
// stdout, carrying the same id. At most one request is in flight per client.
// The client's stderr is free-form and captured into a log.
//
//	-> {"id":1,"op":"init","dir":"/tmp/kl","topic":"t","client":"p1","role":"producer","config":{"chunk_records":1000,"chunk_bytes":1048576,"retain_chunks":0,"fsync":"never"}}
//	<- {"id":1,"ok":true,"impl":"klref 0.1.0"}
//	-> {"id":2,"op":"append","values":["v1","v2"]}
//	<- {"id":2,"ok":true,"offsets":[17,18]}
//	-> {"id":3,"op":"poll","max":100,"timeout_ms":500}
//	<- {"id":3,"ok":true,"records":[{"offset":17,"value":"v1"}]}
//	-> {"id":4,"op":"ack","offset":17}
//	<- {"id":4,"ok":true}
//	-> {"id":5,"op":"close"}
//	<- {"id":5,"ok":true}
//
// A failed request is answered with ok:false, an error text and a code (see
// the Code constants); ok:false is a definite failure: nothing happened. A
// client that dies or does not answer in time leaves the operation
// indeterminate. docs/PROTOCOL.md is the full text of the contract.
package protocol

import (
	"errors"
	"fmt"
)

// Version is the protocol version this package implements.
const Version = 1

// Operation names.
const (
	OpInit   = "init"
	OpAppend = "append"
	OpPoll   = "poll"
	OpAck    = "ack"
	OpClose  = "close"
)

// Client roles, for the init request.
const (
	RoleProducer = "producer"
	RoleConsumer = "consumer"
)

// Start positions of a consumer, for the init request.
const (
	StartAcked    = "acked"
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// Fsync modes of the topic config.
const (
	FsyncNever    = "never"
	FsyncAlways   = "always"
	FsyncInterval = "interval" // optional extension; implementations may answer "unsupported"
)

// FilesystemLazyFS is Request.Filesystem for a dir on klcheck's lazyfs.
const FilesystemLazyFS = "lazyfs"

// Error codes of a failed reply.
const (
	// CodeUnsupported on init: the implementation lacks a feature the scenario
	// needs; the scenario is reported as skipped for it.
	CodeUnsupported = "unsupported"
	// CodeInvalid: the request was malformed or not allowed in this state.
	CodeInvalid = "invalid"
	// CodeError: any other definite failure (a full disk, a refused record).
	CodeError = "error"
)

// Config is the topic configuration sent with init. Zero means "no limit"
// for every limit.
type Config struct {
	ChunkRecords int    `json:"chunk_records"`
	ChunkBytes   int64  `json:"chunk_bytes"`
	RetainChunks int    `json:"retain_chunks"`
	Fsync        string `json:"fsync"`
	// RetainBytes is an optional extension: keep at most this many bytes of
	// sealed chunks. Omitted when zero.
	RetainBytes int64 `json:"retain_bytes,omitempty"`
}

// Request is one line from the harness to a client. Only the fields of its
// op are set.
type Request struct {
	ID int64  `json:"id"`
	Op string `json:"op"`

	// init
	Dir    string  `json:"dir,omitempty"`
	Topic  string  `json:"topic,omitempty"`
	Client string  `json:"client,omitempty"`
	Role   string  `json:"role,omitempty"`
	Group  string  `json:"group,omitempty"`
	Start  string  `json:"start,omitempty"`
	Config *Config `json:"config,omitempty"`
	// Filesystem, when set, says what dir is on. FilesystemLazyFS: klcheck's
	// lazyfs, a FUSE pass-through that simulates power loss, on which
	// appends from processes of one machine do not interleave (see
	// docs/LAZYFS.md). An implementation that refuses FUSE for the sake of
	// O_APPEND atomicity may accept this one.
	Filesystem string `json:"filesystem,omitempty"`

	// append
	Values []string `json:"values,omitzero"`

	// poll
	Max       int `json:"max,omitempty"`
	TimeoutMS int `json:"timeout_ms,omitempty"`

	// ack
	Offset *int64 `json:"offset,omitempty"`
}

// Record is one delivered message in a poll reply.
type Record struct {
	Offset int64  `json:"offset"`
	Value  string `json:"value"`
}

// Reply is one line from a client to the harness.
type Reply struct {
	ID int64 `json:"id"`
	OK bool  `json:"ok"`

	// init
	Impl string `json:"impl,omitempty"`
	// append: one entry per value; nil entries mean "unknown".
	Offsets []*int64 `json:"offsets,omitzero"`
	// poll: always present on a successful poll, [] when nothing arrived.
	Records []Record `json:"records,omitzero"`

	// failure
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// Error is a definite failure that a Handler returns; Serve turns it into an
// ok:false reply with its code. Any other error is sent with CodeError.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Unsupported returns an *Error with CodeUnsupported.
func Unsupported(format string, args ...any) error {
	return &Error{Code: CodeUnsupported, Msg: fmt.Sprintf(format, args...)}
}

// Invalid returns an *Error with CodeInvalid.
func Invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the protocol code for err: the code of an *Error in its
// chain, or CodeError.
func CodeOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeError
}

// Int64 returns a pointer to v, for Request.Offset and Reply.Offsets.
func Int64(v int64) *int64 { return &v }

// CheckInit validates the fields of an init request that every
// implementation reads the same way: a topic, a known role, and for a
// consumer a known start, with a group when it starts from its acks. The
// errors are Invalid.
func CheckInit(req *Request) error {
	if req.Topic == "" {
		return Invalid("empty topic")
	}
	switch req.Role {
	case RoleProducer:
	case RoleConsumer:
		switch req.Start {
		case StartEarliest, StartLatest:
		case StartAcked, "":
			if req.Group == "" {
				return Invalid("start %q needs a group", StartAcked)
			}
		default:
			return Invalid("unknown start %q", req.Start)
		}
	default:
		return Invalid("unknown role %q", req.Role)
	}
	return nil
}
