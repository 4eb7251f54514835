package main

import (
	"strings"
	"testing"

	"github.com/kafka-lite/kafka-lite/internal/engine/natsserver"
)

// TestNATSJetStream runs the no-fault scenarios, scaled down, against a real
// NATS server with JetStream, embedded in the test binary. The adapter
// clients are separate processes (klcheck adapter --engine URL), exactly as
// for any implementation.
func TestNATSJetStream(t *testing.T) {
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir(), MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	args := []string{"--quick", "--impl", s.ClientURL()}
	for _, sc := range []string{"seed-produce-process", "parallel-producers", "record-sizes", "concurrent-consumers",
		"tail-follow", "consumer-restart", "retention-under-read"} {
		args = append(args, "--scenario", sc)
	}
	code, out, errs := klcheck(t, args...)
	if code != 0 {
		t.Fatalf("klcheck against NATS exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "7 scenarios: 7 passed") {
		t.Fatalf("unexpected summary:\n%s", out)
	}
}
