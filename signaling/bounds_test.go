package signaling

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/privacy"
)

// Tests of issue 12's bounds: bytes of queued and held data, the size of
// forwarded frames, HTTP requests and connections, hub state.

// recvRaw returns the next frame as sent, failing after recvTimeout.
func (c *wsClient) recvRaw() []byte {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(recvTimeout))
	_, b, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	return b
}

// hostileSDP is an offer whose session name is n bytes of s: text the
// privacy filter keeps, and which json.Marshal would escape six-fold.
func hostileSDP(s string, n int) string {
	return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=" + strings.Repeat(s, n/len(s)) + "\r\nt=0 0\r\n"
}

// rawJSON undoes json.Marshal's escaping of <, >, & and U+2028/9: what a
// browser's JSON.stringify sends.
var rawJSON = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u2028`, "\u2028", `\u2029`, "\u2029")

// fitSDP returns the largest message, built by build around a hostileSDP
// of s, that fits in limit bytes as sent: escaped by json.Marshal as Go
// clients send it, or raw as browsers do.
func fitSDP(t *testing.T, s string, limit int, raw bool, build func(sdp string) any) []byte {
	t.Helper()
	enc := func(m any) []byte {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		if raw {
			b = []byte(rawJSON.Replace(string(b)))
		}
		return b
	}
	overhead := len(enc(build(hostileSDP(s, 0))))
	per := len(s)
	if !raw {
		per = len(mustMarshal(t, s)) - 2
	}
	b := enc(build(hostileSDP(s, (limit-overhead)/per*len(s))))
	require.LessOrEqual(t, len(b), limit)
	require.Greater(t, len(b), limit-2*per-16)
	return b
}

// TestForwardedFrameNeverOutgrowsItsMessage: in every protocol, an offer
// full of characters that encoding/json escapes ('<', U+2028) and sent raw
// or escaped leaves veil at most maxFrameGrowth bytes larger than it came.
func TestForwardedFrameNeverOutgrowsItsMessage(t *testing.T) {
	_, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1})
	for _, chars := range []string{"<", "&>", "\u2028", "\u2029<"} {
		t.Run(fmt.Sprintf("%+q", chars), func(t *testing.T) {
			// A raw client: json.Marshal of the test escapes, so send the
			// characters raw as a browser's JSON.stringify does, and
			// escaped as Go clients do.
			for _, raw := range []bool{true, false} {
				send := func(c *wsClient, b []byte) int {
					c.sendRaw(b)
					return len(b)
				}

				a, b := dial(t, ts, ""), dial(t, ts, "")
				room := fmt.Sprintf("grow-%t-%x", raw, chars)
				a.joinRoom(room)
				b.joinRoom(room)
				a.expect("peer-joined")
				m := fitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": sdp}}}
				})
				in := send(a, m)
				out := b.recvRaw()
				assert.LessOrEqual(t, len(out), in+maxFrameGrowth, "native: %d bytes in", in)
				if chars[0] < utf8.RuneSelf {
					assert.Contains(t, string(out), chars, "forwarded raw")
				} else {
					// Under forced relay a line outside printable ASCII
					// does not cross (strict SDP grammar).
					assert.NotContains(t, string(out), "s=", "the session-name line is dropped")
				}

				pa := pjDial(t, ts, fmt.Sprintf("pa%t%x", raw, chars), "t")
				pb := pjDial(t, ts, fmt.Sprintf("pb%t%x", raw, chars), "t")
				m = fitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"type": "OFFER", "dst": pb.id, "payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}}
				})
				in = send(pa, m)
				out = pb.recvRaw()
				assert.LessOrEqual(t, len(out), in+maxFrameGrowth, "peerjs: %d bytes in", in)

				pub, viewer, pubID, _ := vdoPair(t, ts, "", fmt.Sprintf("s%t%x", raw, chars))
				m = fitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"UUID": pubID, "session": "s1", "description": msg{"type": "offer", "sdp": sdp}}
				})
				in = send(viewer.wsClient, m)
				out = pub.recvRaw()
				assert.LessOrEqual(t, len(out), in+maxFrameGrowth, "vdo: %d bytes in", in)
			}
		})
	}
}

// TestGrowingPayloadRefused: a debug payload whose numbers are spelled
// short and would be written long, or whose values turn into null, is
// either forwarded within maxFrameGrowth or refused.
func TestGrowingPayloadRefused(t *testing.T) {
	_, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1, Policy: policyPass()})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	nums := "[" + strings.Repeat("1e20,", 10000) + "1]"
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	for _, data := range []string{`{"n":` + nums + `}`, `{"d":` + deep + `}`} {
		in := []byte(`{"type":"debug","to":"` + b.id + `","data":` + data + `}`)
		a.sendRaw(in)
		a.send(msg{"type": "ping", "rid": "sync"})
		for {
			m := a.recv()
			if m.str("type") == "pong" {
				break
			}
			require.Equal(t, string(CodeBadMessage), m.str("code"), "got %v", m)
		}
		b.send(msg{"type": "ping", "rid": "sync"})
		for {
			out := b.recvRaw()
			if strings.Contains(string(out), `"pong"`) {
				break
			}
			assert.LessOrEqual(t, len(out), len(in)+maxFrameGrowth)
		}
	}
}

// FuzzForwardedFrameSize feeds arbitrary signal and debug payloads to a
// native session routed to a peer: whatever is forwarded is at most
// maxFrameGrowth bytes larger than the message that carried it.
func FuzzForwardedFrameSize(f *testing.F) {
	for _, s := range []string{
		`{"sdp":{"type":"offer","sdp":"v=0\r\ns=<<<\u2028\r\n"}}`,
		`{"candidate":{"candidate":"` + relayCand + `","sdpMid":"<"}}`,
		`{"candidates":[{"candidate":"` + relayCand + `"}]}`,
		`{"bytesSent":1e20,"x":"<>&"}`, `{"a":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
	} {
		for _, signal := range []bool{true, false} {
			f.Add(s, signal, true)
			f.Add(s, signal, false)
		}
	}
	// One sender and one recipient per policy: the default (filter and
	// strip) and pass (nothing removed, so nothing shrinks).
	type rig struct {
		s  *nativeSession
		to *sizeClient
		id string
	}
	var rigs [2]rig
	for i, pol := range []Config{{}, {Policy: policyPass()}} {
		srv, err := New(pol)
		require.NoError(f, err)
		to := &sizeClient{}
		target := NewPeer(nativeNS, to)
		require.NoError(f, srv.hub.Register(target))
		s := &nativeSession{srv: srv, c: writerlessConn(), senderPolicy: srv.senderPolicy(false), limiter: &connLimiter{log: srv.log}}
		s.peer = NewPeer(nativeNS, s)
		require.NoError(f, srv.hub.Register(s.peer))
		require.NoError(f, srv.hub.Join(target, "r", ""))
		require.NoError(f, srv.hub.Join(s.peer, "r", ""))
		rigs[i] = rig{s, to, target.id}
	}
	var mu sync.Mutex // the rigs are shared by parallel fuzz workers
	f.Fuzz(func(t *testing.T, data string, signal, pass bool) {
		mu.Lock()
		defer mu.Unlock()
		r := rigs[0]
		if pass {
			r = rigs[1]
		}
		typ := "debug"
		if signal {
			typ = "signal"
		}
		in := []byte(`{"type":"` + typ + `","to":"` + r.id + `","data":` + data + `}`)
		r.to.max = 0
		r.s.handle(in)
		for len(r.s.c.queue) > 0 {
			<-r.s.c.queue
		}
		if r.to.max > len(in)+maxFrameGrowth {
			t.Fatalf("forwarded %d bytes for a %d byte message", r.to.max, len(in))
		}
	})
}

