package signaling

import (
	"fmt"
	"net/netip"
	"slices"
)

// Admission and rate limiting: the configuration. The limits themselves
// run in signaling/internal/edge, the same for every protocol.

// Named defaults of the abuse limits (README configuration table). In
// Config a zero field means the default and a negative one means no limit.
const (
	// DefaultMaxConnections caps open connections in total; beyond it new
	// upgrades get 503 with Retry-After.
	DefaultMaxConnections = 10000
	// DefaultMaxConnectionsPerIP caps open connections per client address
	// (IPv6: per /64). Generous because a NAT can put an office behind one
	// address.
	DefaultMaxConnectionsPerIP = 64
	// DefaultConnectRatePerIP is how many new connections per minute one
	// client address may open once its burst is spent.
	DefaultConnectRatePerIP = 60
	// DefaultConnectBurstPerIP is how many connections one client address
	// may open at once.
	DefaultConnectBurstPerIP = 30
	// DefaultMessageRate is the sustained messages per second of one
	// connection.
	DefaultMessageRate = 50
	// DefaultMessageBurst lets a connection send this many messages at
	// once: joining a full room and offering to every member with trickled
	// candidates takes a few hundred.
	DefaultMessageBurst = 200
	// DefaultActionRate is the sustained joins, publishes and plays per
	// second of one connection.
	DefaultActionRate = 5
	// DefaultActionBurst is how many joins, publishes and plays a connection
	// may send at once.
	DefaultActionBurst = 20
	// DefaultByteRate is the sustained bytes per second one connection may
	// send.
	DefaultByteRate = 256 << 10
	// DefaultByteBurst is how many bytes one connection may send at once;
	// never below MaxMessageBytes, or a largest message could never pass.
	DefaultByteBurst = 1 << 20
	// DefaultCredentialRatePerIP is how many TURN credential sets per
	// minute one client address may fetch from /turn-credentials once its
	// burst is spent. Each set is for a fresh id; the TURN server caps
	// allocations per address as well, this keeps the sets few.
	DefaultCredentialRatePerIP = 20
	// DefaultCredentialBurstPerIP is how many credential sets one client
	// address may fetch at once: an office behind one NAT joining a
	// meeting together.
	DefaultCredentialBurstPerIP = 20
)

// withLimitDefaults fills the abuse limits' zero fields.
func (c Config) withLimitDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxConnections, DefaultMaxConnections)
	// The listener caps follow the WebSocket caps, with headroom for plain
	// requests, unless set; no WebSocket cap means no listener cap.
	def(&c.MaxHTTPConnections, httpConnCap(c.MaxConnections, httpConnHeadroom))
	def(&c.MaxHTTPConnectionsPerIP, httpConnCap(c.MaxConnectionsPerIP, c.MaxConnectionsPerIP))
	def(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	def(&c.ConnectRatePerIP, DefaultConnectRatePerIP)
	def(&c.ConnectBurstPerIP, DefaultConnectBurstPerIP)
	def(&c.MessageRate, DefaultMessageRate)
	def(&c.MessageBurst, DefaultMessageBurst)
	def(&c.ActionRate, DefaultActionRate)
	def(&c.ActionBurst, DefaultActionBurst)
	def(&c.ByteRate, DefaultByteRate)
	def(&c.CredentialRatePerIP, DefaultCredentialRatePerIP)
	def(&c.CredentialBurstPerIP, DefaultCredentialBurstPerIP)
	if c.ByteBurst == 0 {
		c.ByteBurst = max(DefaultByteBurst, c.MaxMessageBytes)
	}
	// Proxies are compared with unmapped client addresses, so unmap them
	// too; copy first, the caller's slice is not ours to rewrite.
	c.TrustedProxies = slices.Clone(c.TrustedProxies)
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			continue // validateLimits reports it
		}
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() {
			addr, bits = addr.Unmap(), max(0, bits-96)
		}
		c.TrustedProxies[i] = netip.PrefixFrom(addr.WithZone(""), bits).Masked()
	}
	if c.ListenerExempt == nil {
		trusted := c.TrustedProxies
		c.ListenerExempt = func(a netip.Addr) bool {
			return a.IsLoopback() || slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
		}
	}
	return c
}

// httpConnCap is a WebSocket cap plus headroom, or -1 (none) without one.
func httpConnCap(wsCap, headroom int) int {
	if wsCap < 0 {
		return -1
	}
	return wsCap + headroom
}

// validateLimits checks the abuse limits and access control fields.
func (c Config) validateLimits() error {
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return fmt.Errorf("%w: TrustedProxies holds an invalid prefix", errInvalidConfig)
		}
	}
	if c.ByteBurst > 0 && c.ByteBurst < c.MaxMessageBytes {
		return fmt.Errorf("%w: ByteBurst (%d) must be at least MaxMessageBytes (%d)", errInvalidConfig, c.ByteBurst, c.MaxMessageBytes)
	}
	return c.validateAuth()
}
