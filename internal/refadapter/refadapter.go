// Package refadapter serves adapter protocol v1 over the reference log in
// ref/. klcheck re-executes itself with the "adapter" argument to run it, and
// `klref adapter` is the same code.
package refadapter

import (
	"context"
	"io"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// Serve runs one client of the protocol on in/out until close or EOF.
// mutant names a deliberately broken variant ("" for the correct one).
func Serve(ctx context.Context, in io.Reader, out io.Writer, mutant string) error {
	return protocol.Serve(ctx, in, out, &handler{mutant: mutant})
}