// sizeClient records the largest frame it is sent.
type sizeClient struct{ max int }

func (c *sizeClient) Notify(ev Event) {
	if f, ok := ev.(Frame); ok {
		c.max = max(c.max, len(f))
	}
}

// writerlessConn is a conn whose queue nobody writes out: frames stay in
// the queue for the test to inspect. Its writer flag is set so no writer
// goroutine (which needs a socket) ever starts.
func writerlessConn() *conn {
	c := &conn{queue: make(chan []byte, 1024), done: make(chan struct{}), closed: make(chan struct{})}
	c.writing.Store(true)
	return c
}

// policyPass relays everything as sent: no filter shrinks a payload.
func policyPass() privacy.Policy {
	return policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedAllow)
}

// vmRSS is the test process's resident set in bytes (server and clients
// share it: the server runs in-process).
func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// rssSampler records the peak of vmRSS until stopped.
func rssSampler(t *testing.T) (stop func() int64) {
	t.Helper()
	var peak atomic.Int64
	peak.Store(vmRSS(t))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if r := vmRSS(t); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// dialTinyWindow dials path with a 4 KiB receive buffer: a client that
// never reads then stalls the server's writes after a few kilobytes, so
// what piles up is veil's queue, not the kernel's buffers.
func dialTinyWindow(t *testing.T, ts *httptest.Server, path string) *wsClient {
	t.Helper()
	nd := net.Dialer{Control: tinyRcvBuf}
	d := websocket.Dialer{NetDial: nd.Dial}
	ws, resp, err := d.Dial(wsURL(ts, path), nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{t: t, ws: ws}
	w := c.recv()
	c.id = w.str("id")
	return c
}

// tinyRcvBuf is a net.Dialer Control that sets a 4 KiB receive buffer.
func tinyRcvBuf(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	}); err != nil {
		return err
	}
	return serr
}

