package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
	"github.com/kafka-lite/kafka-lite/internal/history"
)

// TestNATSJetStream runs every built-in scenario, scaled down, against a
// real NATS server with JetStream, embedded in the test binary: the no-fault
// ones and those that SIGKILL and SIGSTOP the clients. The adapter clients
// are separate processes (klcheck adapter --engine URL), exactly as for any
// implementation. The server allows 8 MiB messages: with the NATS default
// of 1 MiB, record-sizes and crash-mid-write fail with "refused" (a finding
// in docs/ENGINES.md). server-crash, the three cluster-* scenarios and the
// six power-loss scenarios are skipped: klcheck did not start this server,
// so it can neither kill it (TestNATSServerKill and
// TestNATSClusterKillLeader do) nor put its store on the lazy file system.
func TestNATSJetStream(t *testing.T) {
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir(), MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	code, out, errs := klcheck(t, "--quick", "--power-loss", "--impl", s.ClientURL())
	if code != 0 {
		t.Fatalf("klcheck against NATS exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "23 scenarios: 13 passed, 0 failed, 10 skipped") || !strings.Contains(out, "SKIP server-crash: the scenario kills or pauses the engine's server") ||
		!strings.Contains(out, "SKIP power-loss-acks-always: the scenario simulates a power loss, and the engine's server keeps its data where klcheck cannot drop it") {
		t.Fatalf("unexpected summary:\n%s", out)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestNATSServerKill runs server-crash with klcheck --server: klcheck starts
// a nats-server process (this test binary run as klnats), SIGKILLs it at
// random while clients append and ack, restarts it on the same store, and
// checks the history. What it asserts is what holds on every run:
//   - the server really was killed and restarted, and the run finished
//     (clients that failed during the outage were restarted, the drain read
//     everything back);
//   - no confirmed append was lost or duplicated, and nothing was
//     reordered: a process crash loses no page cache, and JetStream wrote
//     each message before its PubAck;
//   - the only anomalies allowed are the two JetStream findings of
//     docs/ENGINES.md, which show in some runs, not all: resume-rewind and
//     ack-once (finding 8: JetStream confirms an ack before it persists the
//     consumer's ack floor, so a kill within milliseconds after an ack
//     rewinds the group), and poll-skip (finding 9: deliveries in flight
//     when the server died come back only after AckWait).
func TestNATSServerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills nats-server processes")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	out := t.TempDir()
	server := fmt.Sprintf("%s klnats --port %d --store {dir}", self, port)
	code, stdout, errs := klcheck(t, "--quick", "--scenario", "server-crash", "--impl", url, "--server", server, "--out", out)
	require.Contains(t, []int{exitPass, exitAnomaly}, code, "stdout:\n%s\nstderr:\n%s", stdout, errs)

	var res struct {
		Scenarios []struct {
			Status string `json:"status"`
			Checks []struct {
				Check     string `json:"check"`
				Status    string `json:"status"`
				Anomalies []struct {
					Name string `json:"name"`
				} `json:"anomalies"`
			} `json:"checks"`
		} `json:"scenarios"`
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res), string(b))
	require.Len(t, res.Scenarios, 1)
	require.NotEmpty(t, res.Scenarios[0].Checks)
	for _, c := range res.Scenarios[0].Checks {
		switch c.Check {
		case "resume", "ack-once":
			// Finding 8; may or may not show.
		case "poll-order":
			// Finding 9, seen once in about 20 runs: only poll-skip.
			for _, a := range c.Anomalies {
				assert.Equal(t, "poll-skip", a.Name, stdout)
			}
		default:
			assert.Equal(t, "PASS", c.Status, "check %s\n%s", c.Check, stdout)
		}
	}

	f, err := os.Open(filepath.Join(out, "server-crash", "history.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	h, err := history.ReadJSONL(f)
	require.NoError(t, err)
	kills, starts := 0, 0
	for _, op := range h {
		if op.Client == "server" {
			switch op.F {
			case history.FKill:
				kills++
			case history.FStart:
				starts++
			}
		}
	}
	assert.GreaterOrEqual(t, kills, 1, "the server was never killed")
	assert.Equal(t, kills+1, starts, "every kill is followed by a restart")
	t.Logf("server kills: %d\n%s", kills, stdout)
}

// freeCluster returns a base port P such that a three-node klnats cluster
// can listen on P..P+2 (clients) and P+100..P+102 (routes).
func freeCluster(t *testing.T) int {
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(20000)
		free := true
		for _, p := range []int{base, base + 1, base + 2, base + 100, base + 101, base + 102} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free port range for a three-node cluster")
	return 0
}

// TestNATSClusterKillLeader runs cluster-kill-leader against a three-node
// JetStream cluster (replicas=3) that klcheck starts itself, one process
// per node (this test binary run as klnats --node {node}): klcheck asks
// JetStream which node leads the stream, SIGKILLs that one and restarts
// it, while the other two stay up. It asserts that the leader, not a
// random node, was killed, that each killed node was restarted, and that
// the run passed: a quorum survived every kill, so nothing acknowledged
// may be lost. About 35 s.
func TestNATSClusterKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a three-node nats-server cluster (about 35 s)")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	port := freeCluster(t)
	url := natsserver.ClusterURL("127.0.0.1", port, 3) + "?replicas=3"
	out := t.TempDir()
	server := fmt.Sprintf("%s klnats --cluster 3 --node {node} --port %d --store {dir}", self, port)
	code, stdout, errs := klcheck(t, "--quick", "--scenario", "cluster-kill-leader", "--impl", url, "--server", server, "--out", out)
	require.Equal(t, exitPass, code, "stdout:\n%s\nstderr:\n%s", stdout, errs)

	f, err := os.Open(filepath.Join(out, "cluster-kill-leader", "history.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	h, err := history.ReadJSONL(f)
	require.NoError(t, err)
	kills, starts := 0, 0
	for _, op := range h {
		if op.Client != "server" {
			continue
		}
		switch op.F {
		case history.FKill:
			kills++
			assert.Regexp(t, `^node [012]: random, the leader$`, op.Error)
		case history.FStart:
			starts++
			assert.Regexp(t, `^node [012]: pid \d+, listening on 127\.0\.0\.1:\d+, ready$`, op.Error)
		}
	}
	assert.GreaterOrEqual(t, kills, 1, "no node was killed")
	assert.Equal(t, 3+kills, starts, "three nodes start, and each kill restarts one")
	t.Logf("leader kills: %d\n%s", kills, stdout)
}

// TestClusterScenariosSkippedWithOneServer: the cluster-* scenarios fault
// one node, so with a single server they are skipped, before any server
// starts, with a reason that says what they need.
func TestClusterScenariosSkippedWithOneServer(t *testing.T) {
	url := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	code, stdout, errs := klcheck(t, "--quick", "--scenario", "cluster-kill-leader", "--scenario", "cluster-pause-leader", "--scenario", "cluster-kill-random",
		"--impl", url, "--server", "/nonexistent/klnats --store {dir}")
	require.Equal(t, exitPass, code, "stdout:\n%s\nstderr:\n%s", stdout, errs)
	assert.Contains(t, stdout, "3 scenarios: 0 passed, 0 failed, 3 skipped")
	assert.Contains(t, stdout, "SKIP cluster-kill-leader: the scenario kills or pauses one node of a clustered server")
	assert.Contains(t, stdout, "{node}")
}
