package natsserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Main is the klnats command: it runs a server with JetStream until SIGTERM
// or SIGINT and returns the exit status (0 after a clean stop, 1 when the
// server failed, 2 for bad flags). Messages go to stderr. It is a function
// here, not in cmd/klnats, so that test binaries can run themselves as the
// server process that klcheck --server kills.
//
// With --cluster N --node I it runs node I (server name nI) of an N-node
// JetStream cluster named "klnats": client port --port+I, route port
// --cluster-port+I (default --port+100+I), store --store/nI, routes to the
// other nodes on the same host. With --cluster N and no --node it is a
// supervisor: it runs itself N times as the nodes, prints the client URL
// list on stderr, forwards SIGTERM and SIGINT to the nodes and exits 1 if a
// node exits before it is told to stop.
//
//	klnats --port 4222 --store DIR [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs] [--cluster N [--node I] [--cluster-port P]]
func Main(args []string, stderr io.Writer) int {
	const usage = "usage: klnats --store DIR [--port 4222] [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs] [--cluster N [--node I] [--cluster-port P]]"
	fs := flag.NewFlagSet("klnats", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 4222, "client port (0 = any free port)")
	store := fs.String("store", "", "JetStream storage directory (required)")
	sync := fs.String("sync", "", `JetStream sync_interval: "always" or a duration (default: the server's, 2m)`)
	maxPayload := fs.Int("max-payload", DefaultMaxPayload, "largest message in bytes, up to 64 MiB (the default fits every scenario klcheck ships; NATS's own is 1 MiB)")
	logs := fs.Bool("logs", false, "write the server log to stderr")
	cluster := fs.Int("cluster", 0, "run an N-node cluster on --host (0 = a single server)")
	node := fs.Int("node", -1, "with --cluster: run only node I (0..N-1); without it klnats supervises all N nodes")
	clusterPort := fs.Int("cluster-port", 0, "with --cluster: route port of node 0, node I uses this+I (default --port+100)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stdout, usage)
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "klnats: %v\n%s\nrun 'klnats -h' for the options\n", err, usage)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "klnats: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *maxPayload < 0 || *maxPayload > 64<<20 {
		fmt.Fprintln(stderr, "klnats: --max-payload must be 0 (the NATS default, 1 MiB) to 64 MiB")
		return 2
	}
	if *store == "" {
		fmt.Fprintln(stderr, "klnats: --store is required")
		return 2
	}
	if *cluster < 0 || *cluster == 1 || *cluster > 9 {
		fmt.Fprintln(stderr, "klnats: --cluster must be 2 to 9 nodes")
		return 2
	}
	if *node >= 0 && *cluster == 0 {
		fmt.Fprintln(stderr, "klnats: --node needs --cluster")
		return 2
	}
	if *cluster > 0 && *node >= *cluster {
		fmt.Fprintf(stderr, "klnats: --node %d: want 0 to %d\n", *node, *cluster-1)
		return 2
	}
	if *cluster > 0 && *port <= 0 {
		fmt.Fprintln(stderr, "klnats: --cluster needs a fixed --port")
		return 2
	}
	croute := *clusterPort
	if croute == 0 {
		croute = *port + 100
	}
	if *cluster > 0 && *node < 0 {
		return supervise(args, *cluster, *host, *port, stderr)
	}
	c := Config{Host: *host, Port: *port, StoreDir: *store, MaxPayload: int32(*maxPayload), Logs: *logs}
	if *cluster > 0 {
		c.Port = *port + *node
		c.StoreDir = filepath.Join(*store, "n"+strconv.Itoa(*node))
		c.ServerName = "n" + strconv.Itoa(*node)
		c.ClusterName = "klnats"
		c.ClusterPort = croute + *node
		for i := 0; i < *cluster; i++ {
			if i != *node {
				c.Routes = append(c.Routes, fmt.Sprintf("%s:%d", *host, croute+i))
			}
		}
	}
	switch *sync {
	case "":
	case "always":
		c.SyncAlways = true
	default:
		d, err := time.ParseDuration(*sync)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "klnats: --sync %q: want always or a positive duration\n", *sync)
			return 2
		}
		c.SyncInterval = d
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	s, err := Start(c)
	if err != nil {
		fmt.Fprintln(stderr, "klnats:", err)
		return 1
	}
	fmt.Fprintf(stderr, "klnats: JetStream %s listening on %s (store %s)\n", c.ServerName, s.ClientURL(), c.StoreDir)
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

// ClusterURL is the client URL list of an n-node klnats cluster on host
// whose node 0 listens on port: nats://host:port,host:port+1,...
func ClusterURL(host string, port, n int) string {
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("%s:%d", host, port+i)
	}
	return "nats://" + strings.Join(hosts, ",")
}

// supervise runs klnats's own executable n times with args plus --node I,
// until SIGTERM or SIGINT, which it forwards. It returns 1 when a node
// could not start or exited on its own, else 0.
func supervise(args []string, n int, host string, port int, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "klnats: cannot find my executable:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	type exit struct {
		node int
		err  error
	}
	exits := make(chan exit, n)
	var cmds []*exec.Cmd
	status := 0
	for i := 0; i < n; i++ {
		cmd := exec.Command(exe, append(append([]string{}, args...), "--node", strconv.Itoa(i))...)
		cmd.Stdout = stderr
		cmd.Stderr = stderr
		// A SIGKILLed supervisor cannot forward anything: the kernel then
		// kills the nodes, so none is orphaned holding its ports.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "klnats: start node %d: %v\n", i, err)
			status = 1
			break
		}
		cmds = append(cmds, cmd)
		go func(i int) { exits <- exit{i, cmd.Wait()} }(i)
	}
	running := len(cmds)
	if status == 0 {
		fmt.Fprintf(stderr, "klnats: cluster of %d nodes: %s\n", n, ClusterURL(host, port, n))
		select {
		case <-sigs:
		case e := <-exits:
			running--
			fmt.Fprintf(stderr, "klnats: node %d exited unexpectedly: %v\n", e.node, e.err)
			status = 1
		}
	}
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM) // an exited node's error is moot
	}
	deadline := time.After(15 * time.Second)
	for running > 0 {
		select {
		case <-exits:
			running--
		case <-deadline:
			for _, cmd := range cmds {
				_ = cmd.Process.Kill()
			}
			fmt.Fprintln(stderr, "klnats: nodes did not stop within 15s; killed")
			status = 1
			for ; running > 0; running-- {
				<-exits // SIGKILL cannot be ignored
			}
		}
	}
	return status
}
