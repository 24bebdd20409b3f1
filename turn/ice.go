package turn

import (
	"crypto/tls"
	"net"
	"net/netip"
	"reflect"
)

// tlsListenerType is the type tls.NewListener returns, to tell which
// Listeners serve TURN over TLS (turns:). Building one does no I/O.
var tlsListenerType = reflect.TypeOf(tls.NewListener(nil, &tls.Config{}))

// icePorts are the ports the server's URLs name: the first UDP socket, the
// first plain TCP listener and the first TLS listener; 0 when absent.
type icePorts struct{ udp, tcp, tls int }

// portsOf finds the ports of the sockets a Server is given.
func portsOf(pcs []net.PacketConn, ls []net.Listener) icePorts {
	var p icePorts
	for _, pc := range pcs {
		if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && p.udp == 0 {
			p.udp = a.Port
		}
	}
	for _, l := range ls {
		a, ok := l.Addr().(*net.TCPAddr)
		switch {
		case !ok:
		case reflect.TypeOf(l) == tlsListenerType:
			if p.tls == 0 {
				p.tls = a.Port
			}
		case p.tcp == 0:
			p.tcp = a.Port
		}
	}
	return p
}

// ICEServer returns what a WebRTC peer needs to use this server when it
// reaches it at host: the TURN URLs of every transport the server serves
// (ICEURLs: the port of the first UDP socket, of the first TCP listener and
// of the first listener made by tls.NewListener, served as turns:), and
// TURN REST credentials for peerID valid for CredentialTTL. It is the
// method signaling.Config.TURN calls for each peer. Safe for concurrent
// use.
func (s *Server) ICEServer(host, peerID string) (urls []string, username, credential string) {
	c := s.Credentials(peerID)
	return ICEURLs(host, s.ports.udp, s.ports.tcp, s.ports.tls), c.Username, c.Password
}

// RelayAddrs returns the addresses the server relays from (RelayIP).
// Safe for concurrent use.
func (s *Server) RelayAddrs() []netip.Addr { return []netip.Addr{s.relayIP} }

// IsRelayAddr reports whether a (IPv4-mapped addresses unmapped) is the
// UDP relay transport address of a live allocation: RelayIP and the port
// of a relay socket this server allocated and has not closed. Only such a
// relay candidate really leads to this relay; a signaling server that
// forces relay lets no other through (signaling.Config.TURN). An
// allocation that has ended (expired, refreshed to zero, ended with its
// peer, past MaxAllocationLifetime) no longer counts. Safe for concurrent
// use.
func (s *Server) IsRelayAddr(a netip.AddrPort) bool {
	if a.Addr().Unmap() != s.relayIP || a.Port() == 0 {
		return false
	}
	_, live := s.relays.Load(a.Port())
	return live
}
