// Package natsserver starts an embedded NATS server with JetStream, for the
// NATS adapter's tests and for the klnats command. It is a separate package
// so that programs using only the adapter do not link the server.
package natsserver

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultMaxPayload is klnats's max_payload: 8 MiB, the most NATS
// recommends, and more than the largest value (1 MiB + 100 B) of any
// scenario klcheck ships. NATS's own default, 1 MiB, refuses those values.
const DefaultMaxPayload = 8 << 20

// Config configures Start.
type Config struct {
	// Host to listen on; default 127.0.0.1.
	Host string
	// Port to listen on; 0 picks a free port.
	Port int
	// StoreDir is JetStream's storage directory (required).
	StoreDir string
	// SyncAlways makes JetStream fsync every write (sync_interval: always).
	SyncAlways bool
	// SyncInterval is JetStream's sync_interval; 0 keeps the default (2m).
	SyncInterval time.Duration
	// MaxPayload is the largest message the server accepts; 0 keeps the
	// NATS default of 1 MiB, which refuses klcheck's 1 MiB + 100 B values.
	MaxPayload int32
	// Logs enables the server's log on stderr.
	Logs bool
	// ServerName names the server; default "klnats". The nodes of a cluster
	// need distinct names (klnats uses n0, n1, ...).
	ServerName string
	// ClusterName, when set, makes the server a node of a JetStream cluster
	// of that name, listening for routes on ClusterHost:ClusterPort.
	ClusterName string
	// ClusterHost is the route listener's address; default Host.
	ClusterHost string
	// ClusterPort is the route listener's port (required with ClusterName).
	ClusterPort int
	// Routes are the other nodes' route addresses, host:port.
	Routes []string
}

// Start starts a server with JetStream and waits until it accepts
// connections. Its URL is s.ClientURL(); stop it with Shutdown and
// WaitForShutdown.
func Start(c Config) (*server.Server, error) {
	if c.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := c.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	name := c.ServerName
	if name == "" {
		name = "klnats"
	}
	opts := &server.Options{
		ServerName:   name,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     c.StoreDir,
		SyncAlways:   c.SyncAlways,
		SyncInterval: c.SyncInterval,
		MaxPayload:   c.MaxPayload,
		NoSigs:       true,
		NoLog:        !c.Logs,
	}
	if c.ClusterName != "" {
		if c.ClusterPort <= 0 {
			return nil, errors.New("natsserver: ClusterPort is required with ClusterName")
		}
		chost := c.ClusterHost
		if chost == "" {
			chost = host
		}
		opts.Cluster = server.ClusterOpts{Name: c.ClusterName, Host: chost, Port: c.ClusterPort}
		for _, r := range c.Routes {
			u, err := url.Parse("nats://" + r)
			if err != nil {
				return nil, fmt.Errorf("natsserver: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: new server: %w", err)
	}
	if c.Logs {
		s.ConfigureLogger()
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("natsserver: not ready for connections on %s:%d after 10s", host, c.Port)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		return nil, errors.New("natsserver: JetStream did not start")
	}
	return s, nil
}
