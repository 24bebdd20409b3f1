package turn

import (
	"net/netip"
	"slices"

	"github.com/veilrtc/veil/privacy"
)

// PeerPolicy decides which peer addresses the embedded TURN server relays to
// (privacy invariant 4, docs/THREAT-MODEL.md: never into loopback, private,
// link-local, CGNAT, multicast or unspecified space). It is a value with no
// I/O; Permit is safe for concurrent use as long as the slices are not
// modified.
type PeerPolicy struct {
	// Own lists the server's own relay addresses. They are special-purpose
	// in tests and on private deployments, yet two peers of the same
	// server relay to each other through them. Server restricts traffic
	// toward them to live relay ports, since this policy sees only IPs.
	Own []netip.Addr
	// Allow widens: special-purpose addresses inside these prefixes are
	// permitted (an operator relaying into a known private network).
	Allow []netip.Prefix
	// Deny narrows and wins over Own and Allow.
	Deny []netip.Prefix
}

// Permit reports whether peer may be relayed to. IPv4-mapped IPv6
// addresses are unmapped first, so ::ffff:127.0.0.1 is judged as
// 127.0.0.1; zoned and invalid addresses are refused.
func (p PeerPolicy) Permit(peer netip.Addr) bool {
	if !peer.IsValid() || peer.Zone() != "" {
		return false
	}
	peer = peer.Unmap()
	for _, d := range p.Deny {
		if d.Contains(peer) {
			return false
		}
	}
	if p.isOwn(peer) {
		return true
	}
	for _, a := range p.Allow {
		if a.Contains(peer) {
			return true
		}
	}
	return !privacy.IsSpecialPurpose(peer)
}

// isOwn reports whether peer (already unmapped) is one of the relay
// addresses.
func (p PeerPolicy) isOwn(peer netip.Addr) bool {
	return slices.ContainsFunc(p.Own, func(a netip.Addr) bool { return a.Unmap() == peer })
}
