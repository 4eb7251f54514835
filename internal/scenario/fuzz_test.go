package scenario

import (
	"io/fs"
	"testing"

	"github.com/kafka-lite/kafka-lite/scenarios"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and what it
// accepts must validate, scale and name its clients without trouble.
func FuzzParse(f *testing.F) {
	files, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := fs.ReadFile(scenarios.FS, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		minimal,
		"",
		"---\n---\n",
		"name: [\n",
		"a: &a [*a]\n",
		"producers: [{count: 1, messages: 1, size: {range: [1]}}]\n",
		"<<: {name: x}\n",
		"topic: !!binary aGVsbG8=\n",
		"faults: [{kind: kill, target: p1, trigger: random, gap: {mean_ms: 1e9}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("a scenario returned with an error")
			}
			_ = err.Error()
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a scenario that fails Validate: %v", err)
		}
		q := s.Scaled(true)
		if err := q.Validate(); err != nil {
			t.Fatalf("the --quick copy fails Validate: %v", err)
		}
		_ = q.ProducerNames()
		_ = q.ConsumerNames()
		for _, g := range q.Producers {
			_ = g.SizeFor(0, nil)
		}
		for _, g := range q.Consumers {
			_ = g.GroupFor(0)
		}
	})
}
