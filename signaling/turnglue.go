package signaling

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"github.com/veilrtc/veil/privacy"
)

// TURN is an embedded TURN server as the signaling server uses it:
// *turn.Server satisfies it. Setting Config.TURN is the one step that
// wires it in securely: every peer gets its URLs and credentials
// (ICEServers), its relays end when the peer leaves (OnPeerGone), and
// while relay is forced only its relay addresses pass
// as relay candidates (TrustedRelays). When it is also a
// prometheus.Collector, as *turn.Server is, its metrics are served by
// MetricsHandler. Implementations must be safe for concurrent use.
//
// The interface lives here, not in package turn, because turn does not
// import signaling.
type TURN interface {
	// ICEServer returns the TURN URLs of the server as reached at host and
	// credentials for peerID.
	ICEServer(host, peerID string) (urls []string, username, credential string)
	// RelayAddrs returns the addresses the server relays from.
	RelayAddrs() []netip.Addr
	// EndPeer ends the allocations made with peerID's credentials; it is
	// called once the peer has left everything. It must not block.
	EndPeer(peerID string)
}

// turnDefaults fills ICEServers and TrustedRelays from c.TURN where the
// embedder left them nil.
func (c Config) turnDefaults() Config {
	if c.TURN == nil {
		return c
	}
	if c.ICEServers == nil {
		c.ICEServers = turnICEServers(c.TURN, c.TURNHost)
	}
	if c.TrustedRelays == nil {
		c.TrustedRelays = trustedRelays(c.TURN.RelayAddrs())
	}
	if c.OnPeerGone == nil {
		c.OnPeerGone = c.TURN.EndPeer
	}
	return c
}

// validateTURN refuses a forced relay policy with an embedded TURN server
// whose relay addresses are unknown: any "typ relay" address would pass.
func (c Config) validateTURN() error {
	if c.TURN != nil && c.Policy.Relay != privacy.RelayOff && len(c.TURN.RelayAddrs()) == 0 {
		return fmt.Errorf("%w: relay is filtered but Config.TURN names no relay address", errInvalidConfig)
	}
	return nil
}

// turnICEServers hands each peer t's URLs at host (default: the host the
// client reached the signaling server at, without its port) and
// credentials for the peer's id.
func turnICEServers(t TURN, host string) ICEServerFunc {
	return func(r *http.Request, peerID string) []ICEServer {
		h := host
		if h == "" {
			h = r.Host
			if hh, _, err := net.SplitHostPort(r.Host); err == nil {
				h = hh
			}
		}
		urls, user, cred := t.ICEServer(h, peerID)
		return []ICEServer{{URLs: urls, Username: user, Credential: cred}}
	}
}

// trustedRelays accepts exactly the addresses in own, unmapped.
func trustedRelays(own []netip.Addr) func(netip.Addr) bool {
	set := make([]netip.Addr, 0, len(own))
	for _, a := range own {
		set = append(set, a.Unmap())
	}
	return func(a netip.Addr) bool { return slices.Contains(set, a.Unmap()) }
}
