package turn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wellBehavedPair allocates for two peers on their own addresses
// (127.0.0.3 and 127.0.0.4), lets them permit each other and exchanges a
// datagram each way: what must keep working next to a hostile client.
func wellBehavedPair(t *testing.T, ts *testServer, tcp bool) {
	t.Helper()
	var ca *pionturn.Client
	if tcp {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
		conn, err := d.Dial("tcp4", ts.tcpAddr)
		require.NoError(t, err)
		ca = startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(conn), ts.srv.Credentials("good-a"))
	} else {
		ca = newClientFrom(t, "127.0.0.3", ts.udpAddr, ts.srv.Credentials("good-a"))
	}
	cb := newClientFrom(t, "127.0.0.4", ts.udpAddr, ts.srv.Credentials("good-b"))
	a, b := allocate(t, ca), allocate(t, cb)
	require.NoError(t, ca.CreatePermission(b.LocalAddr()))
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	exchange(t, a, b, "good a to b")
	exchange(t, b, a, "good b to a")
}

// TestAllocationsCappedPerClientAddress: one address holding many
// credential sets (a fresh peer id each, as /turn-credentials mints them)
// gets MaxAllocationsPerIP allocations, never the pool, and a pair on other
// addresses still connects.
func TestAllocationsCappedPerClientAddress(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxAllocations = 20 }) // per-IP default: 20/4 = 5
	const credentialSets = 30
	got := 0
	for i := range credentialSets {
		creds := ts.srv.Credentials("hostile-" + string(rune('a'+i)))
		relay, err := newClient(t, ts.udpAddr, creds).Allocate()
		if err != nil {
			assert.Equal(t, int(stun.CodeAllocQuotaReached), turnErrorCode(t, err))
			continue
		}
		t.Cleanup(func() { _ = relay.Close() })
		got++
	}
	assert.Equal(t, 5, got, "allocations from one address")
	st := ts.srv.Stats()
	// At least: a retransmitted Allocate (a loaded machine) is refused again.
	assert.GreaterOrEqual(t, st.Refused[ReasonAllocationsPerIP], uint64(credentialSets-5))
	assert.Equal(t, 5, st.AllocationsActive)

	wellBehavedPair(t, ts, false)
}

// TestPermissionFloodCapped: one allocation gets at most
// MaxPeersPerAllocation distinct peers, one address at most MaxPeersPerIP
// over its allocations; known peers still refresh; others connect.
func TestPermissionFloodCapped(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.AllowPeers = []netip.Prefix{benchPrefix}
		c.MaxPeersPerAllocation = 8
		c.MaxPeersPerIP = 12
	})
	c1 := newClient(t, ts.udpAddr, ts.srv.Credentials("flood-1"))
	allocate(t, c1)
	ok := 0
	for i := range 100 {
		if err := c1.CreatePermission(benchPeer(i)); err != nil {
			assert.Equal(t, int(stun.CodeForbidden), turnErrorCode(t, err))
			continue
		}
		ok++
	}
	assert.Equal(t, 8, ok, "distinct peers of one allocation")
	require.NoError(t, c1.CreatePermission(benchPeer(0)), "a known peer refreshes")

	c2 := newClient(t, ts.udpAddr, ts.srv.Credentials("flood-2"))
	allocate(t, c2)
	ok = 0
	for i := range 100 {
		if c2.CreatePermission(benchPeer(1000+i)) == nil {
			ok++
		}
	}
	assert.Equal(t, 4, ok, "distinct peers left for the address")
	st := ts.srv.Stats()
	assert.EqualValues(t, 92, st.Refused[ReasonPeersPerAllocation])
	assert.EqualValues(t, 96, st.Refused[ReasonPeersPerIP])

	wellBehavedPair(t, ts, false)
}

