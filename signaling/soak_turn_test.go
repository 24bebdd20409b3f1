package signaling

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/turn"
)

// The TURN side of the soak test (issue 12 §7): a real embedded
// turn.Server wired into the soak server through Config.TURN, with caps
// small enough that the hostile TURN clients below reach each of them
// within seconds, and a well-behaved TURN client on 127.0.0.1 that
// allocates over UDP and TCP and relays between the two all along.
//
// Everything stays on loopback: the server listens on 127.0.0.1, relays
// from 127.0.0.2, and the permission flood names peers in
// soakTURNPeerPrefix (127.9.0.0/16), which the operator allow-list admits
// so that permissions are really created. A permission sends nothing.

// Caps of the soak's TURN server.
const (
	// soakTURNAllocsPerIP is MaxAllocationsPerIP; soakTURNAllocations
	// holds 3 times as many credential sets.
	soakTURNAllocsPerIP = 4
	// soakTURNPeersPerAlloc is MaxPeersPerAllocation.
	soakTURNPeersPerAlloc = 8
	// soakTURNPeersPerIP is MaxPeersPerIP: the second allocation of the
	// permission flood meets it.
	soakTURNPeersPerIP = 12
	// soakTURNTCPPerIP is MaxTCPConnectionsPerIP.
	soakTURNTCPPerIP = 16
	// soakTURNRequestBurst is RequestBurstPerIP (the rate is the default,
	// 50/s): small, so the request flood spends it within a second even
	// on a slow machine. The well-behaved client needs about 8 requests
	// a round, rounds at least soakTURNGoodPause apart.
	soakTURNRequestBurst = 100
	// soakTURNFirstMessage is TCPFirstMessageTimeout.
	soakTURNFirstMessage = time.Second
	// soakTURNIdleHeld bounds the idle TCP connections the idle flood
	// keeps open on its side.
	soakTURNIdleHeld = 200
	// soakTURNDeallocTimeout bounds how long a client retries its
	// deallocation (a UDP Refresh can be lost, or refused over the
	// request rate).
	soakTURNDeallocTimeout = 5 * time.Second
	// soakTURNFloodRate is the Refresh (and Binding) requests per second
	// of the request flood: four times the default request rate.
	soakTURNFloodRate = 4 * turn.DefaultRequestRatePerIP
	// soakTURNGoodPause spaces the well-behaved client's rounds.
	soakTURNGoodPause = 300 * time.Millisecond
)

// soakTURNPeerPrefix is the loopback range the permission flood names as
// peers; AllowPeers admits it (loopback is refused by default).
var soakTURNPeerPrefix = netip.MustParsePrefix("127.9.0.0/16")

// soakRelayCand is the candidate the well-behaved pairs trickle: a relay
// candidate at relay, the relay transport address of a live allocation on
// the soak TURN server, the only kind that crosses once Config.TURN is
// set.
func soakRelayCand(relay net.Addr) string {
	ua := relay.(*net.UDPAddr)
	return fmt.Sprintf("candidate:3 1 udp 41885439 %s %d typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd", ua.IP, ua.Port)
}

// holdRelay allocates from 127.0.0.1 on the soak TURN server for the
// well-behaved pairs' candidate; the caller closes it.
func (st *soakTURN) holdRelay(t *testing.T) *soakTURNClient {
	t.Helper()
	creds := st.srv.Credentials("soak-pairs")
	c, err := dialSoakTURN(net.IPv4(127, 0, 0, 1), "udp", st.udp, turnCredentials{Username: creds.Username, Password: creds.Password})
	require.NoError(t, err)
	if err := c.allocate(); err != nil {
		c.close()
		require.NoError(t, err)
	}
	return c
}

// soakTURN is the soak's embedded TURN server and its well-behaved client.
type soakTURN struct {
	srv      *turn.Server
	udp, tcp string // the server's addresses
	good     sync.WaitGroup
	// Rounds of the well-behaved client: a round allocates over UDP and
	// over TCP and relays a datagram each way between the two.
	goodOK, goodFailed atomic.Int64
	goodRetried        atomic.Int64 // rounds that failed once and were retried
	// goodErr is the first failure (an atomic.Value would panic on a
	// second error of another concrete type).
	goodErr atomic.Pointer[error]
}

