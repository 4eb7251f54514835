package run

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/google/shlex"
)

// Impl is a resolved --impl: the command line of one client process.
type Impl struct {
	// Spec is --impl as given ("" for the default).
	Spec string `json:"spec"`
	// Argv is the command started for every client.
	Argv []string `json:"argv"`
}

// String returns the command line, quoted where needed.
func (i Impl) String() string {
	parts := make([]string, len(i.Argv))
	for k, a := range i.Argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[k] = a
	}
	return strings.Join(parts, " ")
}

// EngineFunc turns an --impl URL such as nats://host:port into the command
// line of one client; self is the klcheck executable. It is the seam for
// adapters over other engines: registering AdapterEngine for a scheme
// routes its URLs to `klcheck adapter --engine URL`.
type EngineFunc func(self, url string) ([]string, error)

var (
	enginesMu sync.Mutex
	engines   = map[string]EngineFunc{}
)

// RegisterEngine makes --impl SCHEME://... resolve through fn.
func RegisterEngine(scheme string, fn EngineFunc) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	engines[scheme] = fn
}

// AdapterEngine is the EngineFunc that runs `klcheck adapter --engine URL`.
func AdapterEngine(self, url string) ([]string, error) {
	return []string{self, "adapter", "--engine", url}, nil
}

// RefImpl is the --impl value naming the reference implementation; "ref:"
// followed by a mutant name selects a deliberately broken variant.
const RefImpl = "ref"

// IsRef reports whether i is the reference implementation or one of its
// mutants, as ResolveImpl resolves them.
func (i Impl) IsRef() bool {
	return i.Spec == "" || i.Spec == RefImpl || strings.HasPrefix(i.Spec, RefImpl+":")
}

// IsEngine reports whether i is an engine URL (SCHEME://…) that a
// registered EngineFunc resolved: its clients keep no data of their own.
func (i Impl) IsEngine() bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(i.Spec), "://")
	if !ok || scheme == "" {
		return false
	}
	enginesMu.Lock()
	defer enginesMu.Unlock()
	return engines[scheme] != nil
}

// ResolveImpl turns an --impl value into a command line:
//
//   - "" or "ref": self with the single argument "adapter" (the reference);
//   - "ref:MUTANT": self adapter --mutant MUTANT;
//   - "SCHEME://...": the command a registered EngineFunc gives;
//   - anything else: a command line split like a shell would (quotes and
//     backslashes, no expansion), whose program must exist.
//
// self is the klcheck executable; "" means os.Executable().
func ResolveImpl(spec, self string) (Impl, error) {
	getSelf := func() (string, error) {
		if self != "" {
			return self, nil
		}
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find klcheck's own executable: %w", err)
		}
		return exe, nil
	}
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == RefImpl:
		exe, err := getSelf()
		if err != nil {
			return Impl{}, err
		}
		return Impl{Spec: spec, Argv: []string{exe, "adapter"}}, nil
	case strings.HasPrefix(spec, RefImpl+":"):
		mutant := strings.TrimPrefix(spec, RefImpl+":")
		if mutant == "" || strings.ContainsAny(mutant, " \t") {
			return Impl{}, fmt.Errorf("--impl %q: want ref:MUTANT with a mutant name", spec)
		}
		exe, err := getSelf()
		if err != nil {
			return Impl{}, err
		}
		return Impl{Spec: spec, Argv: []string{exe, "adapter", "--mutant", mutant}}, nil
	}
	if scheme, _, ok := strings.Cut(spec, "://"); ok && scheme != "" && !strings.ContainsAny(scheme, " \t/'\"") {
		enginesMu.Lock()
		fn := engines[scheme]
		known := make([]string, 0, len(engines))
		for k := range engines {
			known = append(known, k)
		}
		enginesMu.Unlock()
		if fn == nil {
			slices.Sort(known)
			if len(known) == 0 {
				known = []string{"none yet"}
			}
			return Impl{}, fmt.Errorf("--impl %q: no engine adapter for %s:// (registered: %s)", spec, scheme, strings.Join(known, ", "))
		}
		exe, err := getSelf()
		if err != nil {
			return Impl{}, err
		}
		argv, err := fn(exe, spec)
		if err != nil {
			return Impl{}, fmt.Errorf("--impl %q: %w", spec, err)
		}
		return Impl{Spec: spec, Argv: argv}, nil
	}
	argv, err := shlex.Split(spec)
	if err != nil {
		return Impl{}, fmt.Errorf("--impl %q: %w", spec, err)
	}
	if len(argv) == 0 {
		return Impl{}, fmt.Errorf("--impl %q: empty command", spec)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return Impl{}, fmt.Errorf("--impl %q: cannot run %s: %w", spec, argv[0], err)
	}
	argv[0] = path
	return Impl{Spec: spec, Argv: argv}, nil
}
