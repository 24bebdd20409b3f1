package signaling

import (
	"bufio"
	"context"
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
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// Tests of issue 12's bounds: bytes of queued and held data, the size of
// forwarded frames, HTTP requests and connections, hub state.

// TestForwardedFrameNeverOutgrowsItsMessage: in every protocol, an offer
// full of characters that encoding/json escapes ('<', U+2028) and sent raw
// or escaped leaves veil at most edge.MaxFrameGrowth bytes larger than it came.
func TestForwardedFrameNeverOutgrowsItsMessage(t *testing.T) {
	_, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1})
	for _, chars := range []string{"<", "&>", "\u2028", "\u2029<"} {
		t.Run(fmt.Sprintf("%+q", chars), func(t *testing.T) {
			// A raw client: json.Marshal of the test escapes, so send the
			// characters raw as a browser's JSON.stringify does, and
			// escaped as Go clients do.
			for _, raw := range []bool{true, false} {
				send := func(c *wsClient, b []byte) int {
					c.SendRaw(b)
					return len(b)
				}

				a, b := dial(t, ts, ""), dial(t, ts, "")
				room := fmt.Sprintf("grow-%t-%x", raw, chars)
				a.JoinRoom(room)
				b.JoinRoom(room)
				a.Expect("peer-joined")
				m := testutil.FitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"type": "signal", "to": b.ID, "data": msg{"sdp": msg{"type": "offer", "sdp": sdp}}}
				})
				in := send(a, m)
				out := b.RecvRaw()
				assert.LessOrEqual(t, len(out), in+edge.MaxFrameGrowth, "native: %d bytes in", in)
				if chars[0] < utf8.RuneSelf {
					assert.Contains(t, string(out), chars, "forwarded raw")
				} else {
					// Under forced relay a line outside printable ASCII
					// does not cross (strict SDP grammar).
					assert.NotContains(t, string(out), "s=", "the session-name line is dropped")
				}

				pa := testutil.PJDial(t, ts, fmt.Sprintf("pa%t%x", raw, chars), "t")
				pb := testutil.PJDial(t, ts, fmt.Sprintf("pb%t%x", raw, chars), "t")
				m = testutil.FitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"type": "OFFER", "dst": pb.ID, "payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}}
				})
				in = send(pa, m)
				out = pb.RecvRaw()
				assert.LessOrEqual(t, len(out), in+edge.MaxFrameGrowth, "peerjs: %d bytes in", in)

				pub, viewer, pubID, _ := testutil.VDOPair(t, ts, "", fmt.Sprintf("s%t%x", raw, chars))
				m = testutil.FitSDP(t, chars, DefaultMaxMessageBytes, raw, func(sdp string) any {
					return msg{"UUID": pubID, "session": "s1", "description": msg{"type": "offer", "sdp": sdp}}
				})
				in = send(viewer.Client, m)
				out = pub.RecvRaw()
				assert.LessOrEqual(t, len(out), in+edge.MaxFrameGrowth, "vdo: %d bytes in", in)
			}
		})
	}
}

// TestGrowingPayloadRefused: a debug payload whose numbers are spelled
// short and would be written long, or whose values turn into null, is
// either forwarded within edge.MaxFrameGrowth or refused.
func TestGrowingPayloadRefused(t *testing.T) {
	_, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1, Policy: policyPass()})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	nums := "[" + strings.Repeat("1e20,", 10000) + "1]"
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	for _, data := range []string{`{"n":` + nums + `}`, `{"d":` + deep + `}`} {
		in := []byte(`{"type":"debug","to":"` + b.ID + `","data":` + data + `}`)
		a.SendRaw(in)
		a.Send(msg{"type": "ping", "rid": "sync"})
		for {
			m := a.Recv()
			if m.Str("type") == "pong" {
				break
			}
			require.Equal(t, string(CodeBadMessage), m.Str("code"), "got %v", m)
		}
		b.Send(msg{"type": "ping", "rid": "sync"})
		for {
			out := b.RecvRaw()
			if strings.Contains(string(out), `"pong"`) {
				break
			}
			assert.LessOrEqual(t, len(out), len(in)+edge.MaxFrameGrowth)
		}
	}
}

