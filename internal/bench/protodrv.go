package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	implpkg "github.com/kafka-lite/kafka-lite/internal/impl"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// protoImpl is an implementation behind adapter protocol v1: a command
// started once per client.
type protoImpl struct {
	name    string
	argv    []string
	env     []string
	batch   int // values per append request
	pollMax int // max per poll request
}

func (p *protoImpl) Name() string               { return p.name }
func (p *protoImpl) chunkDir(dir string) string { return dir + "/" + topicName }

// implName derives a short name from a command: its last path-like word
// without extension ("python3 examples/python/kl_adapter.py" → "kl_adapter").
func implName(argv []string) string {
	w := argv[len(argv)-1]
	if i := strings.LastIndexByte(w, '/'); i >= 0 {
		w = w[i+1:]
	}
	if i := strings.IndexByte(w, '.'); i > 0 {
		w = w[:i]
	}
	return w
}

// parseImpl turns an --impl value into an impl: "ref", "ref-adapter",
// "null" (the in-binary null adapter), or a shell-quoted command, optionally
// named as NAME=COMMAND.
func parseImpl(spec string, self string, batch, pollMax int, r *refImpl) (impl, error) {
	pi := func(name string, argv []string) *protoImpl {
		return &protoImpl{name: name, argv: argv, batch: batch, pollMax: pollMax}
	}
	switch spec {
	case "ref":
		return r, nil
	case "ref-adapter":
		argv, err := implpkg.Resolve(implpkg.Ref, self)
		return pi("ref-adapter", argv), err
	case "null", "null-adapter":
		return pi("null-adapter", nullArgv(self)), nil
	}
	if implpkg.IsEngine(spec) {
		argv, err := implpkg.Resolve(spec, self)
		if err != nil {
			return nil, err
		}
		return pi(spec[:strings.Index(spec, "://")], argv), nil
	}
	name, argv, err := namedCommand("--impl", spec)
	if err != nil {
		return nil, err
	}
	return pi(name, argv), nil
}

// nullArgv is the command line of the null adapter: SELF adapter --null.
func nullArgv(self string) []string { return []string{self, "adapter", "--" + nullFlag} }

// namedCommand splits the value of flag, [NAME=]COMMAND, into a name (by
// default implName of the command) and the shell-split command, which must
// be found on PATH.
func namedCommand(flag, spec string) (string, []string, error) {
	name, cmd := "", spec
	if i := strings.IndexByte(spec, '='); i > 0 && !strings.ContainsAny(spec[:i], " /\"'") {
		name, cmd = spec[:i], spec[i+1:]
	}
	argv, err := implpkg.Command(flag, cmd)
	if err != nil {
		return "", nil, err
	}
	if name == "" {
		name = implName(argv)
	}
	return name, argv, nil
}

// client is one running adapter process.
type client struct {
	impl    string
	cmd     *exec.Cmd
	conn    *protocol.Conn
	stdin   io.WriteCloser
	stderr  *tailBuffer
	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error
}

// tailBuffer keeps the last 4 KiB written to it (an adapter's stderr).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append([]byte(nil), t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

const callTimeout = 60 * time.Second

func (p *protoImpl) start(ctx context.Context, dir, role, clientName string) (*client, error) {
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	tb := &tailBuffer{}
	cmd.Stderr = tb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", strings.Join(p.argv, " "), err)
	}
	c := &client{impl: p.name, cmd: cmd, conn: protocol.NewConn(stdin, stdout, 256<<20), stdin: stdin, stderr: tb,
		done: make(chan struct{})}
	// Wait also waits for the copy of stderr, so after done the tail is
	// complete.
	go func() { c.waitErr = cmd.Wait(); close(c.done) }()
	req := &protocol.Request{Op: protocol.OpInit, Dir: dir, Topic: topicName, Client: clientName, Role: role,
		Config: &protocol.Config{Fsync: protocol.FsyncNever}}
	if role == protocol.RoleConsumer {
		req.Start = protocol.StartEarliest
	}
	if _, err := c.call(ctx, req); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

