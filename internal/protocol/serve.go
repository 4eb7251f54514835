package protocol

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Handler is the implementation side of one client: Serve decodes requests
// and calls these methods in order, one at a time.
type Handler interface {
	// Init opens the topic for the role in req and returns "name version".
	Init(req *Request) (impl string, err error)
	// Append appends each value as one message, in order, and returns one
	// offset per value (nil where unknown), or nil for all unknown.
	Append(values []string) ([]*int64, error)
	// Poll returns up to max records in log order, continuing after the
	// previous poll. It returns as soon as at least one record is available,
	// or an empty slice once timeout has passed.
	Poll(ctx context.Context, max int, timeout time.Duration) ([]Record, error)
	// Ack durably records offset as the group's position before returning.
	Ack(offset int64) error
	// Close releases everything; Serve returns after answering it.
	Close() error
}

// MaxLine is the longest request line Serve accepts: a batch of values of
// over 1 MiB each fits easily.
const MaxLine = 256 << 20

// Serve runs the client side of the protocol: it reads requests from in,
// dispatches them to h, and writes replies to out, until a close request has
// been answered (nil) or in ends (io.ErrUnexpectedEOF if no close came).
// A request that cannot be decoded gets an ok:false reply with code
// "invalid"; a line over MaxLine ends Serve with an error.
func Serve(ctx context.Context, in io.Reader, out io.Writer, h Handler) error {
	br := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriterSize(out, 1<<20)
	initDone := false
	for {
		line, err := readLine(br, MaxLine)
		if err == io.EOF {
			if initDone {
				_ = h.Close()
			}
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var req Request
		rep := Reply{}
		done := false
		if err := json.Unmarshal(line, &req); err != nil {
			rep = failure(req.ID, Invalid("cannot decode request: %v", err))
		} else {
			rep.ID = req.ID
			switch {
			case req.Op == OpInit && initDone:
				rep = failure(req.ID, Invalid("init sent twice"))
			case req.Op != OpInit && req.Op != OpClose && !initDone:
				rep = failure(req.ID, Invalid("%q before init", req.Op))
			default:
				rep, done = dispatch(ctx, h, &req)
				if req.Op == OpInit && rep.OK {
					initDone = true
				}
			}
		}
		if err := writeReply(bw, &rep); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func dispatch(ctx context.Context, h Handler, req *Request) (Reply, bool) {
	rep := Reply{ID: req.ID, OK: true}
	var err error
	switch req.Op {
	case OpInit:
		rep.Impl, err = h.Init(req)
	case OpAppend:
		if len(req.Values) == 0 {
			return failure(req.ID, Invalid("append without values")), false
		}
		rep.Offsets, err = h.Append(req.Values)
		if err == nil && rep.Offsets != nil && len(rep.Offsets) != len(req.Values) {
			err = fmt.Errorf("implementation returned %d offsets for %d values", len(rep.Offsets), len(req.Values))
		}
	case OpPoll:
		max := req.Max
		if max <= 0 {
			max = 100
		}
		rep.Records, err = h.Poll(ctx, max, time.Duration(req.TimeoutMS)*time.Millisecond)
		if rep.Records == nil {
			rep.Records = []Record{}
		}
	case OpAck:
		if req.Offset == nil {
			return failure(req.ID, Invalid("ack without offset")), false
		}
		err = h.Ack(*req.Offset)
	case OpClose:
		err = h.Close()
		if err == nil {
			return rep, true
		}
	default:
		return failure(req.ID, Invalid("unknown op %q", req.Op)), false
	}
	if err != nil {
		return failure(req.ID, err), false
	}
	return rep, false
}

// failure is the reply to a failed request. The code has a field of its
// own, so the message does not repeat it: "invalid: invalid: …" read
// badly in every diagnosis.
func failure(id int64, err error) Reply {
	msg := err.Error()
	var pe *Error
	if errors.As(err, &pe) {
		msg = strings.Replace(msg, pe.Error(), pe.Msg, 1)
	}
	return Reply{ID: id, OK: false, Error: msg, Code: CodeOf(err)}
}

func writeReply(bw *bufio.Writer, rep *Reply) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode reply %d: %w", rep.ID, err)
	}
	b = append(b, '\n')
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write reply %d: %w", rep.ID, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write reply %d: %w", rep.ID, err)
	}
	return nil
}

// ErrLineTooLong is returned when a line exceeds the reader's limit.
var ErrLineTooLong = errors.New("line too long")

// readLine reads one '\n'-terminated line of at most max bytes. A final line
// without '\n' is returned as a line; io.EOF is returned only when nothing
// was read.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, max)
		}
		if err == nil {
			if buf == nil {
				return frag, nil
			}
			return append(buf, frag...), nil
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, frag...)
			continue
		}
		if err == io.EOF && len(buf)+len(frag) > 0 {
			return append(buf, frag...), nil
		}
		return nil, err
	}
}
