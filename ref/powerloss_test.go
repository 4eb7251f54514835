package ref

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/lazyfs"
)

// TestPowerLoss runs producer processes on a lazy filesystem (lazyfs,
// which keeps what was never made durable), SIGKILLs them mid-run,
// simulates a power loss in each of its modes, and opens the topic again.
// Only the test imports lazyfs; the library does not.
//
//   - With fsync always, every append that returned is read back, in
//     order, once, with dense offsets.
//   - With fsync never, appends may be lost, but the topic opens, what is
//     read is whole and in order, and new appends work and are read.
//   - In both, with retention on, the topic is never left unwritable: the
//     control file, the topic's directory and its active chunk survive.
//
// Before the fixes this test was written for, the topic directory could
// vanish whole under always (its entry was never synced), the control
// file could come back short or zeroed (created unsynced), and gen could
// come back naming a chunk retention had deleted: every producer then
// failed. It is skipped where FUSE cannot be mounted.
func TestPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts FUSE and kills processes")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("lazyfs: %v", err)
	}
	seed := uint64(1)
	for _, mode := range lazyfs.Modes() {
		for _, fsync := range []FsyncMode{FsyncAlways, FsyncNever} {
			t.Run(fmt.Sprintf("%s/%s", mode, fsync), func(t *testing.T) {
				seed++
				backing, mnt := t.TempDir(), t.TempDir()
				fsys, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
				require.NoError(t, err)
				t.Cleanup(func() { _ = fsys.Unmount() })
				dir := mnt + "/logs" // made by the producers: its entry must be synced too
				env := map[string]int{"SIZE": 120, "N": 100000, "CHUNK_RECORDS": 25, "RETAIN_CHUNKS": 4}
				var procs []*proc
				for i := range 2 {
					procs = append(procs, startHelper(t, "producer", dir, fmt.Sprintf("p%d", i), env,
						"KLREF_FSYNC="+string(fsync), "KLREF_ALLOW_UNSAFE_FS=1"))
				}
				time.Sleep(400 * time.Millisecond)
				confirmed := map[string][]int{}
				for _, p := range procs {
					p.kill()
					_ = p.wait(t, 10*time.Second)
					confirmed[p.id] = p.confirmed()
				}
				rep, err := fsys.PowerLoss(mode, rand.New(rand.NewPCG(seed, 7)))
				require.NoError(t, err)
				t.Logf("confirmed %d+%d; power loss: %d bytes dropped", len(confirmed["p0"]), len(confirmed["p1"]), rep.DroppedBytes())

				recs, after := drainProcess(t, dir, fsync, 60)
				if fsync == FsyncAlways {
					// Retention deleted the oldest chunks; every confirmed
					// record from the earliest one kept on must be there.
					require.NotEmpty(t, recs)
					first := map[string]int{}
					for _, r := range recs {
						id, seq, err := parseTestPayload(r.Value)
						require.NoError(t, err)
						if _, ok := first[id]; !ok {
							first[id] = seq
						}
					}
					kept := map[string][]int{}
					for id, seqs := range confirmed {
						for _, s := range seqs {
							if f, ok := first[id]; ok && s >= f {
								kept[id] = append(kept[id], s)
							}
						}
					}
					require.NoError(t, verifyLog(recs, kept))
				}
				requireWholeAndOrdered(t, recs)
				// The topic takes new appends, and they are read after
				// everything that survived.
				var n int
				for _, r := range after {
					if id, _, err := parseTestPayload(r.Value); err == nil && id == "after" {
						n++
					}
				}
				require.Equal(t, 60, n, "appends after the power loss")
				requireWholeAndOrdered(t, append(recs, after...))
			})
		}
	}
}

// drainProcess reads the topic in dir from a process of its own (see
// helperDrain), then appends n records and reads again: it returns what
// each read delivered.
func drainProcess(t *testing.T, dir string, fsync FsyncMode, n int) (before, after []Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KLREF_HELPER=drain", "KLREF_DIR="+dir, "KLREF_CHUNK_RECORDS=25", "KLREF_RETAIN_CHUNKS=4",
		"KLREF_FSYNC="+string(fsync), "KLREF_ALLOW_UNSAFE_FS=1", fmt.Sprintf("KLREF_AFTER=%d", n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "the topic must open, read and take appends after a power loss")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Equal(t, "end", lines[len(lines)-1])
	for _, l := range lines[:len(lines)-1] {
		f := strings.SplitN(l, " ", 3)
		require.Len(t, f, 3, "line %q", l)
		off, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		r := Record{Offset: off, Value: []byte(f[2])}
		if id, _, _ := parseTestPayload(r.Value); id == "after" || len(after) > 0 {
			after = append(after, r)
		} else {
			before = append(before, r)
		}
	}
	return before, after
}

// requireWholeAndOrdered: every record intact, offsets strictly
// increasing, each producer's records in its order, none twice.
func requireWholeAndOrdered(t *testing.T, recs []Record) {
	t.Helper()
	last := map[string]int{}
	for i, r := range recs {
		if i > 0 {
			require.Greater(t, r.Offset, recs[i-1].Offset)
		}
		id, seq, err := parseTestPayload(r.Value)
		require.NoError(t, err, "offset %d", r.Offset)
		if l, ok := last[id]; ok {
			require.Greater(t, seq, l, "%s out of order at offset %d", id, r.Offset)
		}
		last[id] = seq
	}
}