// TestNeverReadingReceiversAreDropped: never-reading receivers fed with
// 64 KiB offers of '<' within the default rate limits are dropped once
// their queue holds SendQueueBytes, and the process grows by at most a few
// MB per receiver meanwhile. A well-behaved pair keeps signalling.
func TestNeverReadingReceiversAreDropped(t *testing.T) {
	const (
		receivers = 8
		// perReceiver is what one receiver may cost the process: its
		// queue (DefaultSendQueueBytes), the frame its writer holds, and
		// the sender's buffers.
		perReceiver = 3 << 20
		// fixed is the test's own overhead: clients, goroutines, GC slack.
		fixed = 16 << 20
		// sendLimit bounds the flood: 64 messages of 64 KiB per sender.
		sendLimit = 64
	)
	srv, ts := newTestServer(t, Config{}) // default limits
	good1, good2 := dial(t, ts, ""), dial(t, ts, "")
	good1.joinRoom("good")
	good2.joinRoom("good")
	good1.expect("peer-joined")

	type pair struct{ from, to *wsClient }
	pairs := make([]pair, receivers)
	for i := range pairs {
		to := dialTinyWindow(t, ts, "/ws")
		from := dial(t, ts, "")
		room := fmt.Sprintf("flood%d", i)
		to.joinRoom(room)
		from.joinRoom(room)
		pairs[i] = pair{from, to}
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := vmRSS(t)
	stop := rssSampler(t)

	var wg sync.WaitGroup
	var droppedN atomic.Int32
	for _, p := range pairs {
		b := fitSDP(t, "<", DefaultMaxMessageBytes, true, func(sdp string) any {
			return msg{"type": "signal", "to": p.to.id, "data": msg{"sdp": msg{"type": "offer", "sdp": sdp}}}
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The sender reads its own frames (peer-left, errors) so it is
			// never the slow one; it stops once the receiver is gone.
			left := make(chan struct{})
			go func() {
				defer close(left)
				for {
					_ = p.from.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, f, err := p.from.ws.ReadMessage()
					if err != nil {
						return
					}
					if strings.Contains(string(f), `"peer-left"`) {
						droppedN.Add(1)
						return
					}
				}
			}()
			// Within the default byte rate: 64 KiB every 250 ms after the
			// burst, 256 KiB/s.
			tick := time.NewTicker(time.Second * time.Duration(len(b)) / DefaultByteRate)
			defer tick.Stop()
			for range sendLimit {
				if p.from.ws.WriteMessage(websocket.TextMessage, b) != nil {
					return
				}
				select {
				case <-left:
					return
				case <-tick.C:
				}
			}
			<-left
		}()
	}
	wg.Wait()
	peak := stop()
	growth := peak - base
	t.Logf("RSS %d MiB at start, peak +%.1f MiB for %d receivers", base>>20, float64(growth)/(1<<20), receivers)
	assert.Equal(t, int32(receivers), droppedN.Load(), "every never-reading receiver is dropped")
	if !raceEnabled {
		assert.LessOrEqual(t, growth, int64(receivers*perReceiver+fixed), "RSS grows by a few MB per receiver at most")
	}
	good1.send(msg{"type": "signal", "to": good2.id, "data": msg{"candidate": msg{"candidate": relayCand}}})
	good2.expect("signal")
	require.Eventually(t, func() bool { return srv.queued.used.Load() == 0 }, 5*time.Second, 10*time.Millisecond,
		"dropped queues are given back to the budget")
}

// TestSendQueueByteBudgets: a receiver over its own byte budget, or
// backlogged while the total budget is spent, is dropped; one that keeps
// up is not.
func TestSendQueueByteBudgets(t *testing.T) {
	budget := &sendBudget{max: 100, share: 10}
	var dropped []string
	budget.limited = func(l string) { dropped = append(dropped, l) }
	mk := func(maxBytes int64) *conn {
		c := writerlessConn()
		c.maxBytes, c.budget = maxBytes, budget
		c.ws = serverWS(t) // drop cuts the socket's writes
		return c
	}
	a := mk(50)
	require.True(t, a.send(make([]byte, 30)))
	require.True(t, a.send(make([]byte, 20)))
	assert.False(t, a.send(make([]byte, 1)), "over its 50 bytes")
	assert.Equal(t, []string{limitSendQueue}, dropped)

	b, c := mk(1000), mk(1000)
	require.True(t, b.send(make([]byte, 50)))
	assert.Equal(t, int64(100), budget.used.Load())
	assert.False(t, b.send(make([]byte, 5)), "backlogged while the total is spent")
	assert.True(t, c.send(make([]byte, 5)), "an empty queue still gets its frame")
	assert.Equal(t, []string{limitSendQueue, limitSendQueueTotal}, dropped)

	for _, x := range []*conn{a, b, c} {
		x.releaseQueue()
	}
	assert.Zero(t, budget.used.Load(), "released queues give their bytes back")
}

// serverWS returns the server side of a fresh loopback WebSocket.
func serverWS(t *testing.T) *websocket.Conn {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err == nil {
			got <- ws
		}
	}))
	t.Cleanup(ts.Close)
	cl, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, "/"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	ws := <-got
	t.Cleanup(func() { _ = cl.Close(); _ = ws.Close() })
	return ws
}