// startSoakTURN starts the soak's TURN server on 127.0.0.1 (UDP and TCP),
// relaying from 127.0.0.2. soakTURN.check closes it.
func startSoakTURN(t *testing.T) *soakTURN {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv, err := turn.New(turn.Config{
		PacketConns:            []net.PacketConn{pc},
		Listeners:              []net.Listener{ln},
		RelayIP:                netip.MustParseAddr("127.0.0.2"),
		AllowPeers:             []netip.Prefix{soakTURNPeerPrefix},
		MaxAllocationsPerIP:    soakTURNAllocsPerIP,
		MaxPeersPerAllocation:  soakTURNPeersPerAlloc,
		MaxPeersPerIP:          soakTURNPeersPerIP,
		MaxTCPConnectionsPerIP: soakTURNTCPPerIP,
		RequestBurstPerIP:      soakTURNRequestBurst,
		TCPFirstMessageTimeout: soakTURNFirstMessage,
		Logger:                 slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	st := &soakTURN{srv: srv, udp: pc.LocalAddr().String(), tcp: ln.Addr().String()}
	t.Cleanup(func() { _ = srv.Close() }) // check closes it first
	return st
}

// runGood starts the well-behaved TURN client: from 127.0.0.1 it fetches
// credentials from /turn-credentials at httpAddr, allocates over UDP and
// over TCP, lets the two relays permit each other and relays a datagram
// each way, deallocates, and starts again until ctx ends.
func (st *soakTURN) runGood(ctx context.Context, httpAddr string) {
	st.good.Add(1)
	go func() {
		defer st.good.Done()
		hc := soakHTTPClient(net.IPv4(127, 0, 0, 1))
		defer hc.CloseIdleConnections()
		for ctx.Err() == nil {
			err := soakTURNRound(hc, httpAddr)
			if err != nil && ctx.Err() == nil {
				// A real client retries a timed-out transaction: on the
				// loaded 2-core CI machine under -race, pion's TCP
				// transaction can time out once without any cap refusing
				// it. A round fails only if its retry fails too.
				st.goodRetried.Add(1)
				err = soakTURNRound(hc, httpAddr)
			}
			if err != nil {
				if ctx.Err() != nil {
					return // cut short by the end of the soak
				}
				st.goodFailed.Add(1)
				st.goodErr.CompareAndSwap(nil, &err)
			} else {
				st.goodOK.Add(1)
			}
			sleepCtx(ctx, soakTURNGoodPause)
		}
	}()
}

// soakTURNRound is one round of the well-behaved TURN client.
func soakTURNRound(hc *http.Client, httpAddr string) error {
	src := net.IPv4(127, 0, 0, 1)
	creds, udpAddr, tcpAddr, err := soakTURNCredentials(hc, httpAddr)
	if err != nil {
		return err
	}
	a, err := dialSoakTURN(src, "udp", udpAddr, creds)
	if err != nil {
		return fmt.Errorf("udp client: %w", err)
	}
	defer a.close()
	b, err := dialSoakTURN(src, "tcp", tcpAddr, creds)
	if err != nil {
		return fmt.Errorf("tcp client: %w", err)
	}
	defer b.close()
	if err := a.allocate(); err != nil {
		return fmt.Errorf("allocate over udp: %w", err)
	}
	if err := b.allocate(); err != nil {
		return fmt.Errorf("allocate over tcp: %w", err)
	}
	if err := a.c.CreatePermission(b.relay.LocalAddr()); err != nil {
		return fmt.Errorf("permission udp->tcp: %w", err)
	}
	if err := b.c.CreatePermission(a.relay.LocalAddr()); err != nil {
		return fmt.Errorf("permission tcp->udp: %w", err)
	}
	if err := soakRelayExchange(a.relay, b.relay, "good udp to tcp"); err != nil {
		return err
	}
	return soakRelayExchange(b.relay, a.relay, "good tcp to udp")
}

// soakRelayExchange writes payload from one relay to the other until it
// arrives: the first datagram can race the permission.
func soakRelayExchange(from, to net.PacketConn, payload string) error {
	buf := make([]byte, 1500)
	deadline := time.Now().Add(testutil.RecvTimeout)
	for time.Now().Before(deadline) {
		if _, err := from.WriteTo([]byte(payload), to.LocalAddr()); err != nil {
			return fmt.Errorf("relay %q: %w", payload, err)
		}
		_ = to.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := to.ReadFrom(buf)
		if err == nil && string(buf[:n]) == payload {
			return nil
		}
	}
	return fmt.Errorf("relay %q: never arrived", payload)
}

// check ends the TURN side after the soak: it waits for the well-behaved
// client, asserts that it never failed and that every cap was hit, that
// the shared caps were never reached, that allocations and TCP
// connections went back to zero and every hostile address got its quotas
// back, and closes the server.
func (st *soakTURN) check(t *testing.T) {
	t.Helper()
	st.good.Wait()
	s := st.srv.Stats()
	t.Logf("TURN: %d good rounds (UDP+TCP allocate and relay), %d retried, %d failed; allocations %d made, %d refused; refused %v; TCP first-message timeouts %d",
		st.goodOK.Load(), st.goodRetried.Load(), st.goodFailed.Load(), s.AllocationsTotal, s.AllocationsRefused, s.Refused, s.TCPFirstMessageTimeouts)
	for _, r := range []string{
		turn.ReasonAllocationsPerIP, turn.ReasonPeersPerAllocation, turn.ReasonPeersPerIP,
		turn.ReasonRequestRate, turn.ReasonTCPPerIP,
	} {
		assert.Positive(t, s.Refused[r], "TURN cap %s never hit", r)
	}
	assert.Positive(t, s.TCPFirstMessageTimeouts, "idle TCP connections closed at the first-message timeout")
	// The per-address caps kept the hostile clients off what everyone
	// shares.
	for _, r := range []string{turn.ReasonAllocationsTotal, turn.ReasonTCPTotal, turn.ReasonIPTable} {
		assert.Zero(t, s.Refused[r], "shared TURN cap %s reached", r)
	}
	if e := st.goodErr.Load(); e != nil {
		t.Errorf("the well-behaved TURN client failed: %v", *e)
	}
	assert.Zero(t, st.goodFailed.Load(), "every well-behaved TURN round allocates and relays")
	assert.Positive(t, st.goodOK.Load())

	require.Eventually(t, func() bool {
		s := st.srv.Stats()
		return s.AllocationsActive == 0 && s.TCPConnections == 0
	}, 15*time.Second, 50*time.Millisecond, "TURN allocations %d, TCP connections %d",
		st.srv.Stats().AllocationsActive, st.srv.Stats().TCPConnections)

	// A count leaked on an address's account (a refused Allocate's
	// reservation, a closed allocation's peers, a refused TCP
	// connection) would lock that address out for good: each hostile
	// address gets its full quotas again. The request flood's address
	// first needs tokens back (about 30 requests here; the rate refills
	// DefaultRequestRatePerIP a second).
	time.Sleep(time.Second)
	for i := range soakHostiles() {
		st.quotasBack(t, soakSrc(i))
	}
	require.NoError(t, st.srv.Close())
}

// quotasBack takes the full allocation and peer quotas of address src,
// one allocation over TCP, and gives them back.
func (st *soakTURN) quotasBack(t *testing.T, src net.IP) {
	t.Helper()
	var cs []*soakTURNClient
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	for k := range soakTURNAllocsPerIP {
		network, server := "udp", st.udp
		if k == 0 {
			network, server = "tcp", st.tcp
		}
		cr := st.srv.Credentials(fmt.Sprintf("after-%v-%d", src, k))
		c, err := dialSoakTURN(src, network, server, turnCredentials{Username: cr.Username, Password: cr.Password})
		require.NoError(t, err)
		cs = append(cs, c)
		require.NoError(t, c.allocate(), "allocation %d (%s) from %v after the soak", k, network, src)
	}
	for p := range soakTURNPeersPerIP {
		peer := &net.UDPAddr{IP: net.IPv4(127, 9, 255, byte(p)), Port: 9}
		require.NoError(t, cs[p%len(cs)].c.CreatePermission(peer), "peer %d from %v after the soak", p, src)
	}
}

// soakSrc is the loopback address the i-th hostile client attacks from.
func soakSrc(i int) net.IP { return net.IPv4(127, 0, 1, byte(2+i)) }

// soakHTTPClient is an HTTP client whose connections come from src and
// are not kept (nothing idles past the soak).
func soakHTTPClient(src net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}
}

// soakTURNCredentials fetches a credential set from /turn-credentials and
// the TURN server's UDP and TCP addresses from its URIs.
func soakTURNCredentials(hc *http.Client, httpAddr string) (creds turnCredentials, udpAddr, tcpAddr string, err error) {
	resp, err := hc.Get("http://" + httpAddr + turnCredentialsPath)
	if err != nil {
		return creds, "", "", fmt.Errorf("credentials: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return creds, "", "", fmt.Errorf("credentials: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&creds); err != nil {
		return creds, "", "", fmt.Errorf("credentials: %w", err)
	}
	for _, u := range creds.URIs {
		hostport, transport, _ := strings.Cut(strings.TrimPrefix(u, "turn:"), "?transport=")
		switch {
		case strings.HasPrefix(u, "turn:") && transport == "udp":
			udpAddr = hostport
		case strings.HasPrefix(u, "turn:") && transport == "tcp":
			tcpAddr = hostport
		}
	}
	if udpAddr == "" || tcpAddr == "" {
		return creds, "", "", fmt.Errorf("credentials: no TURN UDP and TCP URIs in %v", creds.URIs)
	}
	return creds, udpAddr, tcpAddr, nil
}

// soakTURNLog keeps pion's client logs out of the test output.
var soakTURNLog = &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}

// soakTURNClient is a pion TURN client on a socket of its own from a
// given source address, with its credentials and at most one allocation.
type soakTURNClient struct {
	c     *pionturn.Client
	conn  net.PacketConn // the UDP socket or the STUN-framed TCP connection
	user  string
	pass  string
	nonce stun.Nonce
	relay net.PacketConn // the allocation, once made
}

// dialSoakTURN starts a TURN client from src over network ("udp" or
// "tcp") to server.
func dialSoakTURN(src net.IP, network, server string, creds turnCredentials) (*soakTURNClient, error) {
	var conn net.PacketConn
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(src.String(), "0"))
		if err != nil {
			return nil, err
		}
		conn = pc
	default:
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		tc, err := d.Dial("tcp4", server)
		if err != nil {
			return nil, err
		}
		conn = pionturn.NewSTUNConn(tc)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       creds.Username,
		Password:       creds.Password,
		Realm:          turn.DefaultRealm,
		LoggerFactory:  soakTURNLog,
	})
	if err == nil {
		err = c.Listen()
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &soakTURNClient{c: c, conn: conn, user: creds.Username, pass: creds.Password}, nil
}

