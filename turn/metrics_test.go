package turn

import (
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gather scrapes reg into family name -> "label=value" (or "") -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := make(map[string]map[string]float64)
	for _, mf := range mfs {
		series := make(map[string]float64)
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key = l.GetName() + "=" + l.GetValue()
			}
			series[key] = m.GetCounter().GetValue()
			if g := m.GetGauge(); g != nil {
				series[key] = g.GetValue()
			}
		}
		out[mf.GetName()] = series
	}
	return out
}

// TestServerIsACollector: a Server registers in any registry and reports
// its Stats at scrape time, so an embedder's /metrics shows what veil's does.
func TestServerIsACollector(t *testing.T) {
	ts := startServer(t, nil)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(ts.srv))

	allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer-a")))

	m := gather(t, reg)
	assert.Equal(t, map[string]float64{"transport=udp": 1, "transport=tcp": 0, "transport=tls": 0},
		m["veil_turn_allocations"], "read from Stats at scrape time")
	assert.Equal(t, map[string]float64{"transport=udp": 1, "transport=tcp": 0, "transport=tls": 0},
		m["veil_turn_allocations_total"])
	assert.Len(t, m["veil_turn_refused_total"], len(RefusalReasons), "one series per refusal reason")
	assert.Len(t, m["veil_turn_relayed_packets_total"], 2, "one series per direction")
	assert.Len(t, m["veil_turn_relayed_bytes_total"], 2, "one series per direction")
}

// TestMetricsCountRelayedTraffic: real pion TURN clients over UDP, TCP and
// TLS each allocate and exchange datagrams with a peer on loopback; the
// metrics count the allocations by transport and the relayed datagrams and
// bytes by direction, and keep counting what a closed allocation relayed.
func TestMetricsCountRelayedTraffic(t *testing.T) {
	const (
		toPeer, toPeerSize     = 5, 100
		fromPeer, fromPeerSize = 3, 50
	)
	serverTLS, pool := testTLS(t)
	tlsLn, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	ts := startServer(t, func(c *Config) {
		c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Listeners = append(c.Listeners, tls.NewListener(tlsLn, serverTLS))
	})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(ts.srv))
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer peer.Close()

	tcpConn, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	tlsConn, err := tls.Dial("tcp4", tlsLn.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "turn.test", MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	relays := []net.PacketConn{
		allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer-udp"))),
		allocate(t, startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(tcpConn), ts.srv.Credentials("peer-tcp"))),
		allocate(t, startClient(t, tlsLn.Addr().String(), pionturn.NewSTUNConn(tlsConn), ts.srv.Credentials("peer-tls"))),
	}

	buf := make([]byte, 1500)
	for _, relay := range relays {
		for range toPeer {
			_, err := relay.WriteTo(make([]byte, toPeerSize), peer.LocalAddr())
			require.NoError(t, err)
			require.NoError(t, peer.SetReadDeadline(time.Now().Add(expectTimeout)))
			n, _, err := peer.ReadFrom(buf)
			require.NoError(t, err)
			require.Equal(t, toPeerSize, n)
		}
		for range fromPeer {
			_, err := peer.WriteTo(make([]byte, fromPeerSize), relay.LocalAddr())
			require.NoError(t, err)
			require.NoError(t, relay.SetReadDeadline(time.Now().Add(expectTimeout)))
			n, _, err := relay.ReadFrom(buf)
			require.NoError(t, err)
			require.Equal(t, fromPeerSize, n)
		}
	}

	each := map[string]float64{"transport=udp": 1, "transport=tcp": 1, "transport=tls": 1}
	relayed := map[string]map[string]float64{
		"veil_turn_relayed_packets_total": {"direction=to_peer": 3 * toPeer, "direction=from_peer": 3 * fromPeer},
		"veil_turn_relayed_bytes_total":   {"direction=to_peer": 3 * toPeer * toPeerSize, "direction=from_peer": 3 * fromPeer * fromPeerSize},
	}
	// A datagram to the peer is counted once the server's write returned,
	// which can be after the peer read it.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		m := gather(t, reg)
		for name, want := range relayed {
			assert.Equal(c, want, m[name], name)
		}
	}, expectTimeout, 10*time.Millisecond)
	m := gather(t, reg)
	assert.Equal(t, each, m["veil_turn_allocations"])
	assert.Equal(t, each, m["veil_turn_allocations_total"])

	// A closed allocation's traffic stays counted.
	require.NoError(t, relays[0].Close())
	require.Eventually(t, func() bool { return ts.srv.Stats().AllocationsActive == 2 }, expectTimeout, 10*time.Millisecond)
	m = gather(t, reg)
	assert.Equal(t, map[string]float64{"transport=udp": 0, "transport=tcp": 1, "transport=tls": 1}, m["veil_turn_allocations"])
	assert.Equal(t, each, m["veil_turn_allocations_total"])
	for name, want := range relayed {
		assert.Equal(t, want, m[name], name)
	}
}
