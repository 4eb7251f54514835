package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Phases of a run, as history.Op.Phase.
const (
	phaseMain  = "main"
	phaseDrain = "drain"
)

// Roles, as history.Op.Role.
const (
	roleProducer = protocol.RoleProducer
	roleConsumer = protocol.RoleConsumer
)

// Bounds of the harness's own waits.
const (
	closeTimeout = 5 * time.Second // for the close reply and then the exit
	reapTimeout  = 5 * time.Second // for a killed process to be reaped
)

var (
	// errKilled: the harness killed the client's process (a fault).
	errKilled = errors.New("client killed by the harness")
	// errStopped: the run is over (its context ended).
	errStopped = errors.New("run stopped")
	// errUnrecoverable: the client could not start again after a power
	// loss (recorded as history.FUnrecoverable); it is not started again.
	errUnrecoverable = errors.New("client cannot start after a power loss")
)

// skipError is an init answered with "unsupported": the scenario is
// skipped for this implementation.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// client is one named producer or consumer of a run; each session of it
// is a fresh process.
type client struct {
	r     *runner
	name  string
	role  string
	group string
	phase string
	index int   // its position among the run's clients, for seeding
	fsize int64 // RLIMIT_FSIZE for its processes (0: none)

	mu      sync.Mutex
	proc    *process
	conn    *protocol.Conn
	session int
	opCount map[string]int
	total   int
}

// current returns the client's current process (nil before the first).
func (c *client) current() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

// op returns a history entry for c's current session.
func (c *client) op(f string, session int) history.Op {
	return history.Op{Client: c.name, Session: session, Role: c.role, Group: c.group, F: f, Phase: c.phase}
}

// deadlineWriter bounds each write to a client's stdin, so a client that
// does not read cannot block the harness.
type deadlineWriter struct {
	f       *os.File
	timeout time.Duration
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	_ = w.f.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.f.Write(b)
}

// startSession starts a new process for c and initializes it; start is
// the consumer start position. It returns a *skipError for an
// "unsupported" init, errKilled/errStopped, or a *HarnessError.
func (c *client) startSession(ctx context.Context, start string) error {
	r := c.r
	if ctx.Err() != nil {
		return errStopped
	}
	c.mu.Lock()
	c.session++
	sess := c.session
	c.mu.Unlock()
	logPath := ""
	if r.opts.OutDir != "" {
		logPath = filepath.Join(r.opts.OutDir, "clients", fmt.Sprintf("%s.%d.log", c.name, sess))
	}
	log, err := newStderrLog(logPath)
	if err != nil {
		return r.outputError(fmt.Errorf("client %s: %w", c.name, err))
	}
	r.addLog(log)
	// No process starts while the machine is down (a power loss holds the
	// gate); one that started is registered before a power loss can look
	// for processes to kill.
	r.gate.RLock()
	lossesBefore := r.machine.lost()
	at := r.rec.now()
	p, err := startProcess(r.impl.Argv, c.fsize, log, false)
	if err != nil {
		r.gate.RUnlock()
		err = fmt.Errorf("start client %s: %w", c.name, err)
		return &HarnessError{Scenario: r.sc.Name, Client: c.name, Session: sess, Kind: "start",
			Detail: fmt.Sprintf("cannot start the implementation: %v", err), Impl: r.impl.String(), Err: err}
	}
	p.session = sess
	p.logPath = logPath
	r.procs.add(p)
	c.mu.Lock()
	c.proc = p
	c.conn = protocol.NewConn(&deadlineWriter{f: p.stdin, timeout: r.opTimeout}, p.stdout, r.maxLine)
	p.mu.Lock()
	p.conn = c.conn
	p.mu.Unlock()
	c.mu.Unlock()
	r.gate.RUnlock()
	op := c.op(history.FStart, sess)
	op.Invoke, op.Complete, op.Outcome = at, r.rec.now(), history.OK
	op.Error = fmt.Sprintf("pid %d", p.pid)
	if c.fsize > 0 {
		op.Error += fmt.Sprintf(", RLIMIT_FSIZE=%d", c.fsize)
	}
	r.rec.add(op, "")
	r.recorders.Add(1)
	go func() {
		defer r.recorders.Done()
		c.watchExit(p)
	}()

	cfg := r.config
	req := &protocol.Request{Op: protocol.OpInit, Dir: r.topicRoot, Topic: r.topic, Client: c.name,
		Role: c.role, Group: c.group, Start: start, Config: &cfg}
	if r.machine != nil {
		req.Filesystem = protocol.FilesystemLazyFS
	}
	initAt := time.Now()
	rep, err := c.call(ctx, req)
	var he *HarnessError
	if lossesBefore > 0 && errors.As(err, &he) && recoveryFailure(he.Kind) {
		// It died or hung on its way up after a power loss: it cannot
		// recover, which is an anomaly, not a harness error.
		detail := fmt.Sprintf("init %s: %s (%s)", he.Kind, he.Detail, he.ExitStatus)
		if len(he.StderrTail) > 0 {
			detail += "; its stderr ends: " + he.StderrTail[len(he.StderrTail)-1]
		}
		return c.unrecoverable(sess, at, detail)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		if rep.Code == protocol.CodeUnsupported {
			return &skipError{reason: fmt.Sprintf("client %s: init: %s", c.name, orNoReason(rep.Error))}
		}
		if r.server != nil && r.server.excuses(initAt) {
			// Most likely it could not connect to a server that a fault
			// killed or stopped: try again once the server is back.
			return c.excusedFailure(p, "init was refused"+refusal(rep.Code, rep.Error))
		}
		if lossesBefore > 0 {
			return c.unrecoverable(sess, at, "init was refused"+refusal(rep.Code, rep.Error))
		}
		return c.failure(p, fmt.Sprintf("init request %d", req.ID), "init-failed",
			"init was refused"+refusal(rep.Code, rep.Error), nil)
	}
	r.setImplName(rep.Impl)
	return nil
}

