package bench

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for klbench when it re-executes
// itself (null-adapter, adapter, produce-worker).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "adapter", "null-adapter", "produce-worker":
			os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(m.Run())
}
