package signaling

import (
	"net"
	"net/http"
	"net/netip"
)

// TURN is an embedded TURN server as the signaling server uses it:
// *turn.Server satisfies it. Setting Config.TURN is the one step that
// wires it in securely: every peer gets its URLs and credentials
// (ICEServers), its relays end when the peer leaves (OnPeerGone), and
// while relay is forced only relay candidates at the relay transport
// address of one of its live allocations pass (TrustedRelays). When it is also a
// prometheus.Collector, as *turn.Server is, its metrics are served by
// MetricsHandler. Implementations must be safe for concurrent use.
//
// The interface lives here, not in package turn, because turn does not
// import signaling.
type TURN interface {
	// ICEServer returns the TURN URLs of the server as reached at host and
	// credentials for peerID.
	ICEServer(host, peerID string) (urls []string, username, credential string)
	// IsRelayAddr reports whether a is the UDP relay transport address
	// (relay IP and port) of a live allocation on the server.
	IsRelayAddr(a netip.AddrPort) bool
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
		c.TrustedRelays = c.TURN.IsRelayAddr
	}
	if c.OnPeerGone == nil {
		c.OnPeerGone = c.TURN.EndPeer
	}
	return c
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
