package turn

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestICEServer: the URLs name the server's own ports per transport (a
// tls.NewListener listener as turns:), and the credentials allocate.
func TestICEServer(t *testing.T) {
	tlsLn, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	ts := startServer(t, func(c *Config) {
		c.Listeners = append(c.Listeners, tls.NewListener(tlsLn, &tls.Config{MinVersion: tls.VersionTLS12}))
	})
	port := func(addr string) string {
		_, p, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		return p
	}
	urls, user, pass := ts.srv.ICEServer("turn.example", "peer-ice")
	assert.Equal(t, []string{
		"turn:turn.example:" + port(ts.udpAddr) + "?transport=udp",
		"turn:turn.example:" + port(ts.tcpAddr) + "?transport=tcp",
		"turns:turn.example:" + strconv.Itoa(tlsLn.Addr().(*net.TCPAddr).Port) + "?transport=tcp",
	}, urls)
	allocate(t, newClient(t, ts.udpAddr, Credentials{Username: user, Password: pass}))
	assert.Equal(t, []netip.Addr{testRelayIP}, ts.srv.RelayAddrs())
}

// TestIsRelayAddr: only the relay transport address of a live allocation
// counts, not another port on the relay IP, and not once the allocation
// has ended.
func TestIsRelayAddr(t *testing.T) {
	ts := startServer(t, nil)
	c := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-relayaddr"))
	relay := allocate(t, c)
	ap := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	require.Equal(t, testRelayIP, ap.Addr().Unmap())
	other := netip.AddrPortFrom(ap.Addr(), ap.Port()^1)

	assert.True(t, ts.srv.IsRelayAddr(ap), "live allocation")
	assert.True(t, ts.srv.IsRelayAddr(netip.AddrPortFrom(netip.AddrFrom16(testRelayIP.As16()), ap.Port())), "IPv4-mapped")
	assert.False(t, ts.srv.IsRelayAddr(other), "a port no allocation holds")
	assert.False(t, ts.srv.IsRelayAddr(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())), "another IP")
	assert.False(t, ts.srv.IsRelayAddr(netip.AddrPortFrom(testRelayIP, 0)), "port zero")

	ts.srv.EndPeer("peer-relayaddr")
	assert.False(t, ts.srv.IsRelayAddr(ap), "ended allocation")
}
