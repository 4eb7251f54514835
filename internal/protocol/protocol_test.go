package protocol

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echo is a Handler that stores appended values and polls them back.
type echo struct {
	vals   []string
	next   int
	closed bool
}

func (e *echo) Init(req *Request) (string, error) {
	if err := CheckInit(req); err != nil {
		return "", err
	}
	if req.Config != nil && req.Config.Fsync == FsyncInterval {
		return "", Unsupported("fsync interval")
	}
	return "echo 1", nil
}

func (e *echo) Append(values []string) ([]*int64, error) {
	var offs []*int64
	for _, v := range values {
		offs = append(offs, Int64(int64(len(e.vals))))
		e.vals = append(e.vals, v)
	}
	return offs, nil
}

func (e *echo) Poll(ctx context.Context, max int, timeout time.Duration) ([]Record, error) {
	var out []Record
	for e.next < len(e.vals) && len(out) < max {
		out = append(out, Record{Offset: int64(e.next), Value: e.vals[e.next]})
		e.next++
	}
	return out, nil
}

func (e *echo) Ack(offset int64) error {
	if offset < 0 {
		return errors.New("negative")
	}
	return nil
}

func (e *echo) Close() error { e.closed = true; return nil }

// session feeds lines to Serve and returns its replies, one per line.
func session(t *testing.T, lines ...string) ([]string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Serve(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, &echo{})
	return strings.Split(strings.TrimSpace(out.String()), "\n"), err
}

func TestServe(t *testing.T) {
	const init = `{"id":1,"op":"init","dir":"/d","topic":"t","client":"c","role":"producer"}`
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
		err   error
	}{
		{"session", []string{init, `{"id":2,"op":"append","values":["a","b"]}`, `{"id":3,"op":"close"}`},
			[]string{`{"id":1,"ok":true,"impl":"echo 1"}`, `{"id":2,"ok":true,"offsets":[0,1]}`, `{"id":3,"ok":true}`}, nil},
		{"empty poll has records", []string{init, `{"id":2,"op":"poll","max":5,"timeout_ms":1}`, `{"id":3,"op":"close"}`},
			[]string{`{"id":1,"ok":true,"impl":"echo 1"}`, `{"id":2,"ok":true,"records":[]}`, `{"id":3,"ok":true}`}, nil},
		{"not JSON", []string{`hello`, `{"id":3,"op":"close"}`},
			[]string{`"code":"invalid"`, `{"id":3,"ok":true}`}, nil},
		{"before init", []string{`{"id":7,"op":"append","values":["a"]}`},
			[]string{`{"id":7,"ok":false,"error":"\"append\" before init","code":"invalid"}`}, io.ErrUnexpectedEOF},
		{"init twice", []string{init, init},
			[]string{`"ok":true`, `{"id":1,"ok":false,"error":"init sent twice","code":"invalid"}`}, io.ErrUnexpectedEOF},
		{"unsupported", []string{`{"id":1,"op":"init","topic":"t","role":"producer","config":{"chunk_records":0,"chunk_bytes":0,"retain_chunks":0,"fsync":"interval"}}`},
			[]string{`"code":"unsupported"`}, io.ErrUnexpectedEOF},
		{"bad role", []string{`{"id":1,"op":"init","topic":"t","role":"boss"}`}, []string{`unknown role`}, io.ErrUnexpectedEOF},
		{"acked without group", []string{`{"id":1,"op":"init","topic":"t","role":"consumer","start":"acked"}`}, []string{`needs a group`}, io.ErrUnexpectedEOF},
		{"append without values", []string{init, `{"id":2,"op":"append"}`}, []string{`"ok":true`, `append without values`}, io.ErrUnexpectedEOF},
		{"ack without offset", []string{init, `{"id":2,"op":"ack"}`}, []string{`"ok":true`, `ack without offset`}, io.ErrUnexpectedEOF},
		{"handler error", []string{init, `{"id":2,"op":"ack","offset":-1}`}, []string{`"ok":true`, `{"id":2,"ok":false,"error":"negative","code":"error"}`}, io.ErrUnexpectedEOF},
		{"unknown op", []string{init, `{"id":2,"op":"dance"}`}, []string{`"ok":true`, `unknown op`}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := session(t, tc.lines...)
			require.ErrorIs(t, err, tc.err)
			if tc.err == nil {
				require.NoError(t, err)
			}
			require.Len(t, got, len(tc.want))
			for i := range got {
				require.Contains(t, got[i], tc.want[i])
				require.True(t, json.Valid([]byte(got[i])), got[i])
			}
		})
	}
}

