package run

import (
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/impl"
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

// RefImpl is the --impl value naming the reference implementation; "ref:"
// followed by a mutant name selects a deliberately broken variant.
const RefImpl = impl.Ref

// IsRef reports whether i is the reference implementation or one of its
// mutants, as ResolveImpl resolves them.
func (i Impl) IsRef() bool { return impl.IsRef(i.Spec) }

// IsEngine reports whether i is an engine URL (SCHEME://…) that a
// registered engine (impl.RegisterEngine) resolved: its clients keep no data of their own.
func (i Impl) IsEngine() bool { return impl.IsEngine(i.Spec) }

// ResolveImpl turns an --impl value into a command line (see
// impl.Resolve). self is the klcheck executable; "" means os.Executable().
func ResolveImpl(spec, self string) (Impl, error) {
	argv, err := impl.Resolve(spec, self)
	if err != nil {
		return Impl{}, err
	}
	return Impl{Spec: strings.TrimSpace(spec), Argv: argv}, nil
}
