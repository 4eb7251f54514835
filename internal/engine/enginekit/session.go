package enginekit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Session drives one served client over io.Pipe, as the harness would:
// the engine adapters' tests use it.
type Session struct {
	in   *io.PipeWriter
	out  *bufio.Reader
	id   int64
	done chan error
}

// StartSession runs serve(ctx, in, out) in a goroutine and returns a
// session that talks to it.
func StartSession(ctx context.Context, serve func(ctx context.Context, in io.Reader, out io.Writer) error) *Session {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &Session{in: inW, out: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := serve(ctx, inR, outW)
		outW.CloseWithError(io.EOF)
		inR.Close()
		s.done <- err
	}()
	return s
}

// Do sends req (its ID is set) and returns the reply.
func (s *Session) Do(req protocol.Request) (protocol.Reply, error) {
	s.id++
	req.ID = s.id
	b, err := json.Marshal(&req)
	if err != nil {
		return protocol.Reply{}, fmt.Errorf("encode request: %w", err)
	}
	if _, err := s.in.Write(append(b, '\n')); err != nil {
		return protocol.Reply{}, fmt.Errorf("send %s: %w", req.Op, err)
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return protocol.Reply{}, fmt.Errorf("reply to %s: %w", req.Op, err)
	}
	var rep protocol.Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, fmt.Errorf("decode reply %q: %w", line, err)
	}
	if rep.ID != req.ID {
		return rep, fmt.Errorf("reply id %d, want %d", rep.ID, req.ID)
	}
	return rep, nil
}

// Wait closes the request stream and returns what serve returned.
func (s *Session) Wait(timeout time.Duration) error {
	s.in.Close()
	select {
	case err := <-s.done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("serve did not return within %v", timeout)
	}
}