// TestAllocationLifetimeCapped: Refresh may ask for an hour, the
// allocation still ends at MaxAllocationLifetime.
func TestAllocationLifetimeCapped(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxAllocationLifetime = 1500 * time.Millisecond })
	creds := ts.srv.Credentials("peer-life")
	ca := newClient(t, ts.udpAddr, creds)
	a := allocate(t, ca)
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)
	require.NoError(t, ca.CreatePermission(b.LocalAddr()))
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	assert.Zero(t, refresh(t, ca, ts.udpAddr, creds, 3599*time.Second))
	exchange(t, b, a, "before the cap")

	require.Eventually(t, func() bool { return ts.srv.Stats().AllocationsActive == 0 },
		3*time.Second, 20*time.Millisecond)
	assert.EqualValues(t, 2, ts.srv.Stats().AllocationsLifetimeEnded)
	// pion deleted the allocations, and nothing is relayed any more.
	require.Eventually(t, func() bool { return ts.srv.pion.AllocationCount() == 0 },
		expectTimeout, 10*time.Millisecond)
	_, err := b.WriteTo([]byte("after the cap"), a.LocalAddr())
	require.NoError(t, err)
	assertSilent(t, a)
}

// TestEndPeerClosesItsAllocations: EndPeer closes a peer's allocations,
// refuses it new ones, and leaves other peers alone.
func TestEndPeerClosesItsAllocations(t *testing.T) {
	ts := startServer(t, nil)
	gone := ts.srv.Credentials("peer-gone")
	allocate(t, newClient(t, ts.udpAddr, gone))
	allocate(t, newClient(t, ts.udpAddr, gone))
	wellBehavedPair(t, ts, false)
	require.Equal(t, 4, ts.srv.Stats().AllocationsActive)

	ts.srv.EndPeer("peer-gone")
	assert.Equal(t, 2, ts.srv.Stats().AllocationsActive)
	require.Eventually(t, func() bool { return ts.srv.pion.AllocationCount() == 2 },
		expectTimeout, 10*time.Millisecond, "pion deleted them too")
	assert.EqualValues(t, 2, ts.srv.Stats().AllocationsPeerEnded)
	_, err := newClient(t, ts.udpAddr, gone).Allocate()
	require.Error(t, err, "an ended peer allocates again")
	assert.Equal(t, int(stun.CodeAllocQuotaReached), turnErrorCode(t, err))
	assert.EqualValues(t, 1, ts.srv.Stats().Refused[ReasonPeerEnded])
}

// TestRequestRatePerAddress: authenticated requests over the per-address
// rate are refused; another address is not affected; requests that fail
// MESSAGE-INTEGRITY (as a sender forging the address would send) do not
// spend the address's budget.
func TestRequestRatePerAddress(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.RequestRatePerIP = 1
		c.RequestBurstPerIP = 6
	})
	forged := NewCredentials([]byte("not-the-secret"), "forger", time.Hour, time.Now())
	for range 20 {
		_, err := newClient(t, ts.udpAddr, forged).Allocate()
		require.Error(t, err)
	}
	assert.Zero(t, ts.srv.Stats().Refused[ReasonRequestRate], "forged requests spent nothing")

	failed := 0
	for i := range 10 {
		relay, err := newClient(t, ts.udpAddr, ts.srv.Credentials("rate-"+string(rune('a'+i)))).Allocate()
		if err != nil {
			failed++
			continue
		}
		t.Cleanup(func() { _ = relay.Close() })
	}
	assert.Positive(t, failed, "some allocations over the rate")
	assert.Positive(t, ts.srv.Stats().Refused[ReasonRequestRate])
	// The pair needs 4 requests per address; its addresses are fresh.
	wellBehavedPair(t, ts, false)
}

// TestForgedRequestsKeepNoState: requests that fail their integrity check,
// from many source addresses (a UDP sender can forge them), make no entry
// in the per-address table, so they cannot fill it and lock new clients
// out; an authenticated request does make one.
func TestForgedRequestsKeepNoState(t *testing.T) {
	ts := startServer(t, nil)
	forged := NewCredentials([]byte("not-the-secret"), "forger", time.Hour, time.Now())
	for i := range 20 {
		_, err := newClientFrom(t, fmt.Sprintf("127.0.3.%d", i+1), ts.udpAddr, forged).Allocate()
		require.Error(t, err)
	}
	assert.Zero(t, ts.srv.Stats().TrackedIPs, "forged requests left state behind")
	relay, err := newClientFrom(t, "127.0.3.100", ts.udpAddr, ts.srv.Credentials("good-peer")).Allocate()
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })
	assert.Equal(t, 1, ts.srv.Stats().TrackedIPs)
}