// TestOversizeFrameCloses1009: a frame over the hard read limit gets a
// 1009 close frame the client reads, not a TCP reset, even while the
// client is still writing it.
func TestOversizeFrameCloses1009(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	for _, size := range []int{DefaultMaxMessageBytes*hardMaxFactor + 1, 4 << 20} {
		a := dial(t, ts, "")
		go func() { _ = a.ws.WriteMessage(websocket.TextMessage, make([]byte, size)) }()
		_ = a.ws.SetReadDeadline(time.Now().Add(recvTimeout))
		_, _, err := a.ws.ReadMessage()
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "size %d", size)
		assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)
	}
	// gorilla's own 1009 can reach the client before the server counts.
	assert.Eventually(t, func() bool { return metricValue(t, srv, "veil_rate_limited_total", limitReadLimit) == 2 },
		5*time.Second, 10*time.Millisecond, "each 1009 is counted")
}

// TestPendingPlaysCapped: a native peer plays or awaits at most
// MaxPeerPlays streams; one more is too-many-plays, replaying one it has
// is fine, and stopping frees a slot.
func TestPendingPlaysCapped(t *testing.T) {
	srv, ts := newTestServer(t, Config{ActionRate: -1})
	a := dial(t, ts, "")
	for i := range DefaultMaxPeerPlays {
		a.send(msg{"type": "play", "stream": fmt.Sprintf("s%d", i)})
		a.expect("waiting")
	}
	a.send(msg{"type": "play", "stream": "one-more"})
	a.expectError(CodeTooManyPlays)
	a.send(msg{"type": "play", "stream": "s0"})
	a.expect("waiting")
	assert.Equal(t, int64(DefaultMaxPeerPlays), srv.Hub().Streams(), "a refused play holds nothing")
	require.NoError(t, a.ws.Close())
	require.Eventually(t, func() bool { return srv.Hub().Streams() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestHubJoinMigratePlayRacingDisconnects: joins, migrations and plays
// racing the target's Unregister never leave a dead member, viewer or
// publisher behind: once every peer is unregistered, every room and
// stream is gone.
func TestHubJoinMigratePlayRacingDisconnects(t *testing.T) {
	const rounds = 3000
	h := NewHub(Limits{MaxRoomPeers: 80, MaxPeerRooms: 16, MaxPeerStreams: 4, MaxPeerPlays: 16}, nil)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < rounds && time.Now().Before(deadline); i++ {
		d := NewPeer(vdoNS, nopClient{})
		target := NewPeer(vdoNS, nopClient{})
		require.NoError(t, h.Register(d))
		require.NoError(t, h.Register(target))
		room := fmt.Sprintf("r%d", i%7)
		require.NoError(t, h.JoinClaim(d, room+"-d", "", true))
		require.NoError(t, h.JoinClaim(target, room+"-d", "", false))
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); _ = h.Migrate(d, target.id, room+"-dest") }()
		go func() { defer wg.Done(); _ = h.Play(target, room+"-s", "") }()
		go func() { defer wg.Done(); _ = h.JoinClaim(target, room+"-j", "", i%2 == 0) }()
		go func() { defer wg.Done(); _ = h.Publish(target, room+"-p", "") }()
		if i%2 == 0 {
			runtime.Gosched()
		}
		h.Unregister(target)
		wg.Wait()
		h.Unregister(d)
	}
	assert.Zero(t, h.Rooms(), "rooms left")
	assert.Zero(t, h.Streams(), "streams left")
	assert.Zero(t, h.dir.Len(), "ids left")
}

type nopClient struct{}

func (nopClient) Notify(Event) {}

// TestHeldHalfRequests: connections that announce a body and never send
// it are answered and closed at once, those beyond the per-address cap are
// closed at accept, and a client from another address still joins and
// signals.
func TestHeldHalfRequests(t *testing.T) {
	const perIP = 8
	srv, err := New(Config{MaxHTTPConnectionsPerIP: perIP, ListenerExempt: func(netip.Addr) bool { return false }})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(srv.LimitListener(ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	addr := ln.Addr().String()

	// The hostile client holds connections from 127.0.0.2, each with a
	// request whose body never comes.
	hostile := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			_ = c.Close()
		}
	})
	answered, refused := 0, 0
	for i := range 4 * perIP {
		c, err := hostile.Dial("tcp", addr)
		require.NoError(t, err)
		held = append(held, c)
		req := "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
		if i%2 == 1 {
			req = "GET /privacy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		}
		_, _ = c.Write([]byte(req))
		_ = c.SetReadDeadline(time.Now().Add(recvTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			refused++ // closed at accept: no answer at all
			continue
		}
		answered++
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		var ne net.Error
		if assert.Error(t, err) && errors.As(err, &ne) {
			assert.False(t, ne.Timeout(), "the connection is closed right after the answer")
		}
	}
	assert.Positive(t, answered)
	t.Logf("%d answered with 413, %d closed at accept", answered, refused)

	// Now hold perIP connections open without finishing a request: the
	// address is at its cap, the next one is closed at accept.
	for range perIP {
		c, err := hostile.Dial("tcp", addr)
		require.NoError(t, err)
		held = append(held, c)
		_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\n"))
	}
	require.Eventually(t, func() bool {
		c, err := hostile.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer func() { _ = c.Close() }()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		return err == io.EOF
	}, 5*time.Second, 50*time.Millisecond, "the address is at its cap")

	// A well-behaved pair from 127.0.0.1 joins and signals.
	ts := &httptest.Server{URL: "http://" + addr}
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("ok")
	b.joinRoom("ok")
	a.expect("peer-joined")
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": msg{"candidate": relayCand}}})
	b.expect("signal")
}

// TestPeerJSHeldBytesCapped: large offers for absent ids are held up to
// the byte caps per id, per sender and in total (veil_peerjs_held_bytes);
// one more gets EXPIRE at once, long before the expire timeout.
func TestPeerJSHeldBytesCapped(t *testing.T) {
	srv, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1, PeerJS: PeerJSConfig{ExpireTimeout: time.Hour}})
	offer := func(c *wsClient, dst string) {
		c.sendRaw(fitSDP(t, "<", 60<<10, true, func(sdp string) any {
			return msg{"type": "OFFER", "dst": dst, "payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}}
		}))
	}
	held := func() float64 { return metricValueNoLabel(t, srv, "veil_peerjs_held_bytes") }

	// Per id: 256 KiB is four 60 KiB offers.
	a := pjDial(t, ts, "alice", "ta")
	for range peerjsHeldBytesPerDst / (60 << 10) {
		offer(a, "nobody")
	}
	offer(a, "nobody")
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, a.expect("EXPIRE"))
	assert.LessOrEqual(t, held(), float64(peerjsHeldBytesPerDst))

	// Per sender: 512 KiB over several ids.
	b := pjDial(t, ts, "bob", "tb")
	for i := range peerjsHeldBytesPerSrc / (60 << 10) {
		offer(b, fmt.Sprintf("absent%d", i/2))
	}
	offer(b, "absent-last")
	assert.Equal(t, "absent-last", b.expect("EXPIRE").str("src"))
	assert.LessOrEqual(t, held(), float64(peerjsHeldBytesPerDst+peerjsHeldBytesPerSrc))
	assert.Positive(t, held())
}

