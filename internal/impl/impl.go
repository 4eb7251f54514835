// Package impl resolves an --impl spec to the command line of one client
// process, and serves the `adapter` subcommand that such a command line
// runs, for klcheck, klref and klbench alike.
//
// The specs are:
//
//   - "" or "ref": the reference, SELF adapter;
//   - "ref:MUTANT": a deliberately broken variant, SELF adapter --mutant MUTANT;
//   - "SCHEME://…": an engine adapter registered with RegisterEngine
//     (klcheck and klbench register nats:// and kafka://), SELF adapter
//     --engine URL, after the engine has checked the URL;
//   - anything else: a command line split like a shell would (quotes and
//     backslashes, no expansion), whose program must exist.
//
// SELF is the running executable: klcheck, klref and klbench each have the
// adapter subcommand (see Adapter).
package impl

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/google/shlex"
)

// Ref is the spec naming the reference implementation; Ref + ":" followed
// by a mutant name selects a deliberately broken variant.
const Ref = "ref"

// Engine is an engine adapter that a binary links in and registers for
// one URL scheme. This package imports no engine, so that a binary which
// registers none (klref) does not link their clients.
type Engine struct {
	// Check validates a URL of the scheme before any client starts.
	Check func(url string) error
	// Serve serves one client of protocol v1 for the URL on in and out,
	// until in ends or the client is closed.
	Serve func(ctx context.Context, url string, in io.Reader, out io.Writer) error
}

var (
	enginesMu sync.Mutex
	engines   = map[string]Engine{}
)

// RegisterEngine makes --impl SCHEME://... resolve to `SELF adapter
// --engine URL` after e.Check accepts the URL, and Adapter serve it with
// e.Serve.
func RegisterEngine(scheme string, e Engine) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	engines[scheme] = e
}

// engineFor returns the engine registered for scheme and the sorted
// registered schemes.
func engineFor(scheme string) (Engine, bool, []string) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	e, ok := engines[scheme]
	known := make([]string, 0, len(engines))
	for k := range engines {
		known = append(known, k)
	}
	slices.Sort(known)
	return e, ok, known
}

// EngineArgv is the command line of a client of an engine URL: SELF
// adapter --engine URL.
func EngineArgv(self, url string) []string {
	return []string{self, "adapter", "--engine", url}
}

// IsRef reports whether spec is the reference implementation or one of
// its mutants.
func IsRef(spec string) bool {
	spec = strings.TrimSpace(spec)
	return spec == "" || spec == Ref || strings.HasPrefix(spec, Ref+":")
}

// IsEngine reports whether spec is a URL of a registered engine scheme.
func IsEngine(spec string) bool {
	scheme, _, ok := urlScheme(spec)
	if !ok {
		return false
	}
	_, ok, _ = engineFor(scheme)
	return ok
}

// urlScheme returns spec's scheme when spec looks like SCHEME://….
func urlScheme(spec string) (string, string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(spec), "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, " \t/'\"") {
		return "", "", false
	}
	return scheme, rest, true
}

// Resolve turns spec into the command line of one client (see the package
// comment). self is the running executable; "" means os.Executable().
func Resolve(spec, self string) ([]string, error) {
	getSelf := func() (string, error) {
		if self != "" {
			return self, nil
		}
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find own executable: %w", err)
		}
		return exe, nil
	}
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == Ref:
		exe, err := getSelf()
		if err != nil {
			return nil, err
		}
		return []string{exe, "adapter"}, nil
	case strings.HasPrefix(spec, Ref+":"):
		mutant := strings.TrimPrefix(spec, Ref+":")
		if mutant == "" || strings.ContainsAny(mutant, " \t") {
			return nil, fmt.Errorf("--impl %q: want ref:MUTANT with a mutant name", spec)
		}
		exe, err := getSelf()
		if err != nil {
			return nil, err
		}
		return []string{exe, "adapter", "--mutant", mutant}, nil
	}
	if scheme, _, ok := urlScheme(spec); ok {
		e, ok, known := engineFor(scheme)
		if !ok {
			if len(known) == 0 {
				known = []string{"none in this binary"}
			}
			return nil, fmt.Errorf("--impl %q: no engine adapter for %s:// (registered: %s)", spec, scheme, strings.Join(known, ", "))
		}
		if e.Check != nil {
			if err := e.Check(spec); err != nil {
				return nil, fmt.Errorf("--impl %q: %w", spec, err)
			}
		}
		exe, err := getSelf()
		if err != nil {
			return nil, err
		}
		return EngineArgv(exe, spec), nil
	}
	return Command("--impl", spec)
}

// Command splits spec, the value of flag, like a shell would (quotes and
// backslashes, no expansion) and finds its program on PATH; argv[0] of the
// result is the program's path.
func Command(flag, spec string) ([]string, error) {
	argv, err := shlex.Split(spec)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, spec, err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s %q: empty command", flag, spec)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%s %q: cannot run %s: %w", flag, spec, argv[0], err)
	}
	argv[0] = path
	return argv, nil
}
