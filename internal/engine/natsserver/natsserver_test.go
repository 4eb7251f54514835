package natsserver

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kafka-lite/kafka-lite/internal/scenario"
)

// TestDefaultMaxPayloadFitsScenarios: klnats out of the box accepts every
// value of every scenario klcheck ships, with room for the adapter's
// headers. With NATS's own 1 MiB default, crash-mid-write and
// record-sizes failed with "over the server's max_payload".
func TestDefaultMaxPayloadFitsScenarios(t *testing.T) {
	scs, err := scenario.Builtin()
	require.NoError(t, err)
	largest := 0
	for _, sc := range scs {
		for _, g := range sc.Producers {
			largest = max(largest, g.Size.Fixed, g.Size.Range[1])
			for _, n := range g.Size.List {
				largest = max(largest, n)
			}
		}
	}
	require.Greater(t, largest, 1<<20, "the scenarios' largest value")
	require.LessOrEqual(t, largest+64<<10, DefaultMaxPayload)
}

func TestMainFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-h"}, 0, ""},
		{[]string{"--help"}, 0, ""},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{}, 2, "--store is required"},
		{[]string{"--store", t.TempDir(), "--max-payload", "100000000"}, 2, "--max-payload must be"},
		{[]string{"--store", t.TempDir(), "--sync", "sometimes"}, 2, `--sync "sometimes"`},
		{[]string{"--store", t.TempDir(), "--cluster", "1"}, 2, "--cluster must be 2 to 9"},
		{[]string{"--store", t.TempDir(), "--node", "0"}, 2, "--node needs --cluster"},
		{[]string{"--store", t.TempDir(), "--cluster", "3", "--node", "3"}, 2, "--node 3: want 0 to 2"},
		{[]string{"--store", t.TempDir(), "--cluster", "3", "--port", "0"}, 2, "needs a fixed --port"},
	} {
		var stderr bytes.Buffer
		require.Equal(t, tc.code, Main(tc.args, &stderr), "%v: %s", tc.args, stderr.String())
		require.Contains(t, stderr.String(), tc.msg)
	}
}
