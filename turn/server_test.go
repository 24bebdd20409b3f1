package turn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testSecret  = []byte("test-secret-test-secret-test-sec")
	testRelayIP = netip.MustParseAddr("127.0.0.2")
	discardLog  = slog.New(slog.DiscardHandler)
)

// How long a test waits for a datagram it expects, and listens for one it
// must not get. Generous: these are correctness tests on loopback.
const (
	expectTimeout  = 2 * time.Second
	silenceTimeout = 500 * time.Millisecond
)

type testServer struct {
	srv     *Server
	udpAddr string
	tcpAddr string
}

// startServer runs a Server on 127.0.0.1 (UDP and TCP) relaying on
// 127.0.0.2; mod adjusts the Config first.
func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{
		PacketConns: []net.PacketConn{pc},
		Listeners:   []net.Listener{ln},
		Secret:      testSecret,
		RelayIP:     testRelayIP,
		Logger:      discardLog,
	}
	if mod != nil {
		mod(&cfg)
	}
	if len(cfg.Listeners) == 0 || cfg.Listeners[0] != ln {
		require.NoError(t, ln.Close()) // mod brought its own
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	ts := &testServer{srv: srv, udpAddr: pc.LocalAddr().String()}
	if len(cfg.Listeners) > 0 {
		ts.tcpAddr = cfg.Listeners[0].Addr().String()
	}
	return ts
}

// newClient returns a listening pion TURN client over UDP.
func newClient(t *testing.T, server string, creds Credentials) *pionturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	return startClient(t, server, conn, creds)
}

// benchPrefix (RFC 2544 benchmarking, special-purpose) is allowed in tests
// that need many distinct peer IPs: creating a permission sends nothing.
var benchPrefix = netip.MustParsePrefix("198.18.0.0/15")

// benchPeer returns the i-th peer address in benchPrefix.
func benchPeer(i int) *net.UDPAddr {
	return &net.UDPAddr{IP: net.IPv4(198, 18, byte(i>>8), byte(i)), Port: 9}
}

// newClientFrom returns a listening pion TURN client over UDP from a given
// loopback address, so tests can play several client addresses.
func newClientFrom(t *testing.T, ip, server string, creds Credentials) *pionturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", ip+":0")
	require.NoError(t, err)
	return startClient(t, server, conn, creds)
}

func startClient(t *testing.T, server string, conn net.PacketConn, creds Credentials) *pionturn.Client {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       creds.Username,
		Password:       creds.Password,
		Realm:          DefaultRealm,
		LoggerFactory:  pionLoggerFactory{log: discardLog},
	})
	require.NoError(t, err)
	require.NoError(t, c.Listen())
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})
	return c
}

func allocate(t *testing.T, c *pionturn.Client) net.PacketConn {
	t.Helper()
	relay, err := c.Allocate()
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

func udpAddr(s string) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s))
}

// exchange writes msg from one relay to another until it arrives: the
// first datagram can race the permission and channel set-up.
func exchange(t *testing.T, from, to net.PacketConn, msg string) {
	t.Helper()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(expectTimeout)
	for time.Now().Before(deadline) {
		_, err := from.WriteTo([]byte(msg), to.LocalAddr())
		require.NoError(t, err)
		require.NoError(t, to.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		n, src, err := to.ReadFrom(buf)
		if err == nil {
			assert.Equal(t, msg, string(buf[:n]))
			assert.Equal(t, from.LocalAddr().String(), src.String())
			return
		}
	}
	t.Fatalf("%q never arrived", msg)
}

// assertSilent fails if l receives anything within silenceTimeout.
func assertSilent(t *testing.T, l net.PacketConn) {
	t.Helper()
	require.NoError(t, l.SetReadDeadline(time.Now().Add(silenceTimeout)))
	n, _, err := l.ReadFrom(make([]byte, 1500))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "received %d bytes, err %v", n, err)
}

func turnErrorCode(t *testing.T, err error) int {
	t.Helper()
	var te *stun.TurnError
	require.ErrorAs(t, err, &te)
	return int(te.ErrorCodeAttr.Code)
}

func TestAllocateAndRelayToRelay(t *testing.T) {
	ts := startServer(t, nil)
	a := allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer-a")))
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)

	ra := a.LocalAddr().(*net.UDPAddr)
	assert.Equal(t, "127.0.0.2", ra.IP.String(), "XOR-RELAYED-ADDRESS is RelayIP")

	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	exchange(t, a, b, "hello b")
	exchange(t, b, a, "hello a")

	st := ts.srv.Stats()
	assert.Equal(t, 2, st.AllocationsActive)
	assert.EqualValues(t, 2, st.AllocationsTotal)
	assert.Zero(t, st.AuthFailures)
}

