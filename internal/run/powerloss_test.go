package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/impl"
	"github.com/kafka-lite/kafka-lite/internal/lazyfs"
)

// powerScenario loses power twice, at random, while a producer appends and
// a consumer acks each record (about 1 s); fsync never, so what the fake
// log loses is counted, not an anomaly.
const powerScenario = `
name: power
seed: 5
producers:
  - count: 1
    messages: 300
    rate: 300
    size: {fixed: 40}
consumers:
  - count: 1
    poll_max: 5
    poll_timeout_ms: 20
    ack: each
faults:
  - kind: power-loss
    mode: lose-all
    trigger: random
    gap: {dist: uniform, min_ms: 200, max_ms: 300}
    max_faults: 2
timeouts: {op_ms: 3000, init_ms: 5000, stuck_ms: 2000, drain_s: 10, run_s: 20}
`

// needLazyFS skips a test where lazyfs cannot mount.
func needLazyFS(t *testing.T) {
	t.Helper()
	if err := lazyfs.Available(); err != nil {
		t.Skip(err)
	}
}

// noMountUnder fails the test if a file system is still mounted under dir.
func noMountUnder(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			t.Errorf("still mounted: %s", line)
		}
	}
}

// TestPowerLoss: every client is killed at each power loss and starts
// again on what survived; the history records the losses with what they
// dropped; the checks count the loss; the mount is gone afterwards and no
// process is left.
func TestPowerLoss(t *testing.T) {
	needLazyFS(t)
	tmp := t.TempDir()
	res, err := Run(context.Background(), parseScenario(t, powerScenario), Options{Impl: fake(t, "ok"), TempDir: tmp})
	require.NoError(t, err)
	for _, c := range res.Checks {
		assert.Equal(t, "PASS", string(c.Status), "%s: %+v", c.Check, c.Anomalies)
	}
	require.Equal(t, StatusPass, res.Status, res.Reason)
	assert.Equal(t, 2, res.Counts.PowerLosses)
	require.Len(t, res.PowerLosses, 2)
	for i, pl := range res.PowerLosses {
		assert.Equal(t, i+1, pl.Index)
		assert.Equal(t, "lose-all", pl.Mode)
		assert.Equal(t, "at random", pl.Trigger)
		assert.GreaterOrEqual(t, pl.Killed, 1, "%+v", pl)
	}
	losses, kills := 0, 0
	for _, op := range res.History {
		switch op.F {
		case history.FPowerLoss:
			losses++
			require.NotNil(t, op.Loss)
			assert.Equal(t, "lose-all", op.Loss.Mode)
			assert.Equal(t, history.MachineClient, op.Client)
			// The fake log never syncs: its topic directory goes.
			assert.Contains(t, entryPaths(op.Loss), "data/t", "%+v", op.Loss)
		case history.FKill:
			assert.True(t, strings.HasPrefix(op.Error, "power loss "), op.Error)
			kills++
		}
	}
	assert.Equal(t, 2, losses)
	assert.GreaterOrEqual(t, kills, 2)
	var durability *string
	for _, c := range res.Checks {
		if c.Check == "durability" {
			durability = &c.Note
			assert.Len(t, c.Windows, 2)
		}
	}
	require.NotNil(t, durability)
	assert.Contains(t, *durability, "fsync never: 2 power losses took")
	noMountUnder(t, tmp)
	noChildren(t)
}

// entryPaths lists the paths of the entries a power loss undid.
func entryPaths(l *history.PowerLoss) []string {
	var out []string
	for _, e := range l.Entries {
		out = append(out, e.Path)
	}
	return out
}

// TestPowerLossTakesTheServer: with --server, the server's state is on the
// lazy file system too: each power loss kills it and starts it again, and
// what it wrote without syncing is gone.
func TestPowerLossTakesTheServer(t *testing.T) {
	needLazyFS(t)
	tmp := t.TempDir()
	addr := freeAddr(t)
	res, err := Run(context.Background(), parseScenario(t, powerScenario),
		Options{Impl: fake(t, "ok"), TempDir: tmp, Keep: true, Server: &Server{Argv: listenServer(addr), Addr: addr}})
	require.NoError(t, err)
	for _, c := range res.Checks {
		assert.Equal(t, "PASS", string(c.Status), "%s: %+v", c.Check, c.Anomalies)
	}
	require.Equal(t, StatusPass, res.Status, res.Reason)
	kills, starts := 0, 0
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
	assert.Equal(t, 2, kills)
	assert.Equal(t, 3, starts)
	// The stand-in appends an "x" to {dir}/started at each start, never
	// synced: each power loss took the file, so only the last start's is
	// left.
	b, err := os.ReadFile(filepath.Join(filepath.Dir(res.TopicDir), serverDirName, "started"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
	noMountUnder(t, tmp)
	noChildren(t)
}

// TestPowerLossSkips: an engine whose server klcheck does not run keeps
// its data out of reach, so a power-loss scenario is skipped for it.
func TestPowerLossSkips(t *testing.T) {
	impl.RegisterEngine("fakeengine", impl.Engine{})
	im, err := ResolveImpl("fakeengine://127.0.0.1:1", "")
	require.NoError(t, err)
	require.True(t, im.IsEngine())
	res, err := Run(context.Background(), parseScenario(t, powerScenario), Options{Impl: im})
	require.NoError(t, err)
	assert.Equal(t, StatusSkip, res.Status)
	assert.Contains(t, res.Reason, "--server")
	assert.False(t, fake(t, "ok").IsEngine())
}