func (c *soakTURNClient) allocate() error {
	relay, err := c.c.Allocate()
	if err != nil {
		return err
	}
	c.relay = relay
	return nil
}

// refresh sends an authenticated Refresh on c's 5-tuple and returns its
// error code, 0 on success. It fetches a nonce first when it has none or
// the one it has went stale.
func (c *soakTURNClient) refresh(lifetime time.Duration) (int, error) {
	to := c.c.TURNServerAddr()
	for range 2 {
		if c.nonce == nil {
			res, err := c.c.PerformTransaction(c.refreshMsg(lifetime, false), to, false)
			if err != nil {
				return 0, err
			}
			var nonce stun.Nonce
			if err := nonce.GetFrom(res.Msg); err != nil {
				return 0, fmt.Errorf("no nonce: %w", err)
			}
			c.nonce = nonce
		}
		res, err := c.c.PerformTransaction(c.refreshMsg(lifetime, true), to, false)
		if err != nil {
			return 0, err
		}
		if res.Msg.Type.Class == stun.ClassSuccessResponse {
			return 0, nil
		}
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(res.Msg); err != nil {
			return 0, err
		}
		if code.Code != stun.CodeStaleNonce {
			return int(code.Code), nil
		}
		c.nonce = nil
	}
	return int(stun.CodeStaleNonce), nil
}

