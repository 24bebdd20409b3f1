package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"go.uber.org/goleak"
)

// loopbackProxy makes the test client a trusted proxy, so X-Forwarded-For
// gives each simulated client its own address.
var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// tryDial opens /ws claiming to be ip (through the trusted loopback
// proxy); it does not fail the test, so goroutines may use it.
func tryDial(ts *httptest.Server, ip string, h http.Header) (*websocket.Conn, *http.Response, error) {
	if h == nil {
		h = http.Header{}
	}
	if ip != "" {
		h.Set("X-Forwarded-For", ip)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws"), h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return ws, resp, err
}

// dialFrom is dial for a client at ip.
func dialFrom(t *testing.T, ts *httptest.Server, ip string) *wsClient {
	t.Helper()
	ws, _, err := tryDial(ts, ip, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{T: t, WS: ws}
	c.Welcome = c.Expect("welcome")
	c.ID = c.Welcome.Str("id")
	return c
}

// requireRefused requires a refused upgrade with status and a Retry-After
// of at least minWait seconds.
func requireRefused(t *testing.T, ts *httptest.Server, ip string, status, minWait int) {
	t.Helper()
	ws, resp, err := tryDial(ts, ip, nil)
	if ws != nil {
		_ = ws.Close()
	}
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.Equal(t, status, resp.StatusCode)
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be seconds")
	assert.GreaterOrEqual(t, wait, minWait)
}

func TestConnectRatePerIP(t *testing.T) {
	srv, ts := newTestServer(t, Config{TrustedProxies: loopbackProxy, ConnectBurstPerIP: 3, ConnectRatePerIP: 1})
	for range 3 {
		c := dialFrom(t, ts, "203.0.113.1")
		require.NoError(t, c.WS.Close())
	}
	// The burst is spent; at one per minute the wait is about a minute.
	requireRefused(t, ts, "203.0.113.1", http.StatusTooManyRequests, 50)
	// The same /64 is the same account; another address is not.
	dialFrom(t, ts, "203.0.113.2").RoundTrip()
	for i := range 3 {
		dialFrom(t, ts, "2001:db8:1:2::"+strconv.Itoa(i+1))
	}
	requireRefused(t, ts, "2001:db8:1:2:aaaa::1", http.StatusTooManyRequests, 50)
	dialFrom(t, ts, "2001:db8:1:3::1").RoundTrip()
	assert.EqualValues(t, 2, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", edge.LimitConnectRate))
}

func TestMaxConnectionsPerIP(t *testing.T) {
	srv, ts := newTestServer(t, Config{TrustedProxies: loopbackProxy, MaxConnectionsPerIP: 2})
	a := dialFrom(t, ts, "203.0.113.1")
	dialFrom(t, ts, "203.0.113.1")
	requireRefused(t, ts, "203.0.113.1", http.StatusTooManyRequests, int(edge.RetryAfterBusy/time.Second))
	dialFrom(t, ts, "203.0.113.2").RoundTrip()
	require.NoError(t, a.WS.Close())
	require.Eventually(t, func() bool {
		ws, _, err := tryDial(ts, "203.0.113.1", nil)
		if err == nil {
			_ = ws.Close()
		}
		return err == nil
	}, testutil.RecvTimeout, 10*time.Millisecond, "a closed connection frees its slot")
	assert.GreaterOrEqual(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", edge.LimitIPConnections), 1.0)
}

func TestMaxConnections(t *testing.T) {
	srv, ts := newTestServer(t, Config{MaxConnections: 2})
	a := dial(t, ts, "")
	dial(t, ts, "")
	requireRefused(t, ts, "", http.StatusServiceUnavailable, int(edge.RetryAfterBusy/time.Second))
	require.NoError(t, a.WS.Close())
	require.Eventually(t, func() bool {
		ws, _, err := tryDial(ts, "", nil)
		if err == nil {
			_ = ws.Close()
		}
		return err == nil
	}, testutil.RecvTimeout, 10*time.Millisecond, "a closed connection frees its slot")
	assert.GreaterOrEqual(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", edge.LimitConnections), 1.0)
}

func TestLoopbackSkipsPerIPLimitsUnlessTrusted(t *testing.T) {
	var logs lockedBuffer
	_, ts := newTestServer(t, Config{
		ConnectBurstPerIP: 1, ConnectRatePerIP: 1, MaxConnectionsPerIP: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	// Without --trusted-proxy, loopback is this host (or an undeclared
	// local proxy): headers are not believed and per-IP limits do not apply.
	for range 3 {
		dialFrom(t, ts, "203.0.113.1")
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "--trusted-proxy"), "the operator is told once")
	assert.NotContains(t, logs.String(), "203.0.113.1")
}

func TestMessageRateLimit(t *testing.T) {
	srv, ts := newTestServer(t, Config{MessageRate: 1, MessageBurst: 5})
	a := dial(t, ts, "")
	// Sent back to back, so no token refills in between even on a slow machine.
	for range 5 {
		a.Send(msg{"type": "ping"})
	}
	a.Send(msg{"type": "ping", "rid": "over"})
	for range 5 {
		a.Expect("pong")
	}
	e := a.ExpectError(CodeRateLimited)
	assert.Equal(t, "over", e.Str("rid"))
	assert.Equal(t, "ping", e.Str("ref"))
	// A client that keeps going is closed with 1008.
	for range edge.MaxStrikes + 1 {
		a.Send(msg{"type": "ping"})
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.ExpectClose())
	assert.GreaterOrEqual(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", "messages"), float64(edge.MaxStrikes))
}

func TestActionRateLimit(t *testing.T) {
	_, ts := newTestServer(t, Config{ActionRate: 1, ActionBurst: 2})
	a := dial(t, ts, "")
	a.Send(msg{"type": "join", "room": "one"})
	a.Send(msg{"type": "play", "stream": "s"})
	a.Send(msg{"type": "publish", "stream": "p", "rid": "x"})
	a.Expect("joined")
	a.Expect("waiting")
	e := a.ExpectError(CodeRateLimited)
	assert.Equal(t, "x", e.Str("rid"))
	a.RoundTrip() // other messages still pass
}

func TestByteRateLimit(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxMessageBytes: 1024, ByteRate: 10, ByteBurst: 2048})
	a := dial(t, ts, "")
	pad := strings.Repeat("p", 900)
	a.Send(msg{"type": "ping", "pad": pad})
	a.Expect("pong")
	a.Send(msg{"type": "ping", "pad": pad})
	a.Expect("pong")
	a.Send(msg{"type": "ping", "pad": pad})
	a.ExpectError(CodeRateLimited)
}

func TestJoinLeaveFlood(t *testing.T) {
	cfg := Config{ActionRate: 2, ActionBurst: 10}
	_, ts := newTestServer(t, cfg)
	bystander, flooder := dial(t, ts, ""), dial(t, ts, "")
	bystander.JoinRoom("r")

	// The flooder joins and leaves as fast as it can, reading in the
	// background, until it is closed. Bounded: 20000 messages or 5 s.
	closed := make(chan int, 1)
	go func() {
		for {
			_, _, err := flooder.WS.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				code := 0
				if errors.As(err, &ce) {
					code = ce.Code
				}
				closed <- code
				return
			}
		}
	}()
	start := time.Now()
	for i := 0; i < 20000 && time.Since(start) < 5*time.Second; i++ {
		typ := "join"
		if i%2 == 1 {
			typ = "leave"
		}
		b, _ := json.Marshal(msg{"type": typ, "room": "r"})
		if flooder.WS.WriteMessage(websocket.TextMessage, b) != nil {
			break
		}
	}
	select {
	case code := <-closed:
		assert.Equal(t, websocket.ClosePolicyViolation, code)
	case <-time.After(testutil.RecvTimeout):
		t.Fatal("the flooder was not closed")
	}
	elapsed := time.Since(start)

	// The bystander saw only what the action budget let through, and is fine.
	bystander.Send(msg{"type": "ping", "rid": "sync"})
	joins := 0
	for {
		m := bystander.Recv()
		if m.Str("type") == "pong" {
			break
		}
		if m.Str("type") == "peer-joined" {
			joins++
		}
	}
	assert.LessOrEqual(t, joins, cfg.ActionBurst+int(elapsed.Seconds()*float64(cfg.ActionRate))+1)
	assert.Positive(t, joins)
}

func TestCompressionIsNeverNegotiated(t *testing.T) {
	// permessage-deflate would let a small frame inflate past the read
	// limit (a decompression bomb); veil never enables it.
	_, ts := newTestServer(t, Config{})
	d := websocket.Dialer{EnableCompression: true}
	ws, resp, err := d.Dial(testutil.WSURL(ts, "/ws"), nil)
	require.NoError(t, err)
	defer func() { _ = ws.Close() }()
	_ = resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Sec-WebSocket-Extensions"))
}

func TestCrossSiteWebSocketHijacking(t *testing.T) {
	// A page on another site opening a WebSocket to veil with the victim's
	// browser is refused before any peer exists; lookalike origins too.
	srv, ts := newTestServer(t, Config{AllowedOrigins: []string{"https://app.example"}})
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, origin := range []string{
		"https://evil.example",
		"http://" + host + ".evil.example",
		"http://evil.example/" + host,
		"http://user@" + host + "@evil.example",
		"https://app.example.evil.example",
		"https://evil-app.example",
		"http://127.0.0.1:1",
		"null",
		"file://",
	} {
		t.Run(origin, func(t *testing.T) {
			h := http.Header{"Origin": {origin}}
			ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws"), h)
			if ws != nil {
				_ = ws.Close()
			}
			require.ErrorIs(t, err, websocket.ErrBadHandshake)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}
	assert.Zero(t, srv.edge.Hub.Peers(), "no peer was created for a refused origin")
	assert.Zero(t, srv.edge.Admitted(), "a refused origin holds no connection slot")
	for _, origin := range []string{ts.URL, "https://app.example", "https://APP.example"} {
		ws, _, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws"), http.Header{"Origin": {origin}})
		require.NoError(t, err, origin)
		_ = ws.Close()
	}
}

func TestSlowHeadersAreCut(t *testing.T) {
	// A slowloris client dribbles its upgrade request's headers; an
	// http.Server configured like cmd/veil's (ReadHeaderTimeout) cuts it.
	// The timeout here is short to keep the test fast.
	srv, err := New(Config{})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 300 * time.Millisecond, MaxHeaderBytes: 16 << 10}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
		ctx, cancel := contextWithTimeout(time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: veil\r\nUpgrade: websocket\r\n")
	require.NoError(t, err)
	start := time.Now()
	cut := false
	for i := 0; i < 100 && !cut; i++ { // bounded: 100 bytes, 5 s
		time.Sleep(50 * time.Millisecond)
		_, err := c.Write([]byte("X"))
		cut = err != nil
		if !cut {
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			_, rerr := c.Read(make([]byte, 1))
			var ne net.Error
			cut = rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout())
		}
	}
	require.True(t, cut, "the slow client must be disconnected")
	assert.Less(t, time.Since(start), 3*time.Second)

	// A normal client on the same server is served.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
	require.NoError(t, err)
	_ = ws.Close()
}

// TestFloodLeavesOthersUnaffected: one client sends as fast as it can,
// another opens connections in a burst, and meanwhile well-behaved pairs
// (each at its own address) still complete an offer/answer exchange. The
// flooders are limited, then closed; goroutines and heap go back to
// baseline.
func TestFloodLeavesOthersUnaffected(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)

	// ResumeGrace off: the clients' closes below are drops, which would
	// otherwise park the sessions for the resume window.
	cfg := Config{TrustedProxies: loopbackProxy, ResumeGrace: -1}
	srv, err := New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())

	// The message flooder.
	type floodResult struct {
		sent, limited, closeCode int
		closeText                string
	}
	floodDone := make(chan floodResult, 1)
	// It floods its accomplice with host candidates: the relay filter drops
	// them silently, so until the budget runs out nothing comes back and
	// every reply it reads is the limiter's.
	accomplice := dialFrom(t, ts, "203.0.113.65")
	accomplice.JoinRoom("den")
	flooder, _, err := tryDial(ts, "203.0.113.66", nil)
	require.NoError(t, err)
	require.NoError(t, flooder.WriteJSON(msg{"type": "join", "room": "den"}))
	accomplice.Expect("peer-joined")
	junk, err := json.Marshal(msg{"type": "signal", "to": accomplice.ID, "data": msg{"candidate": msg{"candidate": testutil.HostCand}}})
	require.NoError(t, err)
	go func() {
		var res floodResult
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			for {
				_, b, err := flooder.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						res.closeCode, res.closeText = ce.Code, ce.Text
					}
					return
				}
				if bytes.Contains(b, []byte(`"rate-limited"`)) {
					res.limited++
				}
			}
		}()
		start := time.Now()
		for res.sent < 20000 && time.Since(start) < 5*time.Second {
			if flooder.WriteMessage(websocket.TextMessage, junk) != nil {
				break
			}
			res.sent++
		}
		select {
		case <-readDone:
		case <-time.After(testutil.RecvTimeout):
		}
		_ = flooder.Close()
		<-readDone
		floodDone <- res
	}()

	// The connection burst, all from one address.
	type burstResult struct {
		ok, refused, retryAfter int
		open                    []*websocket.Conn
		took                    time.Duration
	}
	burstDone := make(chan burstResult, 1)
	go func() {
		var res burstResult
		start := time.Now()
		defer func() { res.took = time.Since(start); burstDone <- res }()
		for range 3 * DefaultConnectBurstPerIP {
			ws, resp, err := tryDial(ts, "203.0.113.77", nil)
			switch {
			case err == nil:
				res.ok++
				res.open = append(res.open, ws)
			case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
				res.refused++
				if resp.Header.Get("Retry-After") != "" {
					res.retryAfter++
				}
			}
		}
	}()

	// Well-behaved pairs, each peer at its own address, meanwhile.
	const pairs = 8
	offer := msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}
	answer := msg{"sdp": msg{"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}
	var clients [][2]*wsClient
	for i := range pairs {
		a := dialFrom(t, ts, "198.51.100."+strconv.Itoa(2*i+1))
		b := dialFrom(t, ts, "198.51.100."+strconv.Itoa(2*i+2))
		clients = append(clients, [2]*wsClient{a, b})
	}
	for i, p := range clients {
		room := "pair-" + strconv.Itoa(i)
		p[0].JoinRoom(room)
		p[1].JoinRoom(room)
		p[0].Expect("peer-joined")
	}
	for _, p := range clients {
		a, b := p[0], p[1]
		a.Send(msg{"type": "signal", "to": b.ID, "data": offer})
		got := b.Expect("signal")
		require.Equal(t, a.ID, got.Str("from"))
		b.Send(msg{"type": "signal", "to": a.ID, "data": answer})
		got = a.Expect("signal")
		require.Equal(t, "answer", got["data"].(map[string]any)["sdp"].(map[string]any)["type"])
	}

	flood := <-floodDone
	burst := <-burstDone
	t.Logf("flooder sent %d, saw %d rate-limited, close %d %q; burst ok %d refused %d",
		flood.sent, flood.limited, flood.closeCode, flood.closeText, burst.ok, burst.refused)
	assert.Positive(t, flood.limited, "the flooder is told rate-limited")
	assert.GreaterOrEqual(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", "messages"), float64(flood.limited))
	assert.Less(t, flood.sent, 20000, "the flooder could not go on")
	assert.Equal(t, websocket.ClosePolicyViolation, flood.closeCode, "then closed with 1008")
	refilled := int(burst.took.Seconds() * DefaultConnectRatePerIP / 60)
	assert.LessOrEqual(t, burst.ok, DefaultConnectBurstPerIP+refilled+1, "the burst is cut at the per-IP bucket")
	assert.Positive(t, burst.refused)
	assert.Equal(t, burst.refused, burst.retryAfter, "every 429 carries Retry-After")

	// Everyone leaves; the server goes back to nothing.
	for _, ws := range burst.open {
		_ = ws.Close()
	}
	for _, p := range clients {
		_ = p[0].WS.Close()
		_ = p[1].WS.Close()
	}
	_ = accomplice.WS.Close()
	require.Eventually(t, func() bool {
		return srv.edge.Admitted() == 0 && srv.edge.Hub.Peers() == 0 && srv.edge.Hub.Rooms() == 0
	}, testutil.RecvTimeout, 10*time.Millisecond)
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	ts.Close()
	goleak.VerifyNone(t, ignore)

	var after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	const slack = 16 << 20 // generous: the flood itself moved ~megabytes
	assert.Less(t, after.HeapAlloc, base.HeapAlloc+slack, "heap back to baseline (before %d, after %d)", base.HeapAlloc, after.HeapAlloc)
}

// lockedBuffer is an io.Writer safe for the concurrent use of a slog
// handler and a test reading it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