// policyPass relays everything as sent: no filter shrinks a payload.
func policyPass() privacy.Policy {
	return testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedAllow)
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
	good1.JoinRoom("good")
	good2.JoinRoom("good")
	good1.Expect("peer-joined")

	type pair struct{ from, to *wsClient }
	pairs := make([]pair, receivers)
	for i := range pairs {
		to := testutil.DialTinyWindow(t, ts, "/ws")
		from := dial(t, ts, "")
		room := fmt.Sprintf("flood%d", i)
		to.JoinRoom(room)
		from.JoinRoom(room)
		pairs[i] = pair{from, to}
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := vmRSS(t)
	stop := rssSampler(t)

	var wg sync.WaitGroup
	var droppedN atomic.Int32
	for _, p := range pairs {
		b := testutil.FitSDP(t, "<", DefaultMaxMessageBytes, true, func(sdp string) any {
			return msg{"type": "signal", "to": p.to.ID, "data": msg{"sdp": msg{"type": "offer", "sdp": sdp}}}
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
					_ = p.from.WS.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, f, err := p.from.WS.ReadMessage()
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
				if p.from.WS.WriteMessage(websocket.TextMessage, b) != nil {
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
	good1.Send(msg{"type": "signal", "to": good2.ID, "data": msg{"candidate": msg{"candidate": testutil.RelayCand}}})
	good2.Expect("signal")
	require.Eventually(t, func() bool { return srv.edge.QueuedBytes() == 0 }, 5*time.Second, 10*time.Millisecond,
		"dropped queues are given back to the budget")
}

// TestOversizeFrameCloses1009: a frame over the hard read limit gets a
// 1009 close frame the client reads, not a TCP reset, even while the
// client is still writing it.
func TestOversizeFrameCloses1009(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	for _, size := range []int{DefaultMaxMessageBytes*edge.HardMaxFactor + 1, 4 << 20} {
		a := dial(t, ts, "")
		go func() { _ = a.WS.WriteMessage(websocket.TextMessage, make([]byte, size)) }()
		_ = a.WS.SetReadDeadline(time.Now().Add(testutil.RecvTimeout))
		_, _, err := a.WS.ReadMessage()
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "size %d", size)
		assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)
	}
	// gorilla's own 1009 can reach the client before the server counts.
	assert.Eventually(t, func() bool {
		return testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", edge.LimitReadLimit) == 2
	},
		5*time.Second, 10*time.Millisecond, "each 1009 is counted")
}

// TestPendingPlaysCapped: a native peer plays or awaits at most
// MaxPeerPlays streams; one more is too-many-plays, replaying one it has
// is fine, and stopping frees a slot.
func TestPendingPlaysCapped(t *testing.T) {
	srv, ts := newTestServer(t, Config{ActionRate: -1, ResumeGrace: -1}) // the close below is a drop: no parking
	a := dial(t, ts, "")
	for i := range DefaultMaxPeerPlays {
		a.Send(msg{"type": "play", "stream": fmt.Sprintf("s%d", i)})
		a.Expect("waiting")
	}
	a.Send(msg{"type": "play", "stream": "one-more"})
	a.ExpectError(CodeTooManyPlays)
	a.Send(msg{"type": "play", "stream": "s0"})
	a.Expect("waiting")
	assert.Equal(t, int64(DefaultMaxPeerPlays), srv.edge.Hub.Streams(), "a refused play holds nothing")
	require.NoError(t, a.WS.Close())
	require.Eventually(t, func() bool { return srv.edge.Hub.Streams() == 0 }, 5*time.Second, 10*time.Millisecond)
}

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
		_ = c.SetReadDeadline(time.Now().Add(testutil.RecvTimeout))
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
	a.JoinRoom("ok")
	b.JoinRoom("ok")
	a.Expect("peer-joined")
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": testutil.RelayCand}}})
	b.Expect("signal")
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
		{"total", 3, -1, false, 3, edge.LimitListenerTotal},
		{"per address", -1, 2, false, 2, edge.LimitListenerIP},
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
			assert.Equal(t, float64(open), testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_http_connections"))
			if tc.refusedMetric != "" {
				assert.Equal(t, float64(5-open), testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", tc.refusedMetric))
				// A closed connection gives its slot back.
				require.NoError(t, server[0].Close())
				server = server[1:]
				assert.True(t, dialOne(), "a freed slot is reused")
			}
		})
	}
}

// TestHalfSentMessageTimesOut: a message whose first fragment arrived must
// arrive whole within messageWait; pongs, which may come between
// fragments, do not extend it, so a peer cannot park a half-sent message
// of up to the read limit in veil's memory by ponging.
func TestHalfSentMessageTimesOut(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	srv.edge.MessageWait = 300 * time.Millisecond
	c := dial(t, ts, "")
	w, err := c.WS.NextWriter(websocket.TextMessage)
	require.NoError(t, err)
	// More than gorilla's write buffer: a non-final frame goes out.
	_, err = w.Write([]byte(`{"type":"ping","rid":"` + strings.Repeat("x", 8<<10)))
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.WS.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	for range 30 { // 3 s of pongs, ten times messageWait
		select {
		case <-closed:
			return
		case <-time.After(100 * time.Millisecond):
			_ = c.WS.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
		}
	}
	t.Fatal("a half-sent message kept its connection alive past messageWait")
}
