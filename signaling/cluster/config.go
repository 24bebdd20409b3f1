package cluster

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Named defaults and limits. They are part of the documented contract
// (README "Running several nodes", docs/CLUSTER.md).
const (
	// MinSecretBytes is the shortest cluster secret accepted: the secret
	// keys every subject and seals every payload.
	MinSecretBytes = 32
	// DefaultHeartbeat is how often a node tells the others it is alive.
	DefaultHeartbeat = time.Second
	// DefaultDeadAfter is how long a node may stay silent before the
	// others take it for dead and announce its peers as left: its peers
	// are gone from the other nodes within DeadAfter plus one Heartbeat.
	DefaultDeadAfter = 4 * time.Second
	// DefaultQueueLen is how many messages from NATS may wait to be
	// applied. Beyond it NATS drops (a slow consumer); a lost change is
	// noticed at the next heartbeat and repaired by a snapshot, a lost
	// signal is lost.
	DefaultQueueLen = 4096
	// maxClockSkew bounds how old a heartbeat may be: older ones are
	// replays. Nodes' clocks must agree within it.
	maxClockSkew = time.Minute
	// snapshotPartBytes bounds one snapshot message, well under NATS's
	// default 1 MiB payload limit.
	snapshotPartBytes = 256 << 10
	// maxSnapshotParts bounds what a snapshot in progress may hold.
	maxSnapshotParts = 4096
	// maxTombstones bounds the memory of nodes taken for dead (kept so a
	// replayed heartbeat cannot bring one back).
	maxTombstones = 1024
	// closeFlushTimeout bounds how long Close waits for the goodbye to
	// reach NATS.
	closeFlushTimeout = 2 * time.Second
	// reconnectWait is the pause between attempts to reach NATS.
	reconnectWait = time.Second
)

// Config configures a Node. A zero field means its default.
type Config struct {
	// URLs are the NATS servers to connect to (nats://host:4222,
	// tls://host:4222). Required.
	URLs []string
	// Secret is the cluster secret every node shares: at least
	// MinSecretBytes, unguessable. Subjects derive from it and payloads
	// are sealed under a key derived from it. Required.
	Secret []byte
	// CredsFile is a NATS user credentials file (JWT and NKey seed, as
	// nsc writes it). Default none.
	CredsFile string
	// NKeyFile is a NATS NKey seed file. Default none.
	NKeyFile string
	// TLS configures TLS to NATS (root CAs, client certificate). Default:
	// TLS only for tls:// URLs, with the system roots.
	TLS *tls.Config
	// RelayAddrs are this node's TURN relay addresses, announced in its
	// heartbeats: relay candidates at any live node's relay addresses
	// pass the forced-relay filter (IsRelayAddr). Default none.
	RelayAddrs []netip.Addr
	// Heartbeat is how often the node says it is alive. Default
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// DeadAfter is how long another node may stay silent before its
	// peers are announced as left; at least two Heartbeats. Default
	// DefaultDeadAfter.
	DeadAfter time.Duration
	// QueueLen bounds the messages from NATS waiting to be applied.
	// Default DefaultQueueLen.
	QueueLen int
	// Logger receives operational logs, never a room, stream, peer id or
	// address. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = max(DefaultDeadAfter, 2*c.Heartbeat)
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case len(c.URLs) == 0:
		return fmt.Errorf("%w: URLs: at least one NATS server is needed", ErrInvalidConfig)
	case len(c.Secret) < MinSecretBytes:
		return fmt.Errorf("%w: Secret must be at least %d bytes", ErrInvalidConfig, MinSecretBytes)
	case c.Heartbeat < 0 || c.QueueLen < 0:
		return fmt.Errorf("%w: Heartbeat and QueueLen must not be negative", ErrInvalidConfig)
	case c.DeadAfter < 2*c.Heartbeat:
		return fmt.Errorf("%w: DeadAfter must be at least two Heartbeats", ErrInvalidConfig)
	}
	return nil
}
