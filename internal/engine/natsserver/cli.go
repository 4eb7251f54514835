package natsserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main is the klnats command: it runs a server with JetStream until SIGTERM
// or SIGINT and returns the exit status (0 after a clean stop, 1 when the
// server failed, 2 for bad flags). Messages go to stderr. It is a function
// here, not in cmd/klnats, so that test binaries can run themselves as the
// server process that klcheck --server kills.
//
//	klnats --port 4222 --store DIR [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs]
func Main(args []string, stderr io.Writer) int {
	const usage = "usage: klnats --store DIR [--port 4222] [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs]"
	fs := flag.NewFlagSet("klnats", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 4222, "client port (0 = any free port)")
	store := fs.String("store", "", "JetStream storage directory (required)")
	sync := fs.String("sync", "", `JetStream sync_interval: "always" or a duration (default: the server's, 2m)`)
	maxPayload := fs.Int("max-payload", DefaultMaxPayload, "largest message in bytes, up to 64 MiB (the default fits every scenario klcheck ships; NATS's own is 1 MiB)")
	logs := fs.Bool("logs", false, "write the server log to stderr")
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
	c := Config{Host: *host, Port: *port, StoreDir: *store, MaxPayload: int32(*maxPayload), Logs: *logs}
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
	fmt.Fprintf(stderr, "klnats: JetStream listening on %s (store %s)\n", s.ClientURL(), *store)
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}