// recoveryFailure tells whether a failed init is what an implementation
// that cannot recover from a power loss does: it exits, or hangs.
func recoveryFailure(kind string) bool {
	switch protocol.FailureKind(kind) {
	case protocol.FailEOF, protocol.FailTimeout, protocol.FailWrite:
		return true
	}
	return false
}

// unrecoverable ends a client that could not start again after a power
// loss: it records history.FUnrecoverable and stops the process.
func (c *client) unrecoverable(sess int, at int64, detail string) error {
	if p := c.current(); p != nil {
		p.reap(reapTimeout)
	}
	op := c.op(history.FUnrecoverable, sess)
	op.Invoke, op.Complete, op.Outcome, op.Error = at, c.r.rec.now(), history.OK, detail
	c.r.rec.add(op, "")
	c.r.logf("client %s#%d cannot start after a power loss: %s", c.name, sess, detail)
	return errUnrecoverable
}

// An implementation's ok:false reply carries a code (protocol.Conn makes a
// missing one "error") and a reason, which it may leave empty; the
// diagnostics built from them say so rather than print nothing.

// blank tells whether an implementation-supplied string says nothing.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// orNoReason returns reason, or "no reason given" when it is blank.
func orNoReason(reason string) string {
	if blank(reason) {
		return "no reason given"
	}
	return reason
}

// refusal completes "init was refused" with the reply's code and reason:
// `: disk full (code error)`, or ` with code "error" and no reason` when
// the reason is blank.
func refusal(code, reason string) string {
	if blank(reason) {
		return fmt.Sprintf(" with code %q and no reason", code)
	}
	return fmt.Sprintf(": %s (code %s)", reason, code)
}

// failureText is the history's Error of an ok:false reply: "code: reason",
// with "no reason given" for a blank reason.
func failureText(code, reason string) string {
	return code + ": " + orNoReason(reason)
}

// watchExit records the end of p when the harness did not kill it.
func (c *client) watchExit(p *process) {
	<-p.done
	if p.killed.Load() {
		return
	}
	if testHookBeforeExitRecord != nil {
		testHookBeforeExitRecord()
	}
	op := c.op(history.FExit, p.session)
	op.Invoke = c.r.rec.now()
	op.Complete, op.Outcome, op.Error = op.Invoke, history.OK, p.exitStatus()
	c.r.rec.add(op, "")
}

// testHookBeforeExitRecord, when set, runs before watchExit records an
// exit: a test delays it to show the history waits for it.
var testHookBeforeExitRecord func()

