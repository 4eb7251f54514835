package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsExample parses the annotated example of docs/SCENARIOS.md and
// checks that the table of built-ins lists every built-in scenario.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "SCENARIOS.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	text := string(doc)
	_, rest, ok := strings.Cut(text, "```yaml\n")
	if !ok {
		t.Fatal("no ```yaml block in docs/SCENARIOS.md")
	}
	example, _, _ := strings.Cut(rest, "```")
	s, err := Parse("docs/SCENARIOS.md example", []byte(example))
	if err != nil {
		t.Fatalf("the example does not parse: %v", err)
	}
	if s.Name != "my-scenario" {
		t.Errorf("example name = %q", s.Name)
	}
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		if !strings.Contains(text, "| `"+b.Name+"` |") {
			t.Errorf("docs/SCENARIOS.md does not list built-in %s", b.Name)
		}
	}
}
