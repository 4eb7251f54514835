// Command klbench measures the reference kafka-lite log (and any adapter
// speaking protocol v1) against the raw limits of the machine it runs on.
// docs/BENCH.md explains the experiments, the report and the gate; run
// `klbench -h` for the flags.
package main

import (
	"os"

	"github.com/kafka-lite/kafka-lite/internal/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
