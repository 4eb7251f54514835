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
	"fmt"
	"io"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Serve runs one client of the protocol on in/out until close or EOF.
// mutant names a deliberately broken variant ("" for the correct one).
func Serve(ctx context.Context, in io.Reader, out io.Writer, mutant string) error {
	if mutant != "" {
		return fmt.Errorf("unknown mutant %q", mutant)
	}
	return protocol.Serve(ctx, in, out, &handler{})
}
