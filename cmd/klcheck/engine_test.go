package main

import (
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
)

// TestNATSJetStream runs every built-in scenario, scaled down, against a
// real NATS server with JetStream, embedded in the test binary: the no-fault
// ones and those that SIGKILL and SIGSTOP the clients. The adapter clients
// are separate processes (klcheck adapter --engine URL), exactly as for any
// implementation. The server allows 8 MiB messages: with the NATS default
// of 1 MiB, record-sizes and crash-mid-write fail with "refused" (a finding
// in docs/ENGINES.md).
func TestNATSJetStream(t *testing.T) {
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir(), MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	code, out, errs := klcheck(t, "--quick", "--impl", s.ClientURL())
	if code != 0 {
		t.Fatalf("klcheck against NATS exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "13 scenarios: 13 passed") {
		t.Fatalf("unexpected summary:\n%s", out)
	}
}
