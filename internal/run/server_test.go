package run

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/history"
)

// serverScenario kills the (fake) server twice while a producer appends
// (for about 3 s in TestServerKilledAndRestarted). init_ms leaves room for
// a slow start on a loaded machine.
const serverScenario = tinyScenario + `faults:
  - kind: kill
    target: server
    trigger: random
    gap: {dist: uniform, min_ms: 200, max_ms: 300}
    max_faults: 2
    restart: true
    restart_after_ms: 50
`

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// listenServer is a stand-in engine server: it listens on addr, writes a
// file into its {dir}, and sleeps.
func listenServer(addr string) []string {
	host, port, _ := net.SplitHostPort(addr)
	script := `import socket, sys, time, os
open(os.path.join(sys.argv[3], "started"), "a").write("x")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
print("listening", flush=True)
time.sleep(3600)`
	return []string{"python3", "-c", script, host, port, ServerDirPlaceholder}
}

func TestServerFaultSkippedWithoutServer(t *testing.T) {
	sc := parseScenario(t, strings.Replace(serverScenario, "name: tiny", "name: srv", 1))
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok")})
	require.NoError(t, err)
	assert.Equal(t, StatusSkip, res.Status)
	assert.Contains(t, res.Reason, "--server")
	noChildren(t)
}

// TestServerKilledAndRestarted: the server is started before the clients,
// killed twice and restarted on the same state directory, recorded in the
// history, and stopped at the end.
func TestServerKilledAndRestarted(t *testing.T) {
	sc := parseScenario(t, strings.Replace(serverScenario, "messages: 5", "messages: 300\n    rate: 100", 1))
	addr := freeAddr(t)
	out := t.TempDir()
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), Server: &Server{Argv: listenServer(addr), Addr: addr}, OutDir: out, Keep: true})
	require.NoError(t, err)
	require.Equal(t, StatusPass, res.Status, res.Reason)
	var kills, starts int
	for _, op := range res.History {
		if op.Client == serverRole {
			switch op.F {
			case history.FKill:
				kills++
			case history.FStart:
				starts++
			}
		}
	}
	// Two kills are planned; on a loaded machine the producers may finish
	// before the second.
	assert.GreaterOrEqual(t, kills, 1)
	assert.Equal(t, kills+1, starts, "every kill is followed by a restart")
	b, err := os.ReadFile(filepath.Join(filepath.Dir(res.TopicDir), serverDirName, "started"))
	require.NoError(t, err, "{dir} was not the scenario's server directory")
	assert.Equal(t, strings.Repeat("x", starts), string(b), "every start used the same state directory")
	log, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("server.%d.log", starts)))
	require.NoError(t, err)
	assert.Contains(t, string(log), "listening")
	assert.False(t, listening(addr), "the server still listens after the run")
	noChildren(t)
	_ = os.RemoveAll(filepath.Dir(res.TopicDir))
}

func TestServerErrors(t *testing.T) {
	sc := parseScenario(t, tinyScenario)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	for _, tc := range []struct {
		name   string
		server Server
		want   []string
	}{
		{"exits at start", Server{Argv: []string{"sh", "-c", "echo boom >&2; exit 3"}, Addr: freeAddr(t)},
			[]string{"the server exited before it listened", "exit status 3", "boom"}},
		{"never listens", Server{Argv: []string{"sleep", "60"}, Addr: freeAddr(t), ReadyTimeout: 500 * time.Millisecond},
			[]string{"the server did not listen on", "within 500ms"}},
		{"address taken", Server{Argv: []string{"sleep", "60"}, Addr: taken.Addr().String()},
			[]string{"something already listens on " + taken.Addr().String()}},
		{"no such program", Server{Argv: []string{"/nonexistent/server"}, Addr: freeAddr(t)},
			[]string{"cannot start the server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), Server: &tc.server})
			var he *HarnessError
			require.True(t, errors.As(err, &he), "err = %v", err)
			assert.Equal(t, "start", he.Kind)
			assert.Equal(t, StatusError, res.Status)
			msg := he.Error() + "\n" + strings.Join(he.StderrTail, "\n") + "\n" + he.ExitStatus
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			noChildren(t)
		})
	}
}

// nodeScenario kills the node that leads, twice, while a producer appends.
const nodeScenario = tinyScenario + `faults:
  - kind: kill
    target: server
    node: leader
    trigger: random
    gap: {dist: uniform, min_ms: 200, max_ms: 300}
    max_faults: 2
    restart: true
    restart_after_ms: 50
`

// TestServerNodes: with three node addresses and {node} in the command
// line, klcheck starts three processes, each on its own address, asks the
// Leader hook which one to kill, kills only that one and restarts it.
func TestServerNodes(t *testing.T) {
	sc := parseScenario(t, strings.Replace(nodeScenario, "messages: 5", "messages: 300\n    rate: 100", 1))
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var ports []string
	for _, a := range addrs {
		_, port, _ := net.SplitHostPort(a)
		ports = append(ports, port)
	}
	script := `import socket, sys, time
port = sys.argv[1].split(",")[int(sys.argv[2])]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(port))); s.listen()
print("node", sys.argv[2], "listening", flush=True)
time.sleep(3600)`
	readies := 0
	srv := &Server{Argv: []string{"python3", "-c", script, strings.Join(ports, ","), ServerNodePlaceholder}, Addr: addrs[0], Nodes: addrs,
		Ready:  func(context.Context) error { readies++; return nil },
		Leader: func(context.Context) (int, error) { return 1, nil }}
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), Server: srv})
	require.NoError(t, err)
	require.Equal(t, StatusPass, res.Status, res.Reason)
	var kills, starts int
	for _, op := range res.History {
		if op.Client != serverRole {
			continue
		}
		switch op.F {
		case history.FKill:
			kills++
			assert.Equal(t, "node 1: random, the leader", op.Error)
		case history.FStart:
			starts++
			assert.Regexp(t, `^node [012]: pid \d+, listening on 127\.0\.0\.1:\d+, ready$`, op.Error)
		}
	}
	assert.GreaterOrEqual(t, kills, 1)
	assert.Equal(t, 3+kills, starts, "three nodes start, and each kill restarts one")
	assert.Equal(t, 1+kills, readies, "Ready after every start")
	for _, a := range addrs {
		assert.False(t, listening(a), "node on %s still listens after the run", a)
	}
	noChildren(t)
}

// TestNodeFaultSkippedWithOneServer: node: leader needs a cluster.
func TestNodeFaultSkippedWithOneServer(t *testing.T) {
	sc := parseScenario(t, nodeScenario)
	addr := freeAddr(t)
	res, err := Run(context.Background(), sc, Options{Impl: fake(t, "ok"), Server: &Server{Argv: listenServer(addr), Addr: addr}})
	require.NoError(t, err)
	assert.Equal(t, StatusSkip, res.Status)
	assert.Contains(t, res.Reason, "one node of a clustered server")
	noChildren(t)
}