// call sends req to the current session and records the operation. It
// returns the reply (ok or a definite failure), or errKilled when a fault
// killed the process during or right after the call (the reply, if any,
// is returned too), errStopped when the run ended, or a *HarnessError.
func (c *client) call(ctx context.Context, req *protocol.Request) (*protocol.Reply, error) {
	r := c.r
	c.mu.Lock()
	p, conn, sess := c.proc, c.conn, c.session
	c.mu.Unlock()
	timeout := r.opTimeout
	switch req.Op {
	case protocol.OpPoll:
		timeout += time.Duration(req.TimeoutMS) * time.Millisecond
	case protocol.OpInit:
		// init also covers the client's start-up: an interpreter or a JVM
		// behind a version-manager shim can take seconds on a loaded host.
		timeout = max(timeout, time.Duration(r.sc.Timeouts.InitMS)*time.Millisecond)
	}
	var during *armed
	if req.Op != protocol.OpInit && req.Op != protocol.OpClose {
		during = r.faults.armDuring(c, req.Op)
	}
	op := c.op(req.Op, sess)
	op.Start, op.Values, op.Offset = req.Start, req.Values, req.Offset
	op.Invoke = r.rec.now()
	invoked := time.Now()
	if during != nil {
		during.start(c, p, req.Op)
	}
	rep, err := conn.Call(ctx, req, timeout)
	op.Complete = r.rec.now()
	killedDuring := false
	if during != nil {
		during.wait()
		killedDuring = during.kill && p.killed.Load()
	}
	var code string
	switch {
	case killedDuring:
		op.Outcome = history.Indeterminate
		op.Error = fmt.Sprintf("killed by the harness %d µs into the %s", during.delay.Microseconds(), req.Op)
		if err != nil {
			op.Error += ": " + err.Error()
		} else if rep != nil {
			op.Error += fmt.Sprintf(" (a reply with ok=%v arrived first)", rep.OK)
		}
		err = errKilled
	case err != nil:
		op.Outcome = history.Indeterminate
		op.Error = err.Error()
		if p.killed.Load() {
			op.Error = "killed by the harness: " + op.Error
		}
	case rep.OK:
		op.Outcome = history.OK
		op.Offsets = rep.Offsets
		if len(rep.Records) > 0 {
			op.Records = make([]history.Record, len(rep.Records))
			for i, rec := range rep.Records {
				op.Records[i] = history.Record{Offset: rec.Offset, Value: rec.Value}
			}
		}
	default:
		op.Outcome = history.Fail
		code = rep.Code
		op.Error = failureText(rep.Code, rep.Error)
	}
	if req.Op == protocol.OpInit && err == nil && !rep.OK {
		// A refused init: the session never started. Recorded as a
		// failed init all the same.
		op.Outcome = history.Fail
	}
	errType := errorTypeOf(req.Op, op.Outcome, code, err)
	if killedDuring {
		errType = req.Op + " indeterminate: killed during the request"
	}
	r.rec.add(op, errType)

	if killedDuring {
		return nil, errKilled
	}
	if err != nil {
		if p.killed.Load() {
			return nil, errKilled
		}
		var ce *protocol.CallError
		if ctx.Err() != nil || (errors.As(err, &ce) && ce.Kind == protocol.FailCanceled) {
			return nil, errStopped
		}
		if !errors.As(err, &ce) {
			return nil, &HarnessError{Scenario: r.sc.Name, Client: c.name, Session: sess, Kind: "internal",
				Detail: err.Error(), Impl: r.impl.String(), Err: err}
		}
		if r.server != nil && c.phase == phaseMain && outageFailure(ce.Kind) && r.server.excuses(invoked) {
			return nil, c.excusedFailure(p, fmt.Sprintf("%s request %d: %s", req.Op, ce.ID, describeCallError(ce)))
		}
		return nil, c.failure(p, fmt.Sprintf("%s request %d", req.Op, ce.ID), string(ce.Kind), describeCallError(ce), err)
	}
	if req.Op == protocol.OpInit || req.Op == protocol.OpClose {
		return rep, nil
	}
	c.mu.Lock()
	if c.opCount == nil {
		c.opCount = map[string]int{}
	}
	c.opCount[req.Op]++
	c.total++
	n, total := c.opCount[req.Op], c.total
	c.mu.Unlock()
	if r.faults.afterReply(c, p, req.Op, n, total) {
		return rep, errKilled
	}
	return rep, nil
}

// failure stops a misbehaving client process and returns the diagnosis,
// with the last lines of its stderr.
func (c *client) failure(p *process, request, kind, detail string, err error) error {
	r := c.r
	if kind == string(protocol.FailEOF) || kind == string(protocol.FailWrite) {
		p.wait(time.Second) // let it finish dying, for its exit status
	}
	status := p.exitStatus()
	p.reap(reapTimeout)
	p.stderr.waitClosed(500 * time.Millisecond)
	if status == "" {
		status = "still running; killed by klcheck"
	}
	he := &HarnessError{Scenario: r.sc.Name, Client: c.name, Session: p.session, Request: request, Kind: kind,
		Detail: detail, Impl: r.impl.String(), ExitStatus: status, StderrTail: p.stderr.lastLines(StderrTailLines),
		LogPath: p.logPath}
	if err != nil {
		he.Err = fmt.Errorf("client %s: %w", c.name, err)
	}
	return he
}

