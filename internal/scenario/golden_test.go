package scenario

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden decodes testdata/full.yaml and compares its JSON form, and that
// of its --quick copy, with testdata/full.golden.json.
func TestGolden(t *testing.T) {
	in := filepath.Join("testdata", "full.yaml")
	s, err := LoadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(map[string]*Scenario{"full": s, "quick": s.Scaled(true)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "full.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("decoded %s differs from %s (run go test -update to accept):\n%s", in, golden, got)
	}
}
