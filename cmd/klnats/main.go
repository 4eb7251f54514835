// Command klnats runs an embedded NATS server with JetStream until SIGTERM
// or SIGINT, so that klcheck and klbench can run against
// nats://127.0.0.1:PORT without installing nats-server, and so that a fault
// injector can kill it.
//
//	klnats --port 4222 --store /tmp/klnats [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 4222, "client port (0 = any free port)")
	store := flag.String("store", "", "JetStream storage directory (required)")
	sync := flag.String("sync", "", `JetStream sync_interval: "always" or a duration (default: the server's, 2m)`)
	maxPayload := flag.Int("max-payload", 0, "largest message in bytes (0 = the NATS default, 1 MiB; klcheck's record-sizes needs more)")
	logs := flag.Bool("logs", false, "write the server log to stderr")
	flag.Parse()
	if *maxPayload < 0 || *maxPayload > 64<<20 {
		fmt.Fprintln(os.Stderr, "klnats: --max-payload must be 0 to 64 MiB")
		os.Exit(2)
	}
	if err := run(*host, *port, *store, *sync, int32(*maxPayload), *logs); err != nil {
		fmt.Fprintln(os.Stderr, "klnats:", err)
		os.Exit(1)
	}
}

func run(host string, port int, store, sync string, maxPayload int32, logs bool) error {
	if store == "" {
		return fmt.Errorf("--store is required")
	}
	c := natsserver.Config{Host: host, Port: port, StoreDir: store, MaxPayload: maxPayload, Logs: logs}
	switch sync {
	case "":
	case "always":
		c.SyncAlways = true
	default:
		d, err := time.ParseDuration(sync)
		if err != nil || d <= 0 {
			return fmt.Errorf("--sync %q: want always or a positive duration", sync)
		}
		c.SyncInterval = d
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	s, err := natsserver.Start(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "klnats: JetStream listening on %s (store %s)\n", s.ClientURL(), store)
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