// TestTCPIdleFloodThenAllocate: hundreds of TCP connections that never
// send a byte hit the per-address cap, are closed after the first-message
// timeout, and a client on another address allocates over TCP meanwhile.
func TestTCPIdleFloodThenAllocate(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxTCPConnections = 40
		c.MaxTCPConnectionsPerIP = 20
		c.TCPFirstMessageTimeout = 500 * time.Millisecond
	})
	const flood = 300
	conns := make([]net.Conn, 0, flood)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range flood {
		c, err := net.Dial("tcp4", ts.tcpAddr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return ts.srv.Stats().Refused[ReasonTCPPerIP] == flood-20 },
		expectTimeout, 10*time.Millisecond)
	assert.LessOrEqual(t, ts.srv.Stats().TCPConnections, 20)

	wellBehavedPair(t, ts, true)

	// The idle ones are closed by the server: a read sees EOF.
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(expectTimeout)))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF)
	}
	require.Eventually(t, func() bool { return ts.srv.Stats().TCPConnections == 1 },
		expectTimeout, 10*time.Millisecond, "only the well-behaved TCP client is left")
	assert.EqualValues(t, 20, ts.srv.Stats().TCPFirstMessageTimeouts)

	// Once its idle connections are gone, the flooding address may
	// allocate over TCP again.
	conn, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	allocate(t, startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(conn), ts.srv.Credentials("after-flood")))
}

// TestTCPTotalCap: past MaxTCPConnections every address is refused until
// connections close.
func TestTCPTotalCap(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxTCPConnections = 10
		c.MaxTCPConnectionsPerIP = 5
	})
	var conns []net.Conn
	for i := range 10 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i/5+1))}}
		c, err := d.Dial("tcp4", ts.tcpAddr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return ts.srv.Stats().TCPConnections == 10 }, expectTimeout, 10*time.Millisecond)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}
	extra, err := d.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	defer extra.Close()
	require.NoError(t, extra.SetReadDeadline(time.Now().Add(expectTimeout)))
	_, err = extra.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "refused over the total cap")
	assert.EqualValues(t, 1, ts.srv.Stats().Refused[ReasonTCPTotal])

	for _, c := range conns {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return ts.srv.Stats().TCPConnections == 0 }, expectTimeout, 10*time.Millisecond)
	wellBehavedPair(t, ts, true)
}

// TestTLSWithoutClientHelloClosed: a TLS connection that never sends a
// ClientHello is closed at the first-message timeout; a real TLS client
// then allocates.
func TestTLSWithoutClientHelloClosed(t *testing.T) {
	serverTLS, pool := testTLS(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	ts := startServer(t, func(c *Config) {
		c.Listeners = []net.Listener{tls.NewListener(ln, serverTLS)}
		c.TCPFirstMessageTimeout = 300 * time.Millisecond
	})
	addr := ln.Addr().String()

	silent, err := net.Dial("tcp4", addr)
	require.NoError(t, err)
	defer silent.Close()
	start := time.Now()
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(expectTimeout)))
	_, err = silent.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	assert.Less(t, time.Since(start), expectTimeout, "closed by the server, not the test's deadline")
	require.Eventually(t, func() bool { return ts.srv.Stats().TCPFirstMessageTimeouts == 1 },
		expectTimeout, 10*time.Millisecond)

	conn, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: pool, ServerName: "turn.test", MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	c := startClient(t, addr, pionturn.NewSTUNConn(conn), ts.srv.Credentials("peer-tls"))
	allocate(t, c)
}

// TestTCPIdleTimeout: a connection that spoke and then went silent is
// closed after TCPIdleTimeout; its allocation goes with it.
func TestTCPIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPIdleTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	allocate(t, startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(conn), ts.srv.Credentials("quiet")))
	require.Equal(t, 1, ts.srv.Stats().AllocationsActive)
	require.Eventually(t, func() bool {
		st := ts.srv.Stats()
		return st.TCPIdleTimeouts == 1 && st.TCPConnections == 0 && st.AllocationsActive == 0
	}, 3*time.Second, 20*time.Millisecond)
}

