package run

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// Server is an engine server that klcheck starts, stops, and kills for the
// scenario's server faults (target: server). The implementation's clients
// connect to it by themselves (a nats:// URL names the same address).
// With Nodes it is a cluster: one process per node.
type Server struct {
	// Argv is the server's command line. Every "{dir}" in it is replaced
	// with the scenario's server state directory, which survives the
	// server's restarts within one scenario and is fresh for each; with
	// Nodes, every "{node}" with the node's index (0, 1, ...).
	Argv []string `json:"argv"`
	// Addr is the host:port the server listens on; the server is ready
	// when a TCP connection to it succeeds. With Nodes it is Nodes[0].
	Addr string `json:"addr"`
	// Nodes, when it has more than one address, makes the server a
	// cluster: node I runs Argv with {node} = I and listens on Nodes[I].
	Nodes []string `json:"nodes,omitempty"`
	// ReadyTimeout bounds each start, until the address accepts
	// connections (default DefaultServerReadyTimeout).
	ReadyTimeout time.Duration `json:"-"`
	// Ready, when set, is called after the nodes of a start accept
	// connections, until it returns nil or the start's bound passes: a
	// cluster that listens may still be electing its leader.
	Ready func(ctx context.Context) error `json:"-"`
	// Leader, when set, returns the index of the node that leads the
	// topic, for faults with node: leader.
	Leader func(ctx context.Context) (int, error) `json:"-"`
}

// DefaultServerReadyTimeout is Server.ReadyTimeout's default: room for a
// JVM-based broker to recover its log on a loaded machine.
const DefaultServerReadyTimeout = 60 * time.Second

// readyTimeout returns the bound of one start.
func (s Server) readyTimeout() time.Duration {
	if s.ReadyTimeout > 0 {
		return s.ReadyTimeout
	}
	return DefaultServerReadyTimeout
}

// addrs returns the address of each node (one for a single server).
func (s Server) addrs() []string {
	if len(s.Nodes) > 1 {
		return s.Nodes
	}
	return []string{s.Addr}
}

// ServerDirPlaceholder is replaced in Server.Argv by the state directory.
const ServerDirPlaceholder = "{dir}"

// ServerNodePlaceholder is replaced in Server.Argv by a node's index.
const ServerNodePlaceholder = "{node}"

// Bounds of the server's lifecycle.
const (
	serverStopTimeout = 10 * time.Second       // SIGTERM, then SIGKILL
	serverReadyPoll   = 20 * time.Millisecond  // between connection attempts
	serverGrace       = 500 * time.Millisecond // wait before a failed client restarts during an outage
	leaderTimeout     = 5 * time.Second        // Server.Leader's bound
	readyRetry        = 250 * time.Millisecond // between Server.Ready calls
	readyAttempt      = 2 * time.Second        // one Server.Ready call (a cluster without a leader does not answer)
)

// serverRole is history.Op.Role for the server's lifecycle entries; the
// checks look only at producers and consumers.
const serverRole = "server"

// serverNode is one node of the server (the only one of a single server).
type serverNode struct {
	index int
	argv  []string
	addr  string
	proc  *process // the current process; guarded by serverProc.mu
}

// serverProc is the running server of one scenario.
type serverProc struct {
	r      *runner
	spec   Server
	argv   []string // node 0's
	logDir string
	nodes  []*serverNode
	multi  bool

	mu sync.Mutex
	n  int // processes started, over all nodes
	// faultedAt is when the last server fault began; recoveredAt when the
	// server was last ready again after it (zero while it is down).
	faultedAt, recoveredAt time.Time
}

// newServer prepares spec for one scenario: its state directory is dir.
func newServer(r *runner, spec Server, dir, logDir string) *serverProc {
	s := &serverProc{r: r, spec: spec, logDir: logDir, multi: len(spec.Nodes) > 1}
	for i, addr := range spec.addrs() {
		argv := make([]string, len(spec.Argv))
		for j, a := range spec.Argv {
			a = strings.ReplaceAll(a, ServerDirPlaceholder, dir)
			argv[j] = strings.ReplaceAll(a, ServerNodePlaceholder, strconv.Itoa(i))
		}
		s.nodes = append(s.nodes, &serverNode{index: i, argv: argv, addr: addr})
	}
	s.argv = s.nodes[0].argv
	return s
}

// listening tells whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// nodeName is how history entries and errors name a node.
func (s *serverProc) nodeName(nd *serverNode) string {
	if !s.multi {
		return "the server"
	}
	return fmt.Sprintf("node %d", nd.index)
}

// nodeNote prefixes a history entry's text with the node, for a cluster.
func (s *serverProc) nodeNote(nd *serverNode, text string) string {
	if !s.multi {
		return text
	}
	return fmt.Sprintf("node %d: %s", nd.index, text)
}

// start starts every node and waits until all are ready, up to timeout.
// No node may be running.
func (s *serverProc) start(ctx context.Context, timeout time.Duration) error {
	return s.startNodes(ctx, s.nodes, timeout)
}

