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
	case c.MaxAllocationsPerUser < 0 || c.MaxAllocations < 0:
		return fmt.Errorf("%w: negative allocation quota", ErrInvalidConfig)
	case (c.RelayPortMin == 0) != (c.RelayPortMax == 0):
		return fmt.Errorf("%w: set both RelayPortMin and RelayPortMax, or neither", ErrInvalidConfig)
	case c.RelayPortMin < 0 || c.RelayPortMax > 65535 || c.RelayPortMin > c.RelayPortMax:
		return fmt.Errorf("%w: bad relay port range %d-%d", ErrInvalidConfig, c.RelayPortMin, c.RelayPortMax)
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
