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
