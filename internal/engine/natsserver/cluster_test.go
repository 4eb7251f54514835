package natsserver

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// freePorts returns n distinct free loopback ports. Routes need known
// ports, so port 0 does not do for a cluster.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		require.NoError(t, l.Close())
	}
	return ports
}

// replicatedRoundTrip creates a replicas=3 stream on the cluster at url,
// publishes to it and reads the messages back.
func replicatedRoundTrip(t *testing.T, url string) {
	t.Helper()
	var nc *nats.Conn
	var err error
	require.Eventually(t, func() bool { // the nodes may still be starting
		nc, err = nats.Connect(url)
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "connect")
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st jetstream.Stream
	require.Eventually(t, func() bool { // the meta leader may not be elected yet
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		defer acancel()
		st, err = js.CreateStream(actx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Replicas: 3})
		if err != nil {
			t.Logf("create stream: %v", err)
		}
		return err == nil
	}, 20*time.Second, time.Second, "create stream")
	for i := range 10 {
		_, err := js.Publish(ctx, "t", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(10), info.State.Msgs)
	require.NotNil(t, info.Cluster)
	require.Len(t, info.Cluster.Replicas, 2, "two followers besides the leader")
	for i := range 10 {
		m, err := st.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), string(m.Data))
	}
}

func TestClusterReplicas3(t *testing.T) {
	ports := freePorts(t, 6)
	var srvs []*server.Server
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		c := Config{Port: ports[i], StoreDir: t.TempDir(), ServerName: fmt.Sprintf("n%d", i),
			ClusterName: "klnats", ClusterPort: ports[3+i]}
		for j := range 3 {
			if j != i {
				c.Routes = append(c.Routes, fmt.Sprintf("127.0.0.1:%d", ports[3+j]))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Start(c)
			errs[i] = err
			if err == nil {
				mu.Lock()
				srvs = append(srvs, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	replicatedRoundTrip(t, ClusterURL("127.0.0.1", ports[0], 1)+fmt.Sprintf(",127.0.0.1:%d,127.0.0.1:%d", ports[1], ports[2]))
}
