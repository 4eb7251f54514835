package mutant_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/mutant"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
	"github.com/kafka-lite/kafka-lite/internal/values"
)

// serveArg makes the test binary serve one protocol client:
// `mutant.test -mutant.serve NAME` ("base" for the correct log).
const serveArg = "-mutant.serve"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == serveArg {
		name := os.Args[2]
		if name == "base" {
			name = ""
		}
		err := mutant.Serve(context.Background(), os.Stdin, os.Stdout, name)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveArgv is the command line of one client of the named mutant.
func serveArgv(t *testing.T, name string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		name = "base"
	}
	return []string{exe, serveArg, name}
}

// client is one client process driven through protocol.Conn.
type client struct {
	cmd  *exec.Cmd
	conn *protocol.Conn
}

func startClient(t *testing.T, name string) *client {
	t.Helper()
	argv := serveArgv(t, name)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &client{cmd: cmd, conn: protocol.NewConn(in, out, 1<<20)}
}

// call sends req and fails the test unless the reply is ok.
func (c *client) call(t *testing.T, req *protocol.Request) *protocol.Reply {
	t.Helper()
	rep, err := c.conn.Call(context.Background(), req, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", req.Op, err)
	}
	if !rep.OK {
		t.Fatalf("%s: %s (%s)", req.Op, rep.Error, rep.Code)
	}
	return rep
}

func initReq(dir, role, client string, cfg protocol.Config) *protocol.Request {
	return &protocol.Request{Op: protocol.OpInit, Dir: dir, Topic: "t", Client: client, Role: role,
		Group: "g", Start: protocol.StartEarliest, Config: &cfg}
}

func TestNamesScenariosExpected(t *testing.T) {
	names := mutant.Names()
	if len(names) != 15 {
		t.Fatalf("Names() = %v, want 15 mutants", names)
	}
	for _, n := range names {
		if mutant.Describe(n) == "" || len(mutant.Expected(n)) == 0 {
			t.Errorf("%s: no description or expected anomalies", n)
		}
		text := mutant.Scenario(n)
		if text == "" {
			t.Errorf("%s: no scenario", n)
			continue
		}
		sc, err := scenario.Parse(n+".yaml", []byte(text))
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if sc.Name != "mutant-"+n {
			t.Errorf("%s: scenario named %q", n, sc.Name)
		}
		if _, err := scenario.LoadFile(filepath.Join("testdata", n+".yaml")); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if mutant.Scenario("nope") != "" || mutant.Expected("nope") != nil || mutant.Describe("nope") != "" {
		t.Error("unknown mutant has a scenario, expectations or description")
	}
	if err := mutant.Serve(context.Background(), strings.NewReader(""), io.Discard, "nope"); err == nil {
		t.Error("Serve accepted an unknown mutant")
	}
}

func TestBaseSession(t *testing.T) {
	dir := t.TempDir()
	cfg := protocol.Config{ChunkRecords: 3, Fsync: protocol.FsyncAlways}
	p := startClient(t, "")
	if rep := p.call(t, initReq(dir, protocol.RoleProducer, "p1", cfg)); !strings.HasPrefix(rep.Impl, "kl-mutant ") {
		t.Errorf("impl %q", rep.Impl)
	}
	var want []string
	for i := range 4 {
		vals := []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d \"quoted\" \\ <&>", i)}
		rep := p.call(t, &protocol.Request{Op: protocol.OpAppend, Values: vals})
		for k, o := range rep.Offsets {
			if o == nil || *o != int64(len(want)+k) {
				t.Fatalf("append %d: offsets %v", i, rep.Offsets)
			}
		}
		want = append(want, vals...)
	}
	c := startClient(t, "")
	c.call(t, initReq(dir, protocol.RoleConsumer, "c1", cfg))
	rep := c.call(t, &protocol.Request{Op: protocol.OpPoll, Max: 5, TimeoutMS: 100})
	if len(rep.Records) != 5 {
		t.Fatalf("poll got %d records, want 5", len(rep.Records))
	}
	c.call(t, &protocol.Request{Op: protocol.OpAck, Offset: protocol.Int64(4)})
	c.call(t, &protocol.Request{Op: protocol.OpClose})
	// Resume after the ack.
	c2 := startClient(t, "")
	req := initReq(dir, protocol.RoleConsumer, "c1", cfg)
	req.Start = protocol.StartAcked
	c2.call(t, req)
	rep = c2.call(t, &protocol.Request{Op: protocol.OpPoll, Max: 100, TimeoutMS: 100})
	if len(rep.Records) != 3 || rep.Records[0].Offset != 5 || rep.Records[0].Value != want[5] {
		t.Fatalf("resumed poll = %v, want offsets 5..7", rep.Records)
	}
	// An empty poll waits for its timeout and then answers [].
	began := time.Now()
	rep = c2.call(t, &protocol.Request{Op: protocol.OpPoll, Max: 100, TimeoutMS: 50})
	if len(rep.Records) != 0 || time.Since(began) < 50*time.Millisecond {
		t.Fatalf("empty poll = %v after %v", rep.Records, time.Since(began))
	}
	// Unsupported options.
	u := startClient(t, "")
	rep, err := u.conn.Call(context.Background(), initReq(dir, protocol.RoleProducer, "p2", protocol.Config{Fsync: protocol.FsyncInterval}), 5*time.Second)
	if err != nil || rep.OK || rep.Code != protocol.CodeUnsupported {
		t.Fatalf("fsync interval: %+v, %v", rep, err)
	}
	rep, err = u.conn.Call(context.Background(), initReq(dir, protocol.RoleProducer, "p2", protocol.Config{RetainBytes: 10}), 5*time.Second)
	if err != nil || rep.OK || rep.Code != protocol.CodeUnsupported {
		t.Fatalf("retain_bytes: %+v, %v", rep, err)
	}
}