// startNodes starts nds, each with its stdout and stderr into
// server.N.log, waits until each accepts connections and then, with
// Server.Ready, until the server is ready, all within timeout.
func (s *serverProc) startNodes(ctx context.Context, nds []*serverNode, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	type started struct {
		nd *serverNode
		p  *process
		at int64
	}
	var sts []started
	for _, nd := range nds {
		s.mu.Lock()
		s.n++
		n := s.n
		s.mu.Unlock()
		log, err := newStderrLog(filepath.Join(s.logDir, fmt.Sprintf("server.%d.log", n)))
		if err != nil {
			return s.r.outputError(fmt.Errorf("server: %w", err))
		}
		s.r.addLog(log)
		at := s.r.rec.now()
		p, err := startProcess(nd.argv, 0, log, true)
		if err != nil {
			return s.harnessError(nil, "start", fmt.Sprintf("cannot start %s %q: %v", s.nodeName(nd), strings.Join(nd.argv, " "), err), err)
		}
		p.session, p.logPath = n, log.path
		s.mu.Lock()
		nd.proc = p
		s.mu.Unlock()
		sts = append(sts, started{nd, p, at})
	}
	for _, st := range sts {
		for !listening(st.nd.addr) {
			if st.p.exited() {
				return s.harnessError(st.p, "start", fmt.Sprintf("%s exited before it listened on %s (%s)", s.nodeName(st.nd), st.nd.addr, st.p.exitStatus()), nil)
			}
			if time.Now().After(deadline) {
				return s.harnessError(st.p, "start", fmt.Sprintf("%s did not listen on %s within %v", s.nodeName(st.nd), st.nd.addr, timeout), nil)
			}
			if !sleepCtx(ctx, serverReadyPoll) {
				st.p.reap(reapTimeout)
				return errStopped
			}
		}
	}
	ready := ""
	if s.spec.Ready != nil {
		if err := s.waitReady(ctx, deadline); err != nil {
			return s.harnessError(nil, "start", fmt.Sprintf("the server listened but was not ready within %v: %v", timeout, err), err)
		}
		ready = ", ready"
	}
	for _, st := range sts {
		op := s.op(history.FStart, st.p.session)
		op.Invoke, op.Complete, op.Error = st.at, s.r.rec.now(), s.nodeNote(st.nd, fmt.Sprintf("pid %d, listening on %s%s", st.p.pid, st.nd.addr, ready))
		s.r.rec.add(op, "")
	}
	s.mu.Lock()
	if !s.faultedAt.IsZero() {
		s.recoveredAt = time.Now()
	}
	s.mu.Unlock()
	return nil
}