// TestLimitListenerCaps: LimitListener closes connections over its total
// and per-address caps at accept, gives slots back when connections close,
// exempts what ListenerExempt says, and counts what it refuses.
func TestLimitListenerCaps(t *testing.T) {
	for _, tc := range []struct {
		name          string
		total, perIP  int
		exempt        bool
		wantOpen      int // connections from one address that stay open
		refusedMetric string
	}{
		{"total", 3, -1, false, 3, limitListenerTotal},
		{"per address", -1, 2, false, 2, limitListenerIP},
		{"exempt address", 100, 2, true, 5, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New(Config{MaxHTTPConnections: tc.total, MaxHTTPConnectionsPerIP: tc.perIP,
				ListenerExempt: func(netip.Addr) bool { return tc.exempt }})
			require.NoError(t, err)
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ln := srv.LimitListener(raw)
			t.Cleanup(func() { _ = ln.Close() })
			accepted := make(chan net.Conn, 16)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						close(accepted)
						return
					}
					accepted <- c
				}
			}()
			var server []net.Conn
			t.Cleanup(func() { closeAll(server...) })
			dialOne := func() (open bool) {
				c, err := net.Dial("tcp", raw.Addr().String())
				require.NoError(t, err)
				t.Cleanup(func() { _ = c.Close() })
				select {
				case sc := <-accepted:
					server = append(server, sc)
					return true
				case <-time.After(300 * time.Millisecond):
					_ = c.SetReadDeadline(time.Now().Add(time.Second))
					_, err := c.Read(make([]byte, 1))
					require.Error(t, err, "a refused connection is closed")
					return false
				}
			}
			open := 0
			for range 5 {
				if dialOne() {
					open++
				}
			}
			assert.Equal(t, tc.wantOpen, open)
			assert.Equal(t, float64(open), metricValueNoLabel(t, srv, "veil_http_connections"))
			if tc.refusedMetric != "" {
				assert.Equal(t, float64(5-open), metricValue(t, srv, "veil_rate_limited_total", tc.refusedMetric))
				// A closed connection gives its slot back.
				require.NoError(t, server[0].Close())
				server = server[1:]
				assert.True(t, dialOne(), "a freed slot is reused")
			}
		})
	}
}

// metricValueNoLabel reads an unlabeled gauge or counter of srv.
func metricValueNoLabel(t *testing.T, srv *Server, name string) float64 {
	t.Helper()
	mfs, err := srv.MetricsRegistry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s is not exported", name)
	return 0
}