func TestAllocateOverTCP(t *testing.T) {
	ts := startServer(t, nil)
	tcp, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	ct := startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(tcp), ts.srv.Credentials("peer-tcp"))
	a := allocate(t, ct)
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	exchange(t, a, b, "over tcp")

	// RFC 6062 TCP relay allocations are refused.
	tcp2, err := net.Dial("tcp4", ts.tcpAddr)
	require.NoError(t, err)
	_, err = startClient(t, ts.tcpAddr, pionturn.NewSTUNConn(tcp2), ts.srv.Credentials("peer-tcp2")).AllocateTCP()
	require.Error(t, err)

	// Close with a live TCP connection and allocation returns.
	require.NoError(t, ts.srv.Close())
}

func TestAllocateRefusesBadCredentials(t *testing.T) {
	ts := startServer(t, nil)
	now := time.Now()
	good := NewCredentials(testSecret, "peer", time.Minute, now)
	for _, tc := range []struct {
		name  string
		creds Credentials
	}{
		{"forged password", Credentials{Username: good.Username, Password: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
		{"other secret", NewCredentials([]byte("another secret"), "peer", time.Minute, now)},
		{"expired", NewCredentials(testSecret, "peer", -time.Minute, now)},
		{"username without expiry", Credentials{Username: "peer", Password: credentialPassword(testSecret, "peer")}},
		{"extended expiry", Credentials{Username: "9999999999:peer", Password: good.Password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.srv.Stats().AuthFailures
			_, err := newClient(t, ts.udpAddr, tc.creds).Allocate()
			require.Error(t, err)
			assert.Greater(t, ts.srv.Stats().AuthFailures, before)
		})
	}
	assert.Zero(t, ts.srv.Stats().AllocationsTotal)

	// Control: the valid credentials do allocate.
	allocate(t, newClient(t, ts.udpAddr, good))
}

// refresh sends a Refresh request on c's 5-tuple, authenticated with
// creds, and returns the error code (0 on success).
func refresh(t *testing.T, c *pionturn.Client, server string, creds Credentials, lifetime time.Duration) int {
	t.Helper()
	to := udpAddr(server)
	lt := make([]byte, 4)
	binary.BigEndian.PutUint32(lt, uint32(lifetime/time.Second))
	lifetimeAttr := stun.RawAttribute{Type: stun.AttrLifetime, Value: lt}
	refreshType := stun.NewType(stun.MethodRefresh, stun.ClassRequest)

	// The first, unauthenticated, request fetches a nonce.
	res, err := c.PerformTransaction(stun.MustBuild(stun.TransactionID, refreshType, lifetimeAttr, stun.Fingerprint), to, false)
	require.NoError(t, err)
	var nonce stun.Nonce
	require.NoError(t, nonce.GetFrom(res.Msg))

	res, err = c.PerformTransaction(stun.MustBuild(stun.TransactionID, refreshType, lifetimeAttr,
		stun.NewUsername(creds.Username), stun.NewRealm(DefaultRealm), nonce,
		stun.NewLongTermIntegrity(creds.Username, DefaultRealm, creds.Password), stun.Fingerprint), to, false)
	require.NoError(t, err)
	if res.Msg.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var code stun.ErrorCodeAttribute
	require.NoError(t, code.GetFrom(res.Msg))
	return int(code.Code)
}

func TestSessionOutlivesUsernameExpiry(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AllowPeers = []netip.Prefix{benchPrefix} })
	short := NewCredentials(testSecret, "peer-long", 2*time.Second, time.Now())
	ca := newClient(t, ts.udpAddr, short)
	a := allocate(t, ca)
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)
	require.NoError(t, ca.CreatePermission(b.LocalAddr()))

	time.Sleep(time.Until(short.Expires) + 200*time.Millisecond)

	// Allocate with the expired username now fails...
	_, err := newClient(t, ts.udpAddr, short).Allocate()
	require.Error(t, err)
	// ...but the allocation made in time refreshes, and keeps (and
	// refreshes) the permissions it had...
	assert.Zero(t, refresh(t, ca, ts.udpAddr, short, time.Minute))
	require.NoError(t, ca.CreatePermission(b.LocalAddr()))
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	exchange(t, a, b, "after expiry")
	exchange(t, b, a, "reply after expiry")
	// ...and gets none to a new peer.
	err = ca.CreatePermission(benchPeer(1))
	require.Error(t, err, "a new peer after expiry")
	assert.Equal(t, int(stun.CodeForbidden), turnErrorCode(t, err))
	assert.EqualValues(t, 1, ts.srv.Stats().Refused[ReasonPeerAfterExpiry])
}

