package natsadapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectTimeout bounds the connection of Ready and Leader.
const connectTimeout = 2 * time.Second

// connect opens a short-lived connection to o.Servers for a probe.
func connect(o Options) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(o.Servers, nats.Name("kafka-lite probe"), nats.Timeout(connectTimeout), nats.NoReconnect())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", o.Servers, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Ready reports whether JetStream on o.Servers answers an account info
// request (in a cluster the meta leader answers it, so a cluster that
// listens but has not elected one yet is not ready), and whether every
// stream and consumer has a leader.
func Ready(ctx context.Context, o Options) error {
	nc, js, err := connect(o)
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream account info from %s: %w", o.Servers, err)
	}
	// After a node restarted, the streams and consumers it led may still
	// be electing: their leaders answer info requests, so ask each.
	names := js.StreamNames(ctx)
	var streams []string
	for name := range names.Name() {
		streams = append(streams, name)
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return fmt.Errorf("stream names on %s: %w", o.Servers, err)
	}
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		if c := s.CachedInfo().Cluster; c != nil && c.Leader == "" {
			return fmt.Errorf("stream %s has no leader", name)
		}
		cl := s.ListConsumers(ctx)
		for info := range cl.Info() {
			if info.Cluster != nil && info.Cluster.Leader == "" {
				return fmt.Errorf("stream %s: consumer %s has no leader", name, info.Name)
			}
		}
		if err := cl.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
			return fmt.Errorf("stream %s: list consumers: %w", name, err)
		}
	}
	return nil
}

// Leader returns the server name of the leader of the first replicated
// stream on o.Servers: a klcheck scenario has one topic, so one stream.
func Leader(ctx context.Context, o Options) (string, error) {
	nc, js, err := connect(o)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	l := js.ListStreams(ctx)
	leader := ""
	for info := range l.Info() {
		if leader == "" && info.Cluster != nil && info.Cluster.Leader != "" {
			leader = info.Cluster.Leader
		}
	}
	if err := l.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return "", fmt.Errorf("list streams on %s: %w", o.Servers, err)
	}
	if leader == "" {
		return "", errors.New("no stream has a cluster leader")
	}
	return leader, nil
}

// transientCreate tells whether a stream creation failed only because the
// cluster is not settled yet (no meta leader, peers not all known), so
// that it is worth trying again.
func transientCreate(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case 10008, // JetStream system temporarily unavailable
			10005, // no suitable peers for placement
			10023: // insufficient resources
			return true
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || strings.Contains(err.Error(), "no responders")
}

// attemptTimeout bounds one attempt of a request that retried retries.
const attemptTimeout = 5 * time.Second

// retried runs req with attemptTimeout per attempt, trying again after
// createRetry while it fails as transientCreate says a settling cluster
// does, until ctx ends. A JetStream API request whose reply is lost (a
// cluster electing a leader drops some) otherwise waits out the whole
// init's bound, and klcheck sees a client that hangs; retried it gets a
// second chance, and its error is reported before klcheck gives up.
// req must be safe to repeat.
func retried[T any](ctx context.Context, req func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := req(actx)
		cancel()
		if err == nil || !transientCreate(err) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(createRetry):
		}
	}
}