// TestBaseConcurrentProducers runs 4 producer processes at once into small
// chunks and checks the log is dense, in each producer's order, and holds
// every value once at the offset its append returned.
func TestBaseConcurrentProducers(t *testing.T) {
	dir := t.TempDir()
	cfg := protocol.Config{ChunkRecords: 7, RetainChunks: 0}
	const producers, perProducer = 4, 300
	returned := make(map[int64]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range producers {
		p := startClient(t, "")
		name := fmt.Sprintf("p%d", i+1)
		p.call(t, initReq(dir, protocol.RoleProducer, name, cfg))
		wg.Go(func() {
			for seq := 0; seq < perProducer; {
				n := min(1+seq%3, perProducer-seq)
				vals := make([]string, n)
				for k := range vals {
					vals[k] = values.Make(name, int64(seq+k), 60+(seq+k)%200)
				}
				rep, err := p.conn.Call(context.Background(), &protocol.Request{Op: protocol.OpAppend, Values: vals}, 10*time.Second)
				if err != nil || !rep.OK {
					t.Errorf("%s append: %+v %v", name, rep, err)
					return
				}
				mu.Lock()
				for k, o := range rep.Offsets {
					if _, dup := returned[*o]; dup {
						t.Errorf("offset %d returned twice", *o)
					}
					returned[*o] = vals[k]
				}
				mu.Unlock()
				seq += n
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	c := startClient(t, "")
	c.call(t, initReq(dir, protocol.RoleConsumer, "c1", cfg))
	var got []protocol.Record
	for len(got) < producers*perProducer {
		rep := c.call(t, &protocol.Request{Op: protocol.OpPoll, Max: 97, TimeoutMS: 200})
		if len(rep.Records) == 0 {
			t.Fatalf("read %d of %d records, then nothing", len(got), producers*perProducer)
		}
		got = append(got, rep.Records...)
	}
	last := map[string]int64{}
	for i, r := range got {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d: the log is not dense", i, r.Offset)
		}
		if returned[r.Offset] != r.Value {
			t.Fatalf("offset %d holds %.30q, its append returned it for %.30q", r.Offset, r.Value, returned[r.Offset])
		}
		id, err := values.Parse(r.Value)
		if err != nil {
			t.Fatalf("offset %d: %v", r.Offset, err)
		}
		if prev, ok := last[id.Producer]; ok && id.Seq != prev+1 {
			t.Fatalf("%s: seq %d after %d", id.Producer, id.Seq, prev)
		}
		last[id.Producer] = id.Seq
	}
	chunks, _ := filepath.Glob(filepath.Join(dir, "t", "*.log"))
	if want := (producers*perProducer + 6) / 7; len(chunks) != want {
		t.Errorf("%d chunks, want %d", len(chunks), want)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(last)), []string{"p1", "p2", "p3", "p4"}) {
		t.Errorf("producers seen: %v", last)
	}
}