func TestPermissionRefusedForSpecialPurposePeers(t *testing.T) {
	ts := startServer(t, nil)
	c := newClient(t, ts.udpAddr, ts.srv.Credentials("peer"))
	allocate(t, c)

	v4 := 0
	for _, peer := range []string{
		"127.0.0.1:9", "0.0.0.0:9", "[::1]:9", "[::]:9", "[::ffff:127.0.0.1]:9",
		"100.64.0.1:9", "[64:ff9b::7f00:1]:9", "10.1.2.3:9", "192.168.1.1:9",
		"169.254.169.254:80", "127.0.0.3:9",
	} {
		t.Run(peer, func(t *testing.T) {
			// Only the permission request is sent; no data goes anywhere.
			err := c.CreatePermission(udpAddr(peer))
			require.Error(t, err)
			if netip.MustParseAddrPort(peer).Addr().Unmap().Is4() {
				v4++
				assert.Equal(t, int(stun.CodeForbidden), turnErrorCode(t, err))
			} else {
				// The IPv4 allocation already refuses IPv6 peers; the
				// policy's IPv6 cases are covered by TestPeerPolicyPermit.
				assert.Equal(t, int(stun.CodePeerAddrFamilyMismatch), turnErrorCode(t, err))
			}
		})
	}
	assert.EqualValues(t, v4, ts.srv.Stats().PermissionsDenied)

	// Control: a permission toward the relay address itself is granted.
	require.NoError(t, c.CreatePermission(udpAddr("127.0.0.2:9")))
}

func TestDataNeverReachesHostServices(t *testing.T) {
	ts := startServer(t, nil)
	a := allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer-a")))
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))

	// A service on the relay address at a port that is not an allocation:
	// the permission is granted (own relay IP) but the datagrams are
	// dropped by the relay socket.
	onRelayIP, err := net.ListenPacket("udp4", "127.0.0.2:0")
	require.NoError(t, err)
	defer onRelayIP.Close()
	// A service on 127.0.0.1: the permission is refused.
	onLoopback, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer onLoopback.Close()

	for range 5 {
		_, err := a.WriteTo([]byte("probe"), onRelayIP.LocalAddr())
		require.NoError(t, err)
		_, err = a.WriteTo([]byte("probe"), onLoopback.LocalAddr())
		require.Error(t, err)
	}
	assertSilent(t, onRelayIP)
	assertSilent(t, onLoopback)
	assert.GreaterOrEqual(t, ts.srv.Stats().RelayDropped, uint64(5))

	// Control: the same relay still reaches a live allocation.
	exchange(t, a, b, "still relays")
}

// TestClosedRelayPortIsNoLongerAPeer: a relay socket remembers that it may
// send to another allocation's port; once that allocation ends, a service
// that binds the freed port on the relay address gets nothing, in either
// direction of the call, although the relay just sent there.
func TestClosedRelayPortIsNoLongerAPeer(t *testing.T) {
	ts := startServer(t, nil)
	ca := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-a"))
	a := allocate(t, ca)
	cb := newClient(t, ts.udpAddr, ts.srv.Credentials("peer-b"))
	b := allocate(t, cb)
	require.NoError(t, cb.CreatePermission(a.LocalAddr()))
	exchange(t, a, b, "a to b")
	exchange(t, b, a, "b to a")

	ts.srv.EndPeer("peer-b")
	require.Eventually(t, func() bool { return ts.srv.Stats().AllocationsActive == 1 }, expectTimeout, 10*time.Millisecond)
	squatter, err := net.ListenPacket("udp4", b.LocalAddr().String())
	require.NoError(t, err, "the freed relay port")
	defer squatter.Close()

	dropped := ts.srv.Stats().RelayDropped
	for range 5 {
		_, err := a.WriteTo([]byte("after end"), b.LocalAddr())
		require.NoError(t, err)
		// From the freed port to a's relay, which had it as a peer.
		_, err = squatter.WriteTo([]byte("from the squatter"), a.LocalAddr())
		require.NoError(t, err)
	}
	assertSilent(t, squatter)
	assertSilent(t, a)
	assert.GreaterOrEqual(t, ts.srv.Stats().RelayDropped, dropped+10)
}