// refreshMsg builds a Refresh request, authenticated with c's
// credentials and nonce when auth is set.
func (c *soakTURNClient) refreshMsg(lifetime time.Duration, auth bool) *stun.Message {
	lt := make([]byte, 4)
	binary.BigEndian.PutUint32(lt, uint32(lifetime/time.Second))
	setters := []stun.Setter{
		stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrLifetime, Value: lt},
	}
	if auth {
		setters = append(setters, stun.NewUsername(c.user), stun.NewRealm(turn.DefaultRealm), c.nonce,
			stun.NewLongTermIntegrity(c.user, turn.DefaultRealm, c.pass))
	}
	return stun.MustBuild(append(setters, stun.Fingerprint)...)
}

// close deallocates, waiting for the server's answer (pion's own Close
// sends one Refresh and does not wait: over UDP it can be lost, and over
// the request rate it is refused), then closes the client and its socket.
func (c *soakTURNClient) close() {
	if c.relay != nil {
		deadline := time.Now().Add(soakTURNDeallocTimeout)
		for time.Now().Before(deadline) {
			code, err := c.refresh(0)
			if err == nil && (code == 0 || code == int(stun.CodeAllocMismatch)) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.relay.Close()
	}
	c.c.Close()
	_ = c.conn.Close()
}

// soakTURNAddrs fetches the TURN server's addresses from e's
// /turn-credentials, retrying until ctx ends; ok is false then.
func soakTURNAddrs(ctx context.Context, hc *http.Client, e *soakEnv) (creds turnCredentials, udpAddr, tcpAddr string, ok bool) {
	for ctx.Err() == nil {
		creds, udpAddr, tcpAddr, err := soakTURNCredentials(hc, e.addr)
		if err == nil {
			return creds, udpAddr, tcpAddr, true
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return creds, "", "", false
}

// soakTURNIdleTCP opens TCP connections to the TURN port that never send
// a byte: the per-address cap refuses most, the first-message timeout
// closes the rest. It keeps at most soakTURNIdleHeld open on its side.
func soakTURNIdleTCP(ctx context.Context, e *soakEnv) {
	hc := soakHTTPClient(e.src)
	defer hc.CloseIdleConnections()
	_, _, tcpAddr, ok := soakTURNAddrs(ctx, hc, e)
	if !ok {
		return
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: e.src}, Timeout: 5 * time.Second}
	var held []net.Conn
	defer func() { closeAll(held...) }()
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp4", tcpAddr)
		if err != nil {
			sleepCtx(ctx, 10*time.Millisecond)
			continue
		}
		held = append(held, c)
		if len(held) >= soakTURNIdleHeld {
			closeAll(held[:soakTURNIdleHeld/2]...)
			held = append(held[:0], held[soakTURNIdleHeld/2:]...)
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
}

// soakTURNAllocations fetches three times MaxAllocationsPerIP credential
// sets (each for a fresh id) from one address and allocates over UDP with
// each until refused; it refreshes what it got for a while, gives it back
// and starts again.
func soakTURNAllocations(ctx context.Context, e *soakEnv) {
	hc := soakHTTPClient(e.src)
	defer hc.CloseIdleConnections()
	for ctx.Err() == nil {
		var held []*soakTURNClient
		for range 3 * soakTURNAllocsPerIP {
			creds, udpAddr, _, err := soakTURNCredentials(hc, e.addr)
			if err != nil {
				continue
			}
			c, err := dialSoakTURN(e.src, "udp", udpAddr, creds)
			if err != nil {
				continue
			}
			held = append(held, c)
			_ = c.allocate() // refused past the per-address cap (486)
		}
		for range 4 {
			if !sleepCtx(ctx, 500*time.Millisecond) {
				break
			}
			for _, c := range held {
				if c.relay != nil {
					_, _ = c.refresh(10 * time.Minute)
				}
			}
		}
		for _, c := range held {
			c.close()
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// soakTURNPermissions floods CreatePermission toward distinct peers in
// soakTURNPeerPrefix from two allocations of one address: the first meets
// MaxPeersPerAllocation, the second MaxPeersPerIP.
func soakTURNPermissions(ctx context.Context, e *soakEnv) {
	hc := soakHTTPClient(e.src)
	defer hc.CloseIdleConnections()
	peer := 0
	next := func() net.Addr {
		peer = (peer + 1) % (1 << 16)
		return &net.UDPAddr{IP: net.IPv4(127, 9, byte(peer>>8), byte(peer)), Port: 9}
	}
	for ctx.Err() == nil {
		var held []*soakTURNClient
		for range 2 {
			creds, udpAddr, _, err := soakTURNCredentials(hc, e.addr)
			if err != nil {
				continue
			}
			c, err := dialSoakTURN(e.src, "udp", udpAddr, creds)
			if err != nil {
				continue
			}
			held = append(held, c)
			if c.allocate() != nil {
				continue
			}
			for range 2 * soakTURNPeersPerAlloc {
				if ctx.Err() != nil {
					break
				}
				_ = c.c.CreatePermission(next()) // 403 past the caps
			}
		}
		for _, c := range held {
			c.close()
		}
		// About 40 requests a round: within the request rate, so the
		// peer caps are what refuses this client.
		sleepCtx(ctx, time.Second)
	}
}

// soakTURNRequestFlood holds one allocation and sends Refresh requests
// (authenticated, so they count against the per-address request rate) and
// Binding requests at soakTURNFloodRate, without waiting for the answers:
// a flooder does not, and on a slow machine (-race) answered requests
// would slow the flood below the rate it must meet. The rate is kept by
// the clock, not by ticks, for the same reason. pion's nonces live an
// hour, so one fetched at the start serves the whole soak.
func soakTURNRequestFlood(ctx context.Context, e *soakEnv) {
	hc := soakHTTPClient(e.src)
	defer hc.CloseIdleConnections()
	creds, udpAddr, _, ok := soakTURNAddrs(ctx, hc, e)
	if !ok {
		return
	}
	c, err := dialSoakTURN(e.src, "udp", udpAddr, creds)
	if err != nil {
		return
	}
	defer c.close()
	for ctx.Err() == nil && c.allocate() != nil {
		sleepCtx(ctx, 100*time.Millisecond)
	}
	for ctx.Err() == nil {
		if _, err := c.refresh(10 * time.Minute); err == nil && c.nonce != nil {
			break
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	to := c.c.TURNServerAddr()
	start, sent := time.Now(), 0
	for ctx.Err() == nil {
		due := int(time.Since(start).Seconds() * soakTURNFloodRate)
		for n := 0; sent < due && n < soakTURNFloodRate/10; n++ { // at most 100 ms worth at once
			_, _ = c.c.PerformTransaction(c.refreshMsg(10*time.Minute, true), to, true) // 401 past the rate
			_, _ = c.c.PerformTransaction(stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint), to, true)
			sent++
		}
		sent = max(sent, due-soakTURNFloodRate/10) // never a backlog of more than that
		sleepCtx(ctx, 20*time.Millisecond)
	}
	// Let the bucket refill a little so the deallocation passes at once.
	time.Sleep(100 * time.Millisecond)
}
