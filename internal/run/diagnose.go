package run

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// StderrTailLines is how many last lines of a client's stderr a diagnosis
// shows.
const StderrTailLines = 10

// HarnessError is a failure that makes a run meaningless rather than an
// anomaly of the implementation's log: the implementation cannot be
// started, a client broke the protocol (garbage, a wrong id, a line too
// long), exited on its own, or hung; or klcheck could not write its
// output. The CLI exits with status 2 for it.
type HarnessError struct {
	Scenario string
	// Client and Session name the client process at fault ("" when the
	// failure is not a client's).
	Client  string
	Session int
	// Request is the request that failed, like "init request 1" ("" when
	// none).
	Request string
	// Kind classifies the failure: a protocol.FailureKind ("timeout",
	// "exited", "garbage", "wrong-id", "too-long", "write"), or "start",
	// "init-failed", "output", "stray-write", "interrupted", "config",
	// "limit" (the history outgrew what klcheck can check), "internal".
	Kind string
	// Detail says what happened.
	Detail string
	// Impl is the client command line.
	Impl string
	// ExitStatus is how the client process ended, when it had.
	ExitStatus string
	// StderrTail holds the last lines of the client's stderr.
	StderrTail []string
	// LogPath is the client's full stderr log, when written.
	LogPath string
	// Err is the underlying error.
	Err error
}

// Error renders the full diagnosis on several lines.
func (e *HarnessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: ", e.Scenario)
	if e.Client != "" {
		fmt.Fprintf(&b, "client %s", e.Client)
		if e.Session > 0 {
			fmt.Fprintf(&b, " (session %d)", e.Session)
		}
		b.WriteString(": ")
	}
	if e.Request != "" {
		fmt.Fprintf(&b, "%s: ", e.Request)
	}
	fmt.Fprintf(&b, "%s: %s", e.Kind, e.Detail)
	if e.ExitStatus != "" {
		fmt.Fprintf(&b, "\n  process: %s", e.ExitStatus)
	}
	if e.Impl != "" {
		fmt.Fprintf(&b, "\n  impl: %s", e.Impl)
	}
	if e.Client != "" {
		if len(e.StderrTail) == 0 {
			fmt.Fprintf(&b, "\n  stderr of %s: (empty)", e.Client)
		} else {
			fmt.Fprintf(&b, "\n  last %d lines of %s's stderr:", len(e.StderrTail), e.Client)
			for _, l := range e.StderrTail {
				fmt.Fprintf(&b, "\n    | %s", l)
			}
		}
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\n  full log: %s", e.LogPath)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *HarnessError) Unwrap() error { return e.Err }

// describeCallError explains a CallError in words for a diagnosis.
func describeCallError(ce *protocol.CallError) string {
	switch ce.Kind {
	case protocol.FailTimeout:
		return "the client did not reply in time (it hangs)" + errSuffix(ce.Err)
	case protocol.FailEOF:
		return "the client closed its stdout before replying (it exited or crashed)"
	case protocol.FailGarbage:
		return fmt.Sprintf("the client printed a line that is not a JSON reply: %q", ce.Line)
	case protocol.FailWrongID:
		return fmt.Sprintf("the client replied with the wrong id%s: %q", errSuffix(ce.Err), ce.Line)
	case protocol.FailTooLong:
		return "the client printed a reply line longer than the limit" + errSuffix(ce.Err)
	case protocol.FailWrite:
		return "the request could not be written to the client's stdin (it exited, or does not read)" + errSuffix(ce.Err)
	case protocol.FailBroken:
		return "the connection was already broken" + errSuffix(ce.Err)
	default:
		return ce.Error()
	}
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// IsHarnessError tells whether err is or wraps a *HarnessError.
func IsHarnessError(err error) bool {
	var he *HarnessError
	return errors.As(err, &he)
}
