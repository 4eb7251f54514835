package impl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
	"github.com/kafka-lite/kafka-lite/internal/refadapter"
)

// Exit statuses of Adapter.
const (
	// ExitOK: the client was closed, or stdin ended.
	ExitOK = 0
	// ExitFail: serving failed (an engine left an outcome unknown, a
	// broken pipe); the harness treats the client as dead.
	ExitFail = 1
	// ExitUsage: bad flags.
	ExitUsage = 2
)

// Extra is a handler an embedding binary adds to its adapter subcommand,
// selected by --NAME (klbench's --null).
type Extra struct {
	// Name is the flag that selects it.
	Name string
	// Usage is the flag's help text.
	Usage string
	// Handler returns the protocol handler for one client.
	Handler func() (protocol.Handler, error)
}

// Adapter is the `adapter` subcommand of klcheck, klref and klbench: it
// serves one client of protocol v1 on stdin/stdout, over the reference
// (no flag), one of its mutants (--mutant NAME), a built-in engine
// (--engine URL), or one of extras (--NAME). prog names the command in
// messages ("klcheck adapter"); it returns the exit status.
func Adapter(ctx context.Context, prog string, args []string, stdin io.Reader, stdout, stderr io.Writer, extras ...Extra) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mutant := fs.String("mutant", "", "serve the named deliberately broken variant of the reference")
	engineURL := fs.String("engine", "", "serve the engine adapter registered for `URL`'s scheme (klcheck, klbench: nats://HOST:PORT, kafka://HOST:PORT)")
	chosen := make([]bool, len(extras))
	for i, e := range extras {
		fs.BoolVar(&chosen[i], e.Name, false, e.Usage)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s [--mutant NAME | --engine URL]\n\nServes one client of adapter protocol v1 (docs/PROTOCOL.md) on stdin/stdout.\n\nflags:\n", prog)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprintln(stdout, "\nexit status: 0 ok; 1 serving failed (the harness counts the client as dead); 2 a usage error")
			return ExitOK
		}
		fmt.Fprintf(stderr, "%s: %v\nrun '%s -h' for the flags\n", prog, err, prog)
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", prog, fs.Arg(0))
		return ExitUsage
	}
	var err error
	served := false
	for i, e := range extras {
		if chosen[i] && !served {
			served = true
			var h protocol.Handler
			if h, err = e.Handler(); err == nil {
				err = protocol.Serve(ctx, stdin, stdout, h)
			}
		}
	}
	switch {
	case served:
	case *engineURL != "":
		err = serveEngine(ctx, *engineURL, stdin, stdout)
	default:
		err = refadapter.Serve(ctx, stdin, stdout, *mutant)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = nil // the harness closed stdin without a close request
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitFail
	}
	return ExitOK
}

// serveEngine serves one client of the engine registered for url's scheme.
func serveEngine(ctx context.Context, url string, in io.Reader, out io.Writer) error {
	scheme, _, ok := urlScheme(url)
	if !ok {
		return fmt.Errorf("--engine %q: want SCHEME://HOST:PORT", url)
	}
	e, ok, known := engineFor(scheme)
	if !ok || e.Serve == nil {
		if len(known) == 0 {
			return fmt.Errorf("--engine %q: this binary links no engine adapter (klcheck and klbench do)", url)
		}
		return fmt.Errorf("--engine %q: no engine adapter for %s:// (registered: %s)", url, scheme, strings.Join(known, ", "))
	}
	return e.Serve(ctx, url, in, out)
}