// waitReady calls Server.Ready until it succeeds or deadline passes, and
// returns its last error.
func (s *serverProc) waitReady(ctx context.Context, deadline time.Time) error {
	for {
		d := time.Now().Add(readyAttempt)
		if d.After(deadline) {
			d = deadline
		}
		rctx, cancel := context.WithDeadline(ctx, d)
		err := s.spec.Ready(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().Add(readyRetry).After(deadline) || !sleepCtx(ctx, readyRetry) {
			return err
		}
	}
}

// op returns a history entry for the server process of session n.
func (s *serverProc) op(f string, n int) history.Op {
	return history.Op{Client: serverRole, Session: n, Role: serverRole, F: f, Phase: phaseMain, Outcome: history.OK}
}

// running returns the nodes' current processes that have not exited.
func (s *serverProc) running() []*process {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []*process
	for _, nd := range s.nodes {
		if nd.proc != nil && !nd.proc.exited() {
			ps = append(ps, nd.proc)
		}
	}
	return ps
}

// stop ends the server at the end of a scenario: SIGTERM to every node,
// then SIGKILL after serverStopTimeout. It reports whether every node was
// reaped.
func (s *serverProc) stop() bool {
	s.mu.Lock()
	var ps []*process
	for _, nd := range s.nodes {
		if nd.proc != nil {
			ps = append(ps, nd.proc)
		}
	}
	s.mu.Unlock()
	for _, p := range ps {
		if !p.exited() {
			p.signal(sigCONT)
			p.signal(syscall.SIGTERM)
		}
	}
	ok := true
	for _, p := range ps {
		p.wait(serverStopTimeout)
		ok = p.reap(reapTimeout) && ok
	}
	return ok
}

// markFaulted notes that a fault took the server down just now: client
// failures are excused until it is back and settled (excuses).
func (s *serverProc) markFaulted() {
	s.mu.Lock()
	s.faultedAt, s.recoveredAt = time.Now(), time.Time{}
	s.mu.Unlock()
}

// targets returns the nodes fs hits now and how they were chosen.
func (s *serverProc) targets(fs *faultState) ([]*serverNode, string) {
	if !s.multi || fs.f.Node == "" || fs.f.Node == scenario.NodeAll {
		if s.multi {
			return s.nodes, "every node"
		}
		return s.nodes, ""
	}
	if fs.f.Node == scenario.NodeLeader {
		if s.spec.Leader == nil {
			nd := s.nodes[fs.pick(len(s.nodes))]
			return []*serverNode{nd}, "leader unknown (the engine has no leader hook), a random node"
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaderTimeout)
		i, err := s.spec.Leader(ctx)
		cancel()
		if err == nil && i >= 0 && i < len(s.nodes) {
			return []*serverNode{s.nodes[i]}, "the leader"
		}
		if err == nil {
			err = fmt.Errorf("node %d is not one of the %d nodes", i, len(s.nodes))
		}
		nd := s.nodes[fs.pick(len(s.nodes))]
		return []*serverNode{nd}, fmt.Sprintf("leader unknown (%v), a random node", err)
	}
	return []*serverNode{s.nodes[fs.pick(len(s.nodes))]}, "a random node"
}

// fault applies a server fault to the nodes it picks: SIGKILL, then a
// restart after RestartAfterMS, or SIGSTOP for PauseMS. It returns once
// the nodes are ready again, even if ctx ends meanwhile: the drain needs
// them. A power loss waits for it (the run's gate).
func (s *serverProc) fault(fs *faultState, reason string) error {
	s.r.gate.RLock()
	defer s.r.gate.RUnlock()
	if !fs.tryFire() {
		return nil
	}
	nds, how := s.targets(fs)
	if how != "" {
		reason += ", " + how
	}
	s.markFaulted()
	s.mu.Lock()
	procs := make([]*process, len(nds))
	for i, nd := range nds {
		procs[i] = nd.proc
	}
	s.mu.Unlock()
	switch fs.f.Kind {
	case scenario.FaultKill:
		ops := make([]history.Op, len(nds))
		for i, p := range procs {
			ops[i] = s.op(history.FKill, p.session)
			ops[i].Invoke = s.r.rec.now()
			p.kill(nil)
		}
		for i, p := range procs {
			if !p.reap(reapTimeout) {
				return s.harnessError(p, "internal", s.nodeName(nds[i])+" did not die of SIGKILL within "+reapTimeout.String(), nil)
			}
			ops[i].Complete, ops[i].Error = s.r.rec.now(), s.nodeNote(nds[i], reason)
			s.r.rec.add(ops[i], "")
		}
		time.Sleep(time.Duration(fs.f.RestartAfterMS) * time.Millisecond)
		// Restart with the server's own bound, not the fault loop's
		// context: the drain must find the server up.
		return s.startNodes(context.Background(), nds, s.spec.readyTimeout())
	case scenario.FaultPause:
		for i, p := range procs {
			op := s.op(history.FPause, p.session)
			op.Invoke = s.r.rec.now()
			p.signal(sigSTOP)
			op.Complete, op.Error = s.r.rec.now(), s.nodeNote(nds[i], reason)
			s.r.rec.add(op, "")
		}
		time.Sleep(time.Duration(fs.f.PauseMS) * time.Millisecond)
		for i, p := range procs {
			op := s.op(history.FResume, p.session)
			op.Invoke = s.r.rec.now()
			p.signal(sigCONT)
			op.Complete, op.Error = s.r.rec.now(), s.nodeNote(nds[i], fmt.Sprintf("after %v", time.Duration(fs.f.PauseMS)*time.Millisecond))
			s.r.rec.add(op, "")
		}
		s.mu.Lock()
		s.recoveredAt = time.Now()
		s.mu.Unlock()
	}
	return nil
}

// excuses tells whether a client operation invoked at invoked can have
// failed because of a server fault: the server was down, or came back
// less than the op timeout before, so a client may still be reconnecting.
func (s *serverProc) excuses(invoked time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faultedAt.IsZero() {
		return false
	}
	if s.recoveredAt.IsZero() {
		return true // down now
	}
	return invoked.Before(s.recoveredAt.Add(max(s.r.opTimeout, 5*time.Second)))
}

// harnessError is a failure of the server itself: it reaps p, if any,
// and reports how it ended and the tail of its log.
func (s *serverProc) harnessError(p *process, kind, detail string, err error) *HarnessError {
	he := &HarnessError{Scenario: s.r.sc.Name, Client: serverRole, Kind: kind, Detail: detail,
		Impl: Impl{Argv: s.argv}.String(), Err: err}
	if p != nil {
		p.reap(reapTimeout)
		p.stderr.waitClosed(500 * time.Millisecond)
		he.ExitStatus, he.StderrTail, he.LogPath = p.exitStatus(), p.stderr.lastLines(StderrTailLines), p.logPath
	}
	return he
}

// serverFaults tells whether sc kills or pauses the server.
func serverFaults(sc *scenario.Scenario) bool {
	for _, f := range sc.Faults {
		if f.Target == scenario.TargetServer {
			return true
		}
	}
	return false
}
