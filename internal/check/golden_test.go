package check

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (and write testdata/history.jsonl if missing)")

// goldenHistory is the source of testdata/history.jsonl: a small run with
// one of most anomalies.
func goldenHistory() history.History {
	b := &hb{}
	vals := []string{v("p1", 1), v("p1", 2), v("p2", 1), v("p2", 2), v("p1", 3), v("p2", 3), v("p1", 4), v("p2", 4)}
	b.app("p1", vals[0:2], 0, 1).at(10, 30)
	b.app("p2", vals[2:4], 2, 3).at(12, 32)
	b.app("p1", vals[4:5], 4).at(40, 50)
	b.app("p2", vals[5:6]).at(42, 60).outcome(history.Indeterminate)
	b.app("p1", vals[6:7], 6).at(61, 70)
	b.app("p2", vals[7:8], 5).at(71, 80) // after p1's offset 6: realtime-order
	b.app("p2", []string{v("p2", 5)}).at(81, 90).outcome(history.Indeterminate)
	b.t = 100
	b.init("c1", 1, "g", acked).poll("c1", 1, "g", run(0, vals[0:3]...)...).ack("c1", 1, "g", 2)
	b.poll("c1", 1, "g", rec(3, vals[3]), rec(4, vals[4][:30])) // torn
	b.add(history.Op{Client: "c1", Session: 1, F: history.FKill, Error: "scenario"})
	b.init("c1", 2, "g", acked).poll("c1", 2, "g", rec(4, vals[4]), rec(6, vals[6])) // resume-skip past 3, poll-skip over 5
	b.ack("c1", 2, "g", 6)
	b.stuck("c2", "no progress at offset 7")
	b.drain("d", rec(0, vals[0]), rec(1, vals[1]), rec(2, vals[2]), rec(3, vals[3]), rec(4, vals[4]), rec(5, vals[7]), rec(6, vals[6]), rec(7, vals[1]))
	return b.h
}

func TestGolden(t *testing.T) {
	histPath := filepath.Join("testdata", "history.jsonl")
	goldPath := filepath.Join("testdata", "results.golden.json")
	if _, err := os.Stat(histPath); os.IsNotExist(err) && *update {
		var buf bytes.Buffer
		require.NoError(t, history.WriteJSONL(&buf, goldenHistory(), 0))
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(histPath, buf.Bytes(), 0o644))
	}
	f, err := os.Open(histPath)
	require.NoError(t, err)
	defer f.Close()
	h, err := history.ReadJSONL(f)
	require.NoError(t, err)

	res, err := Run(h, nil, Options{MaxRedeliveryPerCrash: 2})
	require.NoError(t, err)
	got, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	if *update {
		require.NoError(t, os.WriteFile(goldPath, got, 0o644))
	}
	want, err := os.ReadFile(goldPath)
	require.NoError(t, err, "run go test ./internal/check -update to create it")
	require.Equal(t, string(want), string(got), "results differ from %s; run with -update if the change is intended", goldPath)
}
