package turn

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultRealm is the TURN realm when Config.Realm is empty.
	DefaultRealm = "veil"
	// DefaultCredentialTTL bounds how long issued credentials can start an
	// allocation. Short, because a leaked credential is then useless soon;
	// an allocation made in time outlives it (expiry is checked on
	// Allocate only).
	DefaultCredentialTTL = 10 * time.Minute
	// DefaultMaxAllocationsPerUser caps live relay allocations per peer id.
	// A WebRTC peer needs one per ICE component and address family and
	// perhaps one per tab reconnect; 8 leaves room for that and no more.
	DefaultMaxAllocationsPerUser = 8
	// DefaultMaxAllocations caps live relay allocations in total, so a
	// flood of valid credentials cannot exhaust the host's UDP ports.
	DefaultMaxAllocations = 2000
	// DefaultMaxAllocationsPerIP caps live allocations per client address
	// (IPv6: per /64), whatever credentials they use: an office behind one
	// NAT needs a few per participant. New also keeps it below a quarter
	// of MaxAllocations, so one address never holds the pool.
	DefaultMaxAllocationsPerIP = 64
	// DefaultMaxAllocationLifetime caps how long one allocation lives
	// however often it is refreshed. A call longer than this needs an ICE
	// restart (with fresh credentials).
	DefaultMaxAllocationLifetime = 24 * time.Hour
	// DefaultMaxPeersPerAllocation caps the distinct peer IPs one
	// allocation is ever permitted to reach. A WebRTC allocation needs
	// permissions for the remote candidates of one peer connection: a
	// handful.
	DefaultMaxPeersPerAllocation = 32
	// DefaultMaxPeersPerIP caps the distinct permitted peer IPs summed
	// over the allocations of one client address (IPv6: per /64).
	DefaultMaxPeersPerIP = 512
	// DefaultRequestRatePerIP is the authenticated TURN requests
	// (Allocate, Refresh, CreatePermission, ChannelBind) per second one
	// client address may send after a burst of DefaultRequestBurstPerIP.
	// Relayed data is not counted.
	DefaultRequestRatePerIP = 50
	// DefaultRequestBurstPerIP is the request burst of one client address:
	// many peer connections starting at once.
	DefaultRequestBurstPerIP = 400
	// DefaultMaxTCPConnections caps accepted TURN TCP and TLS connections
	// in total, well below a typical open-file limit.
	DefaultMaxTCPConnections = 1000
	// DefaultMaxTCPConnectionsPerIP caps TURN TCP and TLS connections per
	// client address (IPv6: per /64). Each carries one allocation.
	DefaultMaxTCPConnectionsPerIP = 32
	// DefaultTCPFirstMessageTimeout is how long an accepted TCP or TLS
	// connection may take to finish its TLS handshake and send its first
	// bytes.
	DefaultTCPFirstMessageTimeout = 10 * time.Second
	// DefaultTCPIdleTimeout closes a TCP or TLS connection that sent
	// nothing for this long. Longer than pion's 10-minute default
	// allocation lifetime, so a client that only refreshes keeps its
	// allocation; browsers also send consent checks every few seconds
	// during a call.
	DefaultTCPIdleTimeout = 11 * time.Minute
	// tcpWriteTimeout bounds one write to a TCP or TLS client, so a client
	// that stops reading cannot block pion's goroutines.
	tcpWriteTimeout = 10 * time.Second
	// secretSize is the length of the random per-process secret.
	secretSize = 32
	// relayPortRetries bounds the random probes for a free port when a
	// relay port range is configured.
	relayPortRetries = 32
)

