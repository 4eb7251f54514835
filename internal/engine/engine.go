// Package engine serves adapter protocol v1 over distributed engines, so
// that kafka-lite scenarios and benchmarks run unchanged against a NATS
// JetStream or Kafka cluster. The engine is picked by the URL scheme:
//
//	nats://HOST:PORT[,HOST:PORT...][?replicas=3&sync=always&ack_wait=5m]
//	kafka://HOST:PORT[,HOST:PORT...][?replicas=3]
//
// docs/ENGINES.md describes the mappings and the semantic differences.
package engine

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kafka-lite/kafka-lite/internal/engine/enginekit"
	"github.com/kafka-lite/kafka-lite/internal/engine/kafkaadapter"
	"github.com/kafka-lite/kafka-lite/internal/engine/natsadapter"
	"github.com/kafka-lite/kafka-lite/internal/impl"
)

// Register makes every scheme of Schemes resolve and serve through this
// package (impl.RegisterEngine): --impl nats://… and kafka://… become
// `SELF adapter --engine URL`. klcheck and klbench call it; klref does not,
// and so links no engine client.
func Register() {
	for _, scheme := range Schemes {
		impl.RegisterEngine(scheme, impl.Engine{Check: Check, Serve: Serve})
	}
}

// Schemes are the URL schemes Serve knows.
var Schemes = []string{"nats", "kafka"}

// IsURL reports whether impl names a built-in engine (nats://… or
// kafka://…) rather than an implementation command.
func IsURL(impl string) bool {
	scheme, _, ok := strings.Cut(impl, "://")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	for _, s := range Schemes {
		if scheme == s {
			return true
		}
	}
	return false
}

// Check parses rawURL and its parameters without connecting, so that a bad
// --impl is reported before any client starts.
func Check(rawURL string) error {
	u, err := enginekit.ParseURL(rawURL)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "nats":
		_, err = natsadapter.ParseOptions(u)
	case "kafka":
		_, err = kafkaadapter.ParseOptions(u)
	default:
		err = fmt.Errorf("engine URL %q: unknown scheme %q (known: %s)", rawURL, u.Scheme, strings.Join(Schemes, ", "))
	}
	return err
}

// Serve runs one client of protocol v1 on in/out over the engine that
// rawURL names, until a close request was answered (nil) or in ends. An
// operation whose outcome the engine leaves unknown is not answered: Serve
// returns an error wrapping enginekit.ErrIndeterminate, and the caller
// should exit non-zero, as a client that died.
func Serve(ctx context.Context, rawURL string, in io.Reader, out io.Writer) error {
	if err := Check(rawURL); err != nil {
		return err
	}
	u, _ := enginekit.ParseURL(rawURL) // checked above
	switch u.Scheme {
	case "nats":
		return natsadapter.Serve(ctx, u, in, out)
	default: // "kafka", as Check allows no other
		return kafkaadapter.Serve(ctx, u, in, out)
	}
}

// FirstAddr returns the first host:port of an engine URL, or "" when impl
// is not one: the address a server started by klcheck --server listens on.
func FirstAddr(impl string) string {
	if !IsURL(impl) {
		return ""
	}
	u, err := enginekit.ParseURL(impl)
	if err != nil || len(u.Hosts) == 0 {
		return ""
	}
	return u.Hosts[0]
}

// Hosts returns the host:port list of an engine URL, or nil when impl is
// not one.
func Hosts(impl string) []string {
	if !IsURL(impl) {
		return nil
	}
	u, err := enginekit.ParseURL(impl)
	if err != nil {
		return nil
	}
	return u.Hosts
}

// ClusterProbes returns, for an engine URL whose engine has them, a
// readiness probe (nil once the cluster serves requests) and a probe of
// the topic's leader (its server name). Both are nil for other URLs: only
// nats:// has them so far.
func ClusterProbes(rawURL string) (ready func(context.Context) error, leader func(context.Context) (string, error)) {
	u, err := enginekit.ParseURL(rawURL)
	if err != nil || u.Scheme != "nats" {
		return nil, nil
	}
	o, err := natsadapter.ParseOptions(u)
	if err != nil {
		return nil, nil
	}
	return func(ctx context.Context) error { return natsadapter.Ready(ctx, o) },
		func(ctx context.Context) (string, error) { return natsadapter.Leader(ctx, o) }
}
