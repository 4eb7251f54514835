// Command klnats runs an embedded NATS server with JetStream until SIGTERM
// or SIGINT, so that klcheck and klbench can run against
// nats://127.0.0.1:PORT without installing nats-server, and so that a fault
// injector (klcheck --server) can kill it.
//
//	klnats --port 4222 --store /tmp/klnats [--host 127.0.0.1] [--sync always|DURATION] [--max-payload BYTES] [--logs]
//	klnats --cluster 3 --port 4222 --store /tmp/klnats   # three nodes on loopback, ports 4222-4224
//	klnats --cluster 3 --node 1 --port 4222 --store /tmp/klnats   # node n1 of them only
package main

import (
	"os"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
)

func main() {
	os.Exit(natsserver.Main(os.Args[1:], os.Stderr))
}