// outageFailure tells whether a call failure is what a server outage does
// to a client: it dies, hangs, or stops reading. A malformed reply is never
// excused.
func outageFailure(k protocol.FailureKind) bool {
	return k == protocol.FailEOF || k == protocol.FailTimeout || k == protocol.FailWrite
}

// excusedFailure ends a session that failed while the engine's server was
// down or recovering from a fault (see serverProc.excuses): the failure is
// the fault's doing, not the implementation's. The process is killed if it
// still runs, the kill is recorded with the failure, and the client starts
// again shortly, as after a client fault with restart. The failed
// operation itself is already in the history as indeterminate.
func (c *client) excusedFailure(p *process, detail string) error {
	plan := &restartPlan{after: serverGrace}
	if !c.kill(p, "failed during a server fault: "+detail, plan) {
		// It had already exited (watchExit recorded how): restart anyway.
		p.mu.Lock()
		p.restart = plan
		p.mu.Unlock()
	}
	return errKilled
}

// kill sends SIGKILL to p on behalf of a fault and records it; it reports
// whether p was running and is now killed.
func (c *client) kill(p *process, reason string, plan *restartPlan) bool {
	at := c.r.rec.now()
	if !p.kill(plan) {
		return false
	}
	op := c.op(history.FKill, p.session)
	op.Invoke, op.Complete, op.Outcome, op.Error = at, c.r.rec.now(), history.OK, reason
	c.r.rec.add(op, "")
	return true
}

// pause stops p for d (SIGSTOP, then SIGCONT) and records both.
func (c *client) pause(p *process, reason string, d time.Duration) {
	if p.exited() || p.killed.Load() || !p.paused.CompareAndSwap(false, true) {
		return
	}
	op := c.op(history.FPause, p.session)
	op.Invoke = c.r.rec.now()
	p.signal(sigSTOP)
	op.Complete, op.Outcome, op.Error = c.r.rec.now(), history.OK, reason
	c.r.rec.add(op, "")
	c.r.recorders.Add(1)
	time.AfterFunc(d, func() {
		defer c.r.recorders.Done()
		op := c.op(history.FResume, p.session)
		op.Invoke = c.r.rec.now()
		p.signal(sigCONT)
		p.paused.Store(false)
		op.Complete, op.Outcome, op.Error = c.r.rec.now(), history.OK, fmt.Sprintf("after %v", d)
		c.r.rec.add(op, "")
	})
}

// closeSession sends close, waits for the process to exit, and kills it
// if it does not. A process the harness killed is only reaped.
func (c *client) closeSession(ctx context.Context) error {
	p := c.current()
	if p == nil {
		return nil
	}
	if p.killed.Load() || p.exited() {
		p.reap(reapTimeout)
		return nil
	}
	rep, err := c.call(ctx, &protocol.Request{Op: protocol.OpClose})
	if err != nil {
		p.reap(reapTimeout)
		if errors.Is(err, errKilled) || errors.Is(err, errStopped) {
			return nil
		}
		return err
	}
	_ = rep
	if !p.wait(closeTimeout) {
		c.kill(p, fmt.Sprintf("did not exit within %v after close", closeTimeout), nil)
	}
	p.reap(reapTimeout)
	return nil
}

// afterError handles an error of a session: after a kill it reaps the
// process and, if the fault restarts it, waits and returns true; on a
// stopped run it returns false; any other error is returned.
func (c *client) afterError(ctx context.Context, err error) (bool, error) {
	switch {
	case errors.Is(err, errKilled):
		p := c.current()
		p.reap(reapTimeout)
		plan := p.plan()
		if plan == nil {
			return false, nil
		}
		return sleepCtx(ctx, plan.after), nil
	case errors.Is(err, errStopped), errors.Is(err, errUnrecoverable):
		return false, nil
	default:
		return false, err
	}
}

// stop reaps the client's process if it still runs.
func (c *client) stop() {
	if p := c.current(); p != nil && !p.exited() {
		p.reap(reapTimeout)
	}
}