// Config configures a Server. A zero field means its default.
type Config struct {
	// PacketConns are UDP sockets to serve TURN on. New takes ownership:
	// Close closes them. At least one PacketConn or Listener is required.
	PacketConns []net.PacketConn
	// Listeners accept TURN over TCP, or TURN over TLS when the caller
	// wraps a listener with tls.NewListener. Ownership as for PacketConns.
	Listeners []net.Listener

	// Realm is the TURN realm. Default DefaultRealm ("veil").
	Realm string
	// Secret is the TURN REST shared secret credentials are signed with.
	// Default: 32 random bytes per process, so credentials die with it.
	Secret []byte
	// CredentialTTL is the lifetime of credentials from
	// Server.Credentials. Default DefaultCredentialTTL (10 minutes).
	CredentialTTL time.Duration

	// RelayIP is the address put in XOR-RELAYED-ADDRESS, the address peers
	// send to. Required; not unspecified. It is also the server's own
	// relay address for PeerPolicy.Own.
	RelayIP netip.Addr
	// RelayBindIP is the address relay sockets bind to. Default: RelayIP
	// when this host can bind it, else the unspecified address of
	// RelayIP's family (0.0.0.0 or ::), the case of a public RelayIP
	// behind 1:1 NAT.
	RelayBindIP netip.Addr
	// RelayPortMin is the lowest relay port. Default 0: any free port.
	// Set together with RelayPortMax.
	RelayPortMin int
	// RelayPortMax is the highest relay port (inclusive). Default 0: any
	// free port.
	RelayPortMax int

	// SharedRelayPortMin and SharedRelayPortMax (inclusive) are ports of
	// RelayIP that other TURN servers on the same address relay from:
	// several veil nodes of one cluster on one host (README "Running
	// several nodes"). Datagrams to and from them pass as to this server's
	// own live allocations, so peers relayed by two such nodes reach each
	// other. Only ports the operator declares: never another service on
	// the host. Default none.
	SharedRelayPortMin, SharedRelayPortMax int

	// AllowPeers widens the peer policy: special-purpose addresses in
	// these prefixes may be relayed to. Default none.
	AllowPeers []netip.Prefix
	// DenyPeers narrows the peer policy and wins over AllowPeers and the
	// server's own relay address. Default none.
	DenyPeers []netip.Prefix

	// MaxAllocationsPerUser caps live allocations per peer id. Default
	// DefaultMaxAllocationsPerUser (8).
	MaxAllocationsPerUser int
	// MaxAllocations caps live allocations in total. Default
	// DefaultMaxAllocations (2000).
	MaxAllocations int

	// MaxAllocationsPerIP caps live allocations per client address (IPv4
	// address or IPv6 /64, as the TURN server sees it). Default
	// DefaultMaxAllocationsPerIP (64), and at most MaxAllocations/4.
	MaxAllocationsPerIP int
	// MaxAllocationLifetime closes an allocation this long after it was
	// created, whatever its Refreshes asked. Default
	// DefaultMaxAllocationLifetime (24 hours).
	MaxAllocationLifetime time.Duration
	// MaxPeersPerAllocation caps the distinct peer IPs one allocation may
	// get a permission (or channel) for. Default
	// DefaultMaxPeersPerAllocation (32).
	MaxPeersPerAllocation int
	// MaxPeersPerIP caps the distinct permitted peer IPs summed over one
	// client address's allocations. Default DefaultMaxPeersPerIP (512).
	MaxPeersPerIP int
	// RequestRatePerIP and RequestBurstPerIP limit authenticated TURN
	// requests per client address; over it a request gets 401 and is not
	// processed. Defaults DefaultRequestRatePerIP (50/s) and
	// DefaultRequestBurstPerIP (400).
	RequestRatePerIP, RequestBurstPerIP int
	// MaxTCPConnections caps accepted TCP and TLS connections in total.
	// Default DefaultMaxTCPConnections (1000).
	MaxTCPConnections int
	// MaxTCPConnectionsPerIP caps TCP and TLS connections per client
	// address. Default DefaultMaxTCPConnectionsPerIP (32).
	MaxTCPConnectionsPerIP int
	// TCPFirstMessageTimeout closes a TCP or TLS connection that has not
	// completed its TLS handshake and sent bytes this long after accept.
	// Default DefaultTCPFirstMessageTimeout (10 s).
	TCPFirstMessageTimeout time.Duration
	// TCPIdleTimeout closes a TCP or TLS connection that sent nothing for
	// this long. Default DefaultTCPIdleTimeout (11 minutes).
	TCPIdleTimeout time.Duration

	// Logger receives the server's own logs (counts only, never an
	// address or username) and pion's logs at debug level, scrubbed of
	// addresses, ports and user names (privacy.ScrubLog). Default
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) validate() error {
	switch {
	case len(c.PacketConns) == 0 && len(c.Listeners) == 0:
		return fmt.Errorf("%w: no PacketConns or Listeners", ErrInvalidConfig)
	case !c.RelayIP.IsValid():
		return fmt.Errorf("%w: RelayIP is required", ErrInvalidConfig)
	case c.RelayIP.IsUnspecified() || c.RelayIP.Zone() != "" || c.RelayIP.Unmap().IsMulticast():
		return fmt.Errorf("%w: RelayIP must be a specific unicast address", ErrInvalidConfig)
	case c.RelayBindIP.IsValid() && c.RelayBindIP.Unmap().Is4() != c.RelayIP.Unmap().Is4():
		return fmt.Errorf("%w: RelayBindIP and RelayIP differ in address family", ErrInvalidConfig)
	case c.CredentialTTL < 0:
		return fmt.Errorf("%w: negative CredentialTTL", ErrInvalidConfig)
	case c.MaxAllocationsPerUser < 0 || c.MaxAllocations < 0 || c.MaxAllocationsPerIP < 0:
		return fmt.Errorf("%w: negative allocation quota", ErrInvalidConfig)
	case c.MaxAllocationsPerIP > 0 && c.MaxAllocations > 0 && c.MaxAllocationsPerIP >= c.MaxAllocations:
		return fmt.Errorf("%w: MaxAllocationsPerIP must be below MaxAllocations, or one address could hold them all", ErrInvalidConfig)
	case c.MaxAllocationLifetime < 0 || c.TCPFirstMessageTimeout < 0 || c.TCPIdleTimeout < 0:
		return fmt.Errorf("%w: negative lifetime or timeout", ErrInvalidConfig)
	case c.MaxPeersPerAllocation < 0 || c.MaxPeersPerIP < 0 || c.RequestRatePerIP < 0 || c.RequestBurstPerIP < 0 ||
		c.MaxTCPConnections < 0 || c.MaxTCPConnectionsPerIP < 0:
		return fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	case (c.RelayPortMin == 0) != (c.RelayPortMax == 0):
		return fmt.Errorf("%w: set both RelayPortMin and RelayPortMax, or neither", ErrInvalidConfig)
	case c.RelayPortMin < 0 || c.RelayPortMax > 65535 || c.RelayPortMin > c.RelayPortMax:
		return fmt.Errorf("%w: bad relay port range %d-%d", ErrInvalidConfig, c.RelayPortMin, c.RelayPortMax)
	case (c.SharedRelayPortMin == 0) != (c.SharedRelayPortMax == 0) ||
		c.SharedRelayPortMin < 0 || c.SharedRelayPortMax > 65535 || c.SharedRelayPortMin > c.SharedRelayPortMax:
		return fmt.Errorf("%w: bad shared relay port range %d-%d", ErrInvalidConfig, c.SharedRelayPortMin, c.SharedRelayPortMax)
	}
	for i, pc := range c.PacketConns {
		if pc == nil {
			return fmt.Errorf("%w: PacketConns[%d] is nil", ErrInvalidConfig, i)
		}
	}
	for i, l := range c.Listeners {
		if l == nil {
			return fmt.Errorf("%w: Listeners[%d] is nil", ErrInvalidConfig, i)
		}
	}
	for _, p := range append(append([]netip.Prefix(nil), c.AllowPeers...), c.DenyPeers...) {
		if !p.IsValid() {
			return fmt.Errorf("%w: invalid peer prefix", ErrInvalidConfig)
		}
	}
	return nil
}

// normalizePrefixes unmaps IPv4-mapped prefixes (::ffff:10.0.0.0/104 becomes
// 10.0.0.0/8) and masks host bits, because PeerPolicy compares unmapped
// addresses.
func normalizePrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() {
			a, bits = a.Unmap(), max(bits-96, 0)
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	return out
}
