package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/kafka-lite/kafka-lite/scenarios"
)

// BuiltinPrefix starts the File of a built-in scenario: "builtin:NAME".
const BuiltinPrefix = "builtin:"

// Builtin parses every scenario embedded from scenarios/ and returns them
// sorted by name.
func Builtin() ([]*Scenario, error) {
	return loadFS(scenarios.FS)
}

// loadFS parses every *.yaml file at the root of fsys.
func loadFS(fsys fs.FS) ([]*Scenario, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("scenario: list built-ins: %w", err)
	}
	var out []*Scenario
	var errs []error
	seen := map[string]string{}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("scenario: read built-in %s: %w", f, err))
			continue
		}
		s, err := Parse(path.Join("scenarios", f), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[s.Name]; dup {
			errs = append(errs, fmt.Errorf("scenario: built-ins %s and %s are both named %q", prev, f, s.Name))
			continue
		}
		seen[s.Name] = f
		s.File = BuiltinPrefix + s.Name
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// BuiltinNames returns the names of the built-in scenarios, sorted.
func BuiltinNames() ([]string, error) {
	all, err := Builtin()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return names, nil
}

// Lookup returns the built-in scenario named nameOrFile (a "builtin:"
// prefix is allowed), or else parses the file at that path. When it is
// neither, the error lists the built-in names.
func Lookup(nameOrFile string) (*Scenario, error) {
	all, err := Builtin()
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(nameOrFile, BuiltinPrefix)
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	if _, statErr := os.Stat(nameOrFile); statErr == nil && !strings.HasPrefix(nameOrFile, BuiltinPrefix) {
		return LoadFile(nameOrFile)
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return nil, fmt.Errorf("scenario: %q is neither a built-in scenario nor a file (built-ins: %s)", nameOrFile, strings.Join(names, ", "))
}