// TestTCPDribbleHitsFirstMessageDeadline: a connection that sends its
// first message a byte at a time does not move the first-message deadline;
// it is closed when that deadline passes, not after the idle timeout.
func TestTCPDribbleHitsFirstMessageDeadline(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TCPFirstMessageTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	// A STUN Binding request header announcing 8 bytes of attributes,
	// sent one byte every 100 ms: never whole within the deadline.
	msg := []byte{0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42}
	for _, b := range msg {
		if _, err := conn.Write([]byte{b}); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		st := ts.srv.Stats()
		return st.TCPFirstMessageTimeouts == 1 && st.TCPConnections == 0
	}, 3*time.Second, 20*time.Millisecond)
}

// flakyListener fails its first Accepts with EMFILE, as a listener does
// when the process is out of file descriptors.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestAcceptSurvivesTemporaryErrors: after Accept fails (EMFILE), TURN
// over TCP keeps serving.
func TestAcceptSurvivesTemporaryErrors(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	fl := &flakyListener{Listener: ln}
	fl.fails.Store(5)
	ts := startServer(t, func(c *Config) { c.Listeners = []net.Listener{fl} })
	wellBehavedPair(t, ts, true)
	assert.EqualValues(t, 5, ts.srv.Stats().AcceptErrors)
}

func TestIPKeyOf(t *testing.T) {
	s := &Server{}
	_, _ = rand.Read(s.ipSalt[:])
	key := func(a string) ipKey { return s.ipKeyOf(net.UDPAddrFromAddrPort(netip.MustParseAddrPort(a))) }
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"same IPv4, other port", "192.0.2.1:1000", "192.0.2.1:2000", true},
		{"other IPv4", "192.0.2.1:1000", "192.0.2.2:1000", false},
		{"IPv4-mapped is IPv4", "[::ffff:192.0.2.1]:1000", "192.0.2.1:1000", true},
		{"same IPv6 /64", "[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff::9]:1000", true},
		{"other IPv6 /64", "[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.same, key(tc.a) == key(tc.b))
		})
	}
	tcp := s.ipKeyOf(&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5})
	assert.Equal(t, key("192.0.2.1:7"), tcp, "TCP and UDP share the account")
	other := &Server{}
	_, _ = rand.Read(other.ipSalt[:])
	assert.NotEqual(t, key("192.0.2.1:7"), other.ipKeyOf(&net.TCPAddr{IP: net.ParseIP("192.0.2.1")}), "keys are salted per server")
}

// testTLS returns a server TLS config with a fresh self-signed certificate
// for "turn.test" and a pool trusting it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "turn.test"},
		DNSNames:     []string{"turn.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}

// TestEndedRecordOverflowFailsSecure: when more peers end within one
// credential lifetime than the record of ended peers holds, no ended
// peer's credentials allocate again (an attack once got a closed peer's
// credentials to allocate by overflowing it): every credential issued
// until the overflow stops allocating, and credentials issued after it
// still work.
func TestEndedRecordOverflowFailsSecure(t *testing.T) {
	defer func(n int) { maxEndedPeers = n }(maxEndedPeers)
	maxEndedPeers = 3
	ts := startServer(t, nil)
	var creds []Credentials
	for i := range 5 {
		creds = append(creds, ts.srv.Credentials(fmt.Sprintf("churn-%d", i)))
	}
	live := ts.srv.Credentials("still-connected")
	for i := range 5 {
		ts.srv.EndPeer(fmt.Sprintf("churn-%d", i))
	}
	require.EqualValues(t, 1, ts.srv.Stats().EndedRecordOverflows)
	for i, c := range creds {
		_, err := newClient(t, ts.udpAddr, c).Allocate()
		require.Error(t, err, "ended peer %d allocates again", i)
	}
	// A peer still connected at the overflow needs new credentials.
	_, err := newClient(t, ts.udpAddr, live).Allocate()
	require.Error(t, err)
	assert.Equal(t, int(stun.CodeUnauthorized), turnErrorCode(t, err))
	assert.Positive(t, ts.srv.Stats().Refused[ReasonPeerEnded])

	// Credentials issued after the overflow (its second, rounded, is
	// refused too) allocate.
	time.Sleep(1100 * time.Millisecond)
	allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("still-connected")))
	wellBehavedPair(t, ts, false)
}
