package turn

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPeerPolicyPermit(t *testing.T) {
	base := PeerPolicy{Own: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}
	widened := base
	widened.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32"), netip.MustParsePrefix("10.0.0.0/8")}
	narrowed := widened
	narrowed.Deny = []netip.Prefix{
		netip.MustParsePrefix("10.9.0.0/16"),
		netip.MustParsePrefix("8.8.8.0/24"),
		netip.MustParsePrefix("127.0.0.2/32"),
	}

	for _, tc := range []struct {
		name   string
		policy PeerPolicy
		peer   string
		want   bool
	}{
		{"public v4", base, "8.8.8.8", true},
		{"public v6", base, "2606:4700::1111", true},
		{"loopback", base, "127.0.0.1", false},
		{"unspecified v4", base, "0.0.0.0", false},
		{"unspecified v6", base, "::", false},
		{"loopback v6", base, "::1", false},
		{"mapped loopback", base, "::ffff:127.0.0.1", false},
		{"cgnat", base, "100.64.0.1", false},
		{"nat64 loopback", base, "64:ff9b::7f00:1", false},
		{"private 10", base, "10.1.2.3", false},
		{"private 192.168", base, "192.168.1.1", false},
		{"private 172.16", base, "172.16.0.1", false},
		{"link-local", base, "169.254.169.254", false},
		{"multicast", base, "224.0.0.251", false},
		{"broadcast", base, "255.255.255.255", false},
		{"6to4", base, "2002:7f00:1::1", false},
		{"teredo", base, "2001:0:7f00:1::1", false},
		{"ula", base, "fd00::1", false},
		{"link-local v6", base, "fe80::1", false},
		{"zoned", base, "fe80::1%eth0", false},
		{"invalid", base, "", false},
		{"own relay address", base, "127.0.0.2", true},
		{"own relay address mapped", base, "::ffff:127.0.0.2", true},
		{"neighbour of own", base, "127.0.0.3", false},
		{"allow widens", widened, "127.0.0.3", true},
		{"allow widens prefix", widened, "10.1.2.3", true},
		{"allow does not widen others", widened, "192.168.1.1", false},
		{"deny narrows allowed", narrowed, "10.9.1.1", false},
		{"deny keeps rest of allow", narrowed, "10.8.1.1", true},
		{"deny narrows public", narrowed, "8.8.8.8", false},
		{"deny beats own", narrowed, "127.0.0.2", false},
		{"deny mapped", narrowed, "::ffff:8.8.8.8", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var peer netip.Addr
			if tc.peer != "" {
				peer = netip.MustParseAddr(tc.peer)
			}
			assert.Equal(t, tc.want, tc.policy.Permit(peer))
		})
	}
}

// TestRelayPermitted covers the per-datagram check of relay sockets, which
// pion's permission hook normally pre-empts for policy failures.
func TestRelayPermitted(t *testing.T) {
	s := &Server{policy: PeerPolicy{
		Own:  []netip.Addr{netip.MustParseAddr("127.0.0.2")},
		Deny: []netip.Prefix{netip.MustParsePrefix("198.51.0.0/16")},
	}}
	s.relays.Store(uint16(4000), &relayConn{})
	for _, tc := range []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"live relay port", udpAddr("127.0.0.2:4000"), true},
		{"live relay port mapped", udpAddr("[::ffff:127.0.0.2]:4000"), true},
		{"other port on relay address", udpAddr("127.0.0.2:4001"), false},
		{"port zero", udpAddr("127.0.0.2:0"), false},
		{"loopback at a live port", udpAddr("127.0.0.1:4000"), false},
		{"private", udpAddr("10.0.0.1:4000"), false},
		{"public", udpAddr("8.8.8.8:53"), true},
		{"denied public", udpAddr("198.51.1.1:53"), false},
		{"not udp", &net.TCPAddr{IP: net.IPv4(8, 8, 8, 8), Port: 53}, false},
		{"empty ip", &net.UDPAddr{Port: 53}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap, ok := udpAddrPort(tc.addr)
			assert.Equal(t, tc.want, ok && s.relayPermitted(ap))
		})
	}

	// Other nodes on the same relay address (SharedRelayPortMin/Max):
	// their declared ports pass, nothing else does.
	s.sharedMin, s.sharedMax = 5000, 5099
	for _, tc := range []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"shared port", udpAddr("127.0.0.2:5000"), true},
		{"last shared port", udpAddr("127.0.0.2:5099"), true},
		{"past the shared range", udpAddr("127.0.0.2:5100"), false},
		{"other port on relay address", udpAddr("127.0.0.2:4001"), false},
		{"shared port on loopback", udpAddr("127.0.0.1:5000"), false},
		{"shared port denied", udpAddr("198.51.1.1:5000"), false},
	} {
		t.Run("shared/"+tc.name, func(t *testing.T) {
			ap, ok := udpAddrPort(tc.addr)
			assert.Equal(t, tc.want, ok && s.relayPermitted(ap))
		})
	}
}
