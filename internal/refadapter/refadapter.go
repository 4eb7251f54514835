// Package refadapter serves adapter protocol v1 over the reference log in
// ref/. klcheck re-executes itself with the "adapter" argument to run it, and
// `klref adapter` is the same code.
//
// Values are stored as JSON strings. The reference log cannot know a
// record's offset at append time (offsets are positions that readers
// count), so append replies carry no offsets.
package refadapter

import (
	"context"
	"io"

	"github.com/kafka-lite/kafka-lite/internal/mutant"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Serve runs one client of the protocol on in/out until close or EOF.
// mutantName selects a deliberately broken implementation from
// internal/mutant (see docs/MUTANTS.md); "" serves the reference.
func Serve(ctx context.Context, in io.Reader, out io.Writer, mutantName string) error {
	if mutantName != "" {
		// The deliberately broken implementations of internal/mutant, which
		// klcheck's own tests must reject.
		return mutant.Serve(ctx, in, out, mutantName)
	}
	return protocol.Serve(ctx, in, out, &handler{})
}
