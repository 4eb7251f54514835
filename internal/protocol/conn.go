package protocol

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// FailureKind classifies why a call got no valid reply. Every such call is
// indeterminate: the operation may or may not have taken effect.
type FailureKind string

// Failure kinds of a CallError.
const (
	FailTimeout  FailureKind = "timeout"   // no reply within the timeout
	FailEOF      FailureKind = "exited"    // the client closed stdout (usually: it died)
	FailGarbage  FailureKind = "garbage"   // a reply line that is not a JSON object
	FailWrongID  FailureKind = "wrong-id"  // a reply whose id is not the request's
	FailTooLong  FailureKind = "too-long"  // a reply line over the limit
	FailWrite    FailureKind = "write"     // the request could not be written
	FailCanceled FailureKind = "cancelled" // the harness gave up (context done)
	FailBroken   FailureKind = "broken"    // an earlier failure broke the connection
)

// CallError is returned by Conn.Call when no valid reply came.
type CallError struct {
	Kind FailureKind
	Op   string
	ID   int64
	// Line is the start of the offending line, for garbage and wrong-id.
	Line string
	Err  error
}

func (e *CallError) Error() string {
	s := fmt.Sprintf("%s request %d: %s", e.Op, e.ID, e.Kind)
	if e.Line != "" {
		s += fmt.Sprintf(" (line %q)", e.Line)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CallError) Unwrap() error { return e.Err }

type lineResult struct {
	line []byte
	err  error
}

// Conn is the harness side of one client: it sends requests and waits for
// their replies. After any CallError the Conn is broken and every later call
// fails at once with FailBroken.
type Conn struct {
	w      io.Writer
	lines  chan lineResult
	nextID int64

	mu     sync.Mutex
	broken error

	done      chan struct{}
	closeOnce sync.Once
}

// NewConn starts reading replies from stdout. Lines over maxLine bytes break
// the connection. The reader goroutine ends when stdout ends.
func NewConn(stdin io.Writer, stdout io.Reader, maxLine int) *Conn {
	c := &Conn{w: stdin, lines: make(chan lineResult, 1), done: make(chan struct{})}
	go func() {
		br := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := readLine(br, maxLine)
			lr := lineResult{err: err}
			if err == nil {
				lr.line = append([]byte(nil), line...)
			}
			// A line nobody will read (a late reply after a timeout) must
			// not keep this goroutine, or its buffer, alive after Close.
			select {
			case c.lines <- lr:
			case <-c.done:
				return
			}
			if err != nil {
				close(c.lines)
				return
			}
		}
	}()
	return c
}

// Close releases the reader goroutine. Call it once the client's stdout is
// closed or the client is dead; later calls fail with FailBroken.
func (c *Conn) Close() {
	c.closeOnce.Do(func() { close(c.done) })
	c.mu.Lock()
	if c.broken == nil {
		c.broken = errors.New("connection closed")
	}
	c.mu.Unlock()
}

// Call assigns req an id, sends it, and waits up to timeout for its reply.
// A reply with ok:false is returned with a nil error: it is a definite
// failure, not a broken call.
func (c *Conn) Call(ctx context.Context, req *Request, timeout time.Duration) (*Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	req.ID = c.nextID
	fail := func(kind FailureKind, line []byte, err error) (*Reply, error) {
		ce := &CallError{Kind: kind, Op: req.Op, ID: req.ID, Line: clip(line, 200), Err: err}
		c.broken = ce
		return nil, ce
	}
	if c.broken != nil {
		return nil, &CallError{Kind: FailBroken, Op: req.Op, ID: req.ID, Err: c.broken}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", req.Op, err)
	}
	b = append(b, '\n')
	if _, err := c.w.Write(b); err != nil {
		return fail(FailWrite, nil, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fail(FailCanceled, nil, ctx.Err())
		case <-c.done:
			return fail(FailCanceled, nil, errors.New("connection closed"))
		case <-timer.C:
			return fail(FailTimeout, nil, fmt.Errorf("no reply within %v", timeout))
		case lr, ok := <-c.lines:
			if !ok {
				return fail(FailEOF, nil, io.EOF)
			}
			if lr.err != nil {
				if errors.Is(lr.err, ErrLineTooLong) {
					return fail(FailTooLong, nil, lr.err)
				}
				if errors.Is(lr.err, io.EOF) {
					return fail(FailEOF, nil, lr.err)
				}
				return fail(FailEOF, nil, lr.err)
			}
			line := trimSpace(lr.line)
			if len(line) == 0 {
				continue
			}
			var rep Reply
			if err := json.Unmarshal(line, &rep); err != nil {
				return fail(FailGarbage, line, err)
			}
			if rep.ID != req.ID {
				return fail(FailWrongID, line, fmt.Errorf("reply id %d, want %d", rep.ID, req.ID))
			}
			if !rep.OK && rep.Code == "" {
				rep.Code = CodeError
			}
			return &rep, nil
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
