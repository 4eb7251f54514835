package check

import (
	"testing"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/stretchr/testify/require"
)

// bigHistory: 4 producers append n values in batches of 100, a consumer
// group reads and acks them all across a restart every 50k records, and a
// drain reads them again: 2n records delivered.
func bigHistory(n int) history.History {
	b := &hb{}
	vals := make([]string, n)
	for i := range vals {
		vals[i] = v([]string{"p1", "p2", "p3", "p4"}[i/100%4], int64(i))
	}
	for i := 0; i < n; i += 100 {
		offs := make([]int64, 0, 100)
		for j := i; j < i+100 && j < n; j++ {
			offs = append(offs, int64(j))
		}
		b.app([]string{"p1", "p2", "p3", "p4"}[i/100%4], vals[i:i+len(offs)], offs...)
	}
	sess := 1
	b.init("c1", sess, "g", acked)
	for i := 0; i < n; i += 500 {
		if i > 0 && i%50000 == 0 {
			sess++
			b.init("c1", sess, "g", acked)
		}
		end := min(i+500, n)
		b.poll("c1", sess, "g", run(int64(i), vals[i:end]...)...).ack("c1", sess, "g", int64(end-1))
	}
	for i := 0; i < n; i += 1000 {
		end := min(i+1000, n)
		if i == 0 {
			b.drain("d", run(0, vals[:end]...)...)
			continue
		}
		b.add(history.Op{Client: "d", Role: "consumer", Group: "drain-d", F: history.FPoll, Phase: "drain", Records: run(int64(i), vals[i:end]...)})
	}
	return b.h
}

// TestBigHistoryIsFast guards against quadratic checks: 200k delivered
// records take about 2 s under -race; a quadratic pass would take minutes,
// so the bound is loose enough for a loaded machine and still catches it.
func TestBigHistoryIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	h := bigHistory(100_000)
	start := time.Now()
	res, err := Run(h, nil, Options{MaxRedeliveryPerCrash: 500})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, Pass, r.Status, "%+v", r)
	}
	require.Less(t, time.Since(start), 30*time.Second, "a quadratic check takes minutes here")
}

// BenchmarkRun1M runs every check over 1M delivered records.
func BenchmarkRun1M(b *testing.B) {
	h := bigHistory(500_000)
	b.ResetTimer()
	for range b.N {
		if _, err := Run(h, nil, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