func TestAllowAndDenyPeers(t *testing.T) {
	t.Run("allow widens", func(t *testing.T) {
		ts := startServer(t, func(c *Config) {
			c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}
		})
		c := newClient(t, ts.udpAddr, ts.srv.Credentials("peer"))
		allocate(t, c)
		require.NoError(t, c.CreatePermission(udpAddr("127.0.0.3:9")))
		require.Error(t, c.CreatePermission(udpAddr("127.0.0.4:9")))
	})
	t.Run("deny narrows, even the own relay address", func(t *testing.T) {
		ts := startServer(t, func(c *Config) {
			c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/29")}
			c.DenyPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/31")}
		})
		c := newClient(t, ts.udpAddr, ts.srv.Credentials("peer"))
		allocate(t, c)
		require.NoError(t, c.CreatePermission(udpAddr("127.0.0.4:9")))
		for _, peer := range []string{"127.0.0.2:9", "127.0.0.3:9"} {
			err := c.CreatePermission(udpAddr(peer))
			require.Error(t, err)
			assert.Equal(t, int(stun.CodeForbidden), turnErrorCode(t, err))
		}
	})
}

func TestAllocationQuotas(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxAllocationsPerUser = 2
		c.MaxAllocations = 3
		c.MaxAllocationsPerIP = 2
	})
	creds := ts.srv.Credentials("peer-q")
	q1 := allocate(t, newClient(t, ts.udpAddr, creds))
	allocate(t, newClient(t, ts.udpAddr, creds))
	_, err := newClientFrom(t, "127.0.0.3", ts.udpAddr, creds).Allocate()
	require.Error(t, err, "third allocation of one peer")
	assert.Equal(t, int(stun.CodeAllocQuotaReached), turnErrorCode(t, err))

	allocate(t, newClientFrom(t, "127.0.0.3", ts.udpAddr, ts.srv.Credentials("peer-r")))
	_, err = newClientFrom(t, "127.0.0.4", ts.udpAddr, ts.srv.Credentials("peer-s")).Allocate()
	require.Error(t, err, "fourth allocation in total")
	assert.Equal(t, int(stun.CodeAllocQuotaReached), turnErrorCode(t, err))
	assert.EqualValues(t, 2, ts.srv.Stats().AllocationsRefused)

	// Releasing an allocation frees its slot.
	require.NoError(t, q1.Close())
	require.Eventually(t, func() bool { return ts.srv.Stats().AllocationsActive == 2 },
		expectTimeout, 10*time.Millisecond)
	allocate(t, newClientFrom(t, "127.0.0.4", ts.udpAddr, ts.srv.Credentials("peer-s")))
}

func TestRelayPortRange(t *testing.T) {
	probe, err := net.ListenPacket("udp4", "127.0.0.2:0")
	require.NoError(t, err)
	port := probe.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, probe.Close())

	ts := startServer(t, func(c *Config) {
		c.RelayPortMin, c.RelayPortMax = port, port
	})
	a := allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer")))
	assert.Equal(t, port, a.LocalAddr().(*net.UDPAddr).Port)
	_, err = newClient(t, ts.udpAddr, ts.srv.Credentials("peer-2")).Allocate()
	require.Error(t, err, "the one port in range is taken")
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of slog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsAtInfoCarryNoAddressOrUsername(t *testing.T) {
	var info, debug syncBuffer
	ts := startServer(t, func(c *Config) {
		c.Logger = slog.New(teeHandler{
			slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo}),
			slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}),
		})
	})
	creds := ts.srv.Credentials("secret-peer-id")
	c := newClient(t, ts.udpAddr, creds)
	allocate(t, c)
	require.Error(t, c.CreatePermission(udpAddr("127.0.0.1:9")))
	_, err := newClient(t, ts.udpAddr, Credentials{Username: creds.Username, Password: "forged"}).Allocate()
	require.Error(t, err)
	require.NoError(t, ts.srv.Close())

	// pion's lines reach debug (the test would see a leak), scrubbed
	// (TestPionLogsScrubbedAtDebug); info gets none of them.
	require.Contains(t, debug.String(), "AllocateRequest from")
	out := info.String()
	require.NotEmpty(t, out)
	assert.NotContains(t, out, "AllocateRequest")
	for _, secret := range []string{"127.0.0.", "secret-peer-id", creds.Username} {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, debug.String(), secret)
	}
}

