// Package enginekit holds what the built-in engine adapters share: the
// handling of indeterminate outcomes, the naming of engine objects after a
// kafka-lite topic, and the parsing of engine URLs.
package enginekit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// ErrIndeterminate marks an operation whose outcome is unknown: the engine
// may or may not have applied it (a publish whose ack timed out, a batch
// that partly failed). Protocol v1 has no reply for that: an ok:false reply
// claims that nothing happened. So ServeHandler does not answer such a
// request at all; it ends the session with the error, exactly as a client
// process that died would, and the harness records the operation as
// indeterminate.
var ErrIndeterminate = errors.New("indeterminate outcome")

// Indeterminate wraps err (with context) as an ErrIndeterminate error.
func Indeterminate(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIndeterminate, fmt.Sprintf(format, args...))
}

// CheckIncreasing makes sure the offsets an engine returned for one batch
// strictly increase, as protocol v1 requires. If they do not, the outcome
// of the append is unknown (what was stored where?), so the error is
// indeterminate. what names the operation and target in the message.
func CheckIncreasing(offs []*int64, what string) error {
	for i := 1; i < len(offs); i++ {
		if *offs[i] <= *offs[i-1] {
			return Indeterminate("%s: offsets not increasing within a batch: %d then %d", what, *offs[i-1], *offs[i])
		}
	}
	return nil
}

// ServeHandler runs protocol.Serve over h, except that a request whose
// handler method fails with ErrIndeterminate is never answered: Serve stops
// and ServeHandler returns that error.
func ServeHandler(ctx context.Context, in io.Reader, out io.Writer, h protocol.Handler) error {
	g := &guard{out: out}
	err := protocol.Serve(ctx, in, g, &guardedHandler{h: h, g: g})
	if fatal := g.get(); fatal != nil {
		_ = h.Close()
		return fatal
	}
	return err
}

// guard is the reply writer that refuses to write once an indeterminate
// outcome was recorded.
type guard struct {
	out   io.Writer
	mu    sync.Mutex
	fatal error
}

func (g *guard) set(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fatal == nil {
		g.fatal = err
	}
}

func (g *guard) get() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fatal
}

func (g *guard) Write(p []byte) (int, error) {
	if err := g.get(); err != nil {
		return 0, err
	}
	return g.out.Write(p)
}

type guardedHandler struct {
	h protocol.Handler
	g *guard
}

func (gh *guardedHandler) check(err error) error {
	if errors.Is(err, ErrIndeterminate) {
		gh.g.set(err)
	}
	return err
}

func (gh *guardedHandler) Init(req *protocol.Request) (string, error) {
	impl, err := gh.h.Init(req)
	return impl, gh.check(err)
}

func (gh *guardedHandler) Append(values []string) ([]*int64, error) {
	offs, err := gh.h.Append(values)
	return offs, gh.check(err)
}

func (gh *guardedHandler) Poll(ctx context.Context, max int, timeout time.Duration) ([]protocol.Record, error) {
	recs, err := gh.h.Poll(ctx, max, timeout)
	return recs, gh.check(err)
}

func (gh *guardedHandler) Ack(offset int64) error { return gh.check(gh.h.Ack(offset)) }

func (gh *guardedHandler) Close() error { return gh.check(gh.h.Close()) }

// RunID returns a short, stable identifier of the init request's dir: the
// first 8 hex digits of its SHA-256. The harness gives every run its own
// dir, so engine objects named with RunID keep runs apart on a shared
// cluster.
func RunID(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:4])
}

// Escape returns name with every byte outside [A-Za-z0-9-] written as _HH
// (two lowercase hex digits), so that the result is a valid NATS stream,
// consumer and subject token and a valid Kafka topic name, and distinct
// names stay distinct.
func Escape(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// URL is a parsed engine URL: scheme://host:port[,host:port...][?k=v&...].
type URL struct {
	// Scheme is the lower-case scheme ("nats", "kafka").
	Scheme string
	// Hosts are the host:port entries, in order.
	Hosts []string
	// Query holds the parameters after '?'.
	Query url.Values
}

// ParseURL parses an engine URL. Unlike net/url it accepts a
// comma-separated list of hosts, as Kafka bootstrap lists are written.
func ParseURL(raw string) (*URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("engine URL %q: want scheme://host:port", raw)
	}
	hostPart, query, _ := strings.Cut(rest, "?")
	hostPart = strings.TrimSuffix(hostPart, "/")
	if hostPart == "" {
		return nil, fmt.Errorf("engine URL %q: no host", raw)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("engine URL %q: query: %w", raw, err)
	}
	u := &URL{Scheme: strings.ToLower(scheme), Query: q}
	for _, h := range strings.Split(hostPart, ",") {
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, "/@ \t") {
			return nil, fmt.Errorf("engine URL %q: bad host %q", raw, h)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			return nil, fmt.Errorf("engine URL %q: host %q: want HOST:PORT", raw, h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("engine URL %q: host %q: want HOST:PORT with a port from 1 to 65535", raw, h)
		}
		u.Hosts = append(u.Hosts, h)
	}
	return u, nil
}

// CheckParams returns an error naming the first query parameter of u that
// is not in allowed.
func (u *URL) CheckParams(allowed ...string) error {
	for k := range u.Query {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("engine URL: unknown parameter %q for %s (known: %s)", k, u.Scheme, strings.Join(allowed, ", "))
		}
	}
	return nil
}
