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