// teeHandler sends each record to every handler enabled for it.
type teeHandler []slog.Handler

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, x := range h {
		if x.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, x := range h {
		if x.Enabled(ctx, r.Level) {
			errs = append(errs, x.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(h))
	for i, x := range h {
		out[i] = x.WithAttrs(as)
	}
	return out
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(h))
	for i, x := range h {
		out[i] = x.WithGroup(name)
	}
	return out
}

func TestCloseIsIdempotent(t *testing.T) {
	ts := startServer(t, nil)
	allocate(t, newClient(t, ts.udpAddr, ts.srv.Credentials("peer")))
	require.NoError(t, ts.srv.Close())
	require.NoError(t, ts.srv.Close())
	assert.Zero(t, ts.srv.Stats().AllocationsActive)
}

func TestConfigValidate(t *testing.T) {
	pc := []net.PacketConn{&net.UDPConn{}}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no sockets", Config{RelayIP: testRelayIP}},
		{"no relay ip", Config{PacketConns: pc}},
		{"unspecified relay ip", Config{PacketConns: pc, RelayIP: netip.IPv4Unspecified()}},
		{"family mismatch", Config{PacketConns: pc, RelayIP: testRelayIP, RelayBindIP: netip.IPv6Unspecified()}},
		{"negative ttl", Config{PacketConns: pc, RelayIP: testRelayIP, CredentialTTL: -1}},
		{"negative quota", Config{PacketConns: pc, RelayIP: testRelayIP, MaxAllocations: -1}},
		{"half port range", Config{PacketConns: pc, RelayIP: testRelayIP, RelayPortMin: 5000}},
		{"inverted port range", Config{PacketConns: pc, RelayIP: testRelayIP, RelayPortMin: 6000, RelayPortMax: 5000}},
		{"port out of range", Config{PacketConns: pc, RelayIP: testRelayIP, RelayPortMin: 6000, RelayPortMax: 70000}},
		{"nil conn", Config{PacketConns: []net.PacketConn{nil}, RelayIP: testRelayIP}},
		{"half shared port range", Config{PacketConns: pc, RelayIP: testRelayIP, SharedRelayPortMax: 5000}},
		{"inverted shared port range", Config{PacketConns: pc, RelayIP: testRelayIP, SharedRelayPortMin: 6000, SharedRelayPortMax: 5000}},
		{"invalid prefix", Config{PacketConns: pc, RelayIP: testRelayIP, DenyPeers: []netip.Prefix{{}}}},
		{"negative per-ip quota", Config{PacketConns: pc, RelayIP: testRelayIP, MaxAllocationsPerIP: -1}},
		{"per-ip quota holds the pool", Config{PacketConns: pc, RelayIP: testRelayIP, MaxAllocations: 10, MaxAllocationsPerIP: 10}},
		{"negative lifetime", Config{PacketConns: pc, RelayIP: testRelayIP, MaxAllocationLifetime: -time.Second}},
		{"negative idle timeout", Config{PacketConns: pc, RelayIP: testRelayIP, TCPIdleTimeout: -time.Second}},
		{"negative peer cap", Config{PacketConns: pc, RelayIP: testRelayIP, MaxPeersPerAllocation: -1}},
		{"negative tcp cap", Config{PacketConns: pc, RelayIP: testRelayIP, MaxTCPConnectionsPerIP: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	assert.NoError(t, Config{PacketConns: pc, RelayIP: testRelayIP}.validate())
}

func TestICEURLs(t *testing.T) {
	for _, tc := range []struct {
		name          string
		host          string
		udp, tcp, tls int
		want          []string
	}{
		{"all", "turn.example.org", 3478, 3478, 5349, []string{
			"turn:turn.example.org:3478?transport=udp",
			"turn:turn.example.org:3478?transport=tcp",
			"turns:turn.example.org:5349?transport=tcp",
		}},
		{"udp only", "127.0.0.1", 3478, 0, 0, []string{"turn:127.0.0.1:3478?transport=udp"}},
		{"ipv6", "2001:db8::1", 3478, 0, 443, []string{
			"turn:[2001:db8::1]:3478?transport=udp",
			"turns:[2001:db8::1]:443?transport=tcp",
		}},
		{"bracketed ipv6", "[::1]", 0, 3478, 0, []string{"turn:[::1]:3478?transport=tcp"}},
		{"none", "h", 0, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ICEURLs(tc.host, tc.udp, tc.tcp, tc.tls))
		})
	}
}

func TestNormalizePrefixes(t *testing.T) {
	got := normalizePrefixes([]netip.Prefix{
		netip.MustParsePrefix("::ffff:10.0.0.0/104"),
		netip.MustParsePrefix("192.168.1.7/24"),
	})
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24")}, got)
	assert.True(t, strings.HasPrefix(got[0].String(), "10."))
}