func (c *client) call(ctx context.Context, req *protocol.Request) (*protocol.Reply, error) {
	rep, err := c.conn.Call(ctx, req, callTimeout)
	if err == nil && !rep.OK {
		err = fmt.Errorf("%s failed: %s (%s)", req.Op, rep.Error, rep.Code)
	}
	if err != nil {
		var ce *protocol.CallError
		if errors.As(err, &ce) && ce.Kind == protocol.FailEOF {
			// The adapter died: let its last words reach the tail.
			select {
			case <-c.done:
			case <-time.After(2 * time.Second):
			}
		}
		if s := c.stderr.String(); s != "" {
			if len(s) > 600 {
				s = "…" + s[len(s)-600:]
			}
			err = fmt.Errorf("%w; stderr: %s", err, s)
		}
		return nil, err
	}
	return rep, nil
}

func (c *client) close(ctx context.Context) error {
	_, err := c.call(ctx, &protocol.Request{Op: protocol.OpClose})
	c.stdin.Close()
	select {
	case <-c.done:
		if err == nil && c.waitErr != nil {
			err = fmt.Errorf("adapter exited: %w", c.waitErr)
		}
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	return err
}

func (c *client) kill() {
	c.stdin.Close()
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (p *protoImpl) produce(ctx context.Context, dir string, vals []string) (produceResult, error) {
	c, err := p.start(ctx, dir, protocol.RoleProducer, "p1")
	if err != nil {
		return produceResult{}, err
	}
	h := newHist()
	t0 := mono()
	for i := 0; i < len(vals); i += p.batch {
		b := vals[i:min(i+p.batch, len(vals))]
		s := mono()
		if _, err := c.call(ctx, &protocol.Request{Op: protocol.OpAppend, Values: b}); err != nil {
			c.kill()
			return produceResult{}, err
		}
		// Every message of the batch waited for the whole request.
		_ = h.RecordValues(max(mono()-s, 1), int64(len(b)))
	}
	el := mono() - t0
	if err := c.close(ctx); err != nil {
		return produceResult{}, err
	}
	return produceResult{elapsed: el, publish: h}, nil
}

func (p *protoImpl) process(ctx context.Context, dir string, n int) (processResult, error) {
	c, err := p.start(ctx, dir, protocol.RoleConsumer, "c1")
	if err != nil {
		return processResult{}, err
	}
	h := newHist()
	t0 := mono()
	got := 0
	for got < n {
		s := mono()
		rep, err := c.call(ctx, &protocol.Request{Op: protocol.OpPoll, Max: min(p.pollMax, n-got), TimeoutMS: 1000})
		if err != nil {
			c.kill()
			return processResult{}, fmt.Errorf("after %d of %d records: %w", got, n, err)
		}
		record(h, mono()-s)
		if len(rep.Records) == 0 {
			c.kill()
			return processResult{}, fmt.Errorf("poll returned nothing for 1 s after %d of %d records", got, n)
		}
		got += len(rep.Records)
	}
	el := mono() - t0
	if err := c.close(ctx); err != nil {
		return processResult{}, err
	}
	return processResult{elapsed: el, poll: h}, nil
}

// parallel through the protocol: the producer sends everything due in one
// request of up to batch values (full speed: batches of batch; rate-limited:
// what the schedule says is due, so a slow adapter is not given a closed
// loop); the consumer polls in parallel.
func (p *protoImpl) parallel(ctx context.Context, dir string, vals []string, spec parallelSpec) (parallelResult, error) {
	n := len(vals)
	cons, err := p.start(ctx, dir, protocol.RoleConsumer, "c1")
	if err != nil {
		return parallelResult{}, err
	}
	prod, err := p.start(ctx, dir, protocol.RoleProducer, "p1")
	if err != nil {
		cons.kill()
		return parallelResult{}, err
	}
	ol := newOpenLoop(n, spec.rate, 5*time.Millisecond)
	res := &ol.res
	// The first of the two to fail cancels the other.
	g, gctx := errgroup.WithContext(ctx)
	var cEnd int64
	g.Go(func() error {
		got := 0
		lastOff := int64(-1 << 62)
		for got < n {
			rep, err := cons.call(gctx, &protocol.Request{Op: protocol.OpPoll, Max: p.pollMax, TimeoutMS: 1000})
			if err != nil {
				return fmt.Errorf("consumer after %d of %d records: %w", got, n, err)
			}
			now := mono()
			// One producer, a fresh topic, a consumer from the start: the
			// i-th record delivered is the i-th sent. Offsets need only
			// increase (engines may start at 1, as JetStream does).
			for j, r := range rep.Records {
				i := int64(got + j)
				if i >= int64(n) || r.Offset <= lastOff {
					return fmt.Errorf("consumer: record %d at offset %d after offset %d (of %d sent)", i, r.Offset, lastOff, n)
				}
				lastOff = r.Offset
				ol.delivered(i, now)
			}
			got += len(rep.Records)
		}
		cEnd = mono()
		return nil
	})
	g.Go(func() error {
		spinUntil(ol.start)
		for i := 0; i < n; {
			j := min(i+p.batch, n)
			if ol.interval > 0 {
				sleepUntil(ol.intended(int64(i)), true)
				due := int((mono()-ol.start)/ol.interval) + 1
				j = min(max(due, i+1), i+p.batch, n)
			}
			s := mono()
			for k := i; k < j; k++ {
				ol.sent[k].Store(s)
			}
			if _, err := prod.call(gctx, &protocol.Request{Op: protocol.OpAppend, Values: vals[i:j]}); err != nil {
				return fmt.Errorf("producer: %w", err)
			}
			_ = res.publish.RecordValues(max(mono()-s, 1), int64(j-i))
			i = j
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		prod.kill()
		cons.kill()
		return *res, err
	}
	if err := prod.close(ctx); err != nil {
		cons.kill()
		return *res, err
	}
	if err := cons.close(ctx); err != nil {
		return *res, err
	}
	res.elapsed = cEnd - ol.start
	return *res, nil
}

// rtt measures the round trip of a one-value append request, count times.
func (p *protoImpl) rtt(ctx context.Context, dir string, count int) (int64, error) {
	c, err := p.start(ctx, dir, protocol.RoleProducer, "p1")
	if err != nil {
		return 0, err
	}
	h := newHist()
	for i := 0; i < count; i++ {
		s := mono()
		if _, err := c.call(ctx, &protocol.Request{Op: protocol.OpAppend, Values: []string{"x"}}); err != nil {
			c.kill()
			return 0, err
		}
		record(h, mono()-s)
	}
	if err := c.close(ctx); err != nil {
		return 0, err
	}
	return h.ValueAtQuantile(50), nil
}

// nullHandler answers the protocol without storing anything: append
// succeeds at once, poll returns max synthetic records. It measures what the
// protocol itself costs (JSON encoding, the pipe round trip).
type nullHandler struct {
	next  int64
	value string
}

func (h *nullHandler) Init(req *protocol.Request) (string, error) { return "klbench-null 1", nil }
func (h *nullHandler) Append(values []string) ([]*int64, error)   { return nil, nil }
func (h *nullHandler) Ack(offset int64) error                     { return nil }
func (h *nullHandler) Close() error                               { return nil }
func (h *nullHandler) Poll(ctx context.Context, max int, _ time.Duration) ([]protocol.Record, error) {
	out := make([]protocol.Record, max)
	for i := range out {
		out[i] = protocol.Record{Offset: h.next, Value: h.value}
		h.next++
	}
	return out, nil
}

// ServeNull runs the null adapter on stdin/stdout. Its synthetic records
// are KLBENCH_NULL_SIZE bytes (default 100).
func ServeNull(ctx context.Context, in io.Reader, out io.Writer) error {
	h, err := nullHandlerFromEnv()
	if err != nil {
		return err
	}
	return protocol.Serve(ctx, in, out, h)
}

// nullFlag selects the null adapter in klbench's adapter subcommand.
const nullFlag = "null"

// nullHandlerFromEnv is the null adapter's handler; KLBENCH_NULL_SIZE sets
// the size of the values it returns (default 100).
func nullHandlerFromEnv() (protocol.Handler, error) {
	size := 100
	if s := os.Getenv("KLBENCH_NULL_SIZE"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			size = v
		}
	}
	return &nullHandler{value: makeValue(0, size)}, nil
}