// pipeConn connects a Conn to a fake client whose replies a test writes.
func pipeConn(maxLine int) (*Conn, *bufio.Reader, io.WriteCloser) {
	reqR, reqW := io.Pipe()
	repR, repW := io.Pipe()
	return NewConn(reqW, repR, maxLine), bufio.NewReader(reqR), repW
}

func TestConnFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(w io.WriteCloser)
		kind  FailureKind
	}{
		{"garbage", func(w io.WriteCloser) { io.WriteString(w, "not json\n") }, FailGarbage},
		{"wrong id", func(w io.WriteCloser) { io.WriteString(w, `{"id":99,"ok":true}`+"\n") }, FailWrongID},
		{"exits", func(w io.WriteCloser) { w.Close() }, FailEOF},
		{"hangs", func(w io.WriteCloser) {}, FailTimeout},
		{"line too long", func(w io.WriteCloser) { io.WriteString(w, strings.Repeat("x", 5000)+"\n") }, FailTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, reqs, w := pipeConn(4096)
			go func() {
				if _, err := reqs.ReadBytes('\n'); err == nil {
					tc.reply(w)
				}
			}()
			_, err := c.Call(context.Background(), &Request{Op: OpPoll}, 200*time.Millisecond)
			var ce *CallError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.kind, ce.Kind, "%v", err)
			// The connection is broken from now on.
			_, err = c.Call(context.Background(), &Request{Op: OpPoll}, time.Second)
			require.ErrorAs(t, err, &ce)
			require.Equal(t, FailBroken, ce.Kind)
		})
	}
}

func TestConnOK(t *testing.T) {
	c, reqs, w := pipeConn(1 << 20)
	go func() {
		for i := 1; i <= 2; i++ {
			line, err := reqs.ReadBytes('\n')
			if err != nil {
				return
			}
			var req Request
			_ = json.Unmarshal(line, &req)
			io.WriteString(w, "\n") // blank lines are ignored
			rep, _ := json.Marshal(Reply{ID: req.ID, OK: i == 1, Error: "no", Code: ""})
			w.Write(append(rep, '\n'))
		}
	}()
	rep, err := c.Call(context.Background(), &Request{Op: OpInit}, time.Second)
	require.NoError(t, err)
	require.True(t, rep.OK)
	rep, err = c.Call(context.Background(), &Request{Op: OpAck, Offset: Int64(3)}, time.Second)
	require.NoError(t, err, "ok:false is a definite failure, not a broken call")
	require.False(t, rep.OK)
	require.Equal(t, CodeError, rep.Code, "a missing code counts as error")
}

// FuzzServe feeds arbitrary request lines to Serve: it must not panic, and
// it must answer every non-blank line with exactly one valid JSON reply.
func FuzzServe(f *testing.F) {
	f.Add(`{"id":1,"op":"init","topic":"t","role":"producer"}`)
	f.Add(`{"id":2,"op":"append","values":["a"]}`)
	f.Add(`{"id":"x"}`)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\r") || strings.TrimSpace(line) == "" {
			return
		}
		init := `{"id":1,"op":"init","topic":"t","role":"producer"}`
		var out bytes.Buffer
		_ = Serve(context.Background(), strings.NewReader(init+"\n"+line+"\n"), &out, &echo{})
		replies := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(replies) != 2 {
			t.Fatalf("%d replies to 2 lines: %q", len(replies), out.String())
		}
		for _, r := range replies {
			var rep Reply
			if err := json.Unmarshal([]byte(r), &rep); err != nil {
				t.Fatalf("reply is not JSON: %q", r)
			}
		}
	})
}
