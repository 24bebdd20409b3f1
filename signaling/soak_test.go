package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"go.uber.org/goleak"
)

// The soak test runs every hostile signaling and HTTP client of issue 12
// at once, next to well-behaved pairs, on loopback, then checks that the
// pairs kept working and that open files, goroutines and RSS came back.
//
// CI: it runs for soakDefault (60 s) unless VEIL_SOAK sets another
// duration ("20s", "2m"); it is skipped under -short.
const (
	soakDefault = 60 * time.Second
	soakEnvVar  = "VEIL_SOAK"
)

// soakHostile is one hostile client: it attacks srvAddr until ctx ends,
// from source address src, and must give back everything it opened.
type soakHostile struct {
	name string
	run  func(ctx context.Context, env *soakEnv)
}

// soakEnv is what a hostile client gets: where the server listens, the
// loopback address to attack from, and the server for state checks.
type soakEnv struct {
	addr string // host:port of the HTTP listener
	src  net.IP // a loopback address of this hostile's own
	srv  *Server
}

func (e *soakEnv) dialer(tiny bool) *websocket.Dialer {
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: e.src}, Timeout: 5 * time.Second}
	if tiny {
		nd.Control = testutil.TinyRcvBuf
	}
	return &websocket.Dialer{NetDial: nd.Dial, HandshakeTimeout: 5 * time.Second}
}

// ws dials path from e.src; nil on error (a hostile client just retries).
func (e *soakEnv) ws(path string) *websocket.Conn { return e.dial(path, false) }

// wsTiny is ws with a 4 KiB receive buffer (see testutil.DialTinyWindow).
func (e *soakEnv) wsTiny(path string) *websocket.Conn { return e.dial(path, true) }

func (e *soakEnv) dial(path string, tiny bool) *websocket.Conn {
	c, resp, err := e.dialer(tiny).Dial("ws://"+e.addr+path, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil
	}
	return c
}

// readAll reads and discards c's frames until it fails.
func readAll(c *websocket.Conn) {
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// sleepCtx waits d or until ctx ends; false when it ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// soakHostiles are the hostile clients of the signaling, HTTP and TURN
// sections (TURN: soak_turn_test.go); each gets its own loopback source
// address.
func soakHostiles() []soakHostile {
	return []soakHostile{
		{"never-reading receivers fed 64 KiB offers of '<'", soakNeverReading},
		{"half-requests: a body announced and never sent", soakHalfRequests},
		{"pending plays beyond the cap", soakPlays},
		{"frames over the read limit", soakOversize},
		{"VDO.Ninja migrate racing disconnects", soakMigrate},
		{"PeerJS offers held for absent ids", soakPeerJSHeld},
		{"garbage frames", soakGarbage},
		{"TURN: idle TCP connections", soakTURNIdleTCP},
		{"TURN: credential sets allocating from one address", soakTURNAllocations},
		{"TURN: CreatePermission flood", soakTURNPermissions},
		{"TURN: request flood", soakTURNRequestFlood},
	}
}

func soakNeverReading(ctx context.Context, e *soakEnv) {
	// Three senders per receiver, each within the default byte rate, so
	// the receiver's queue fills within seconds.
	const senders = 3
	sdp := testutil.HostileSDP("<", 60<<10)
	for ctx.Err() == nil {
		recv := e.wsTiny("/ws")
		if recv == nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		var welcome struct{ ID string }
		_ = recv.SetReadDeadline(time.Now().Add(5 * time.Second))
		_ = recv.ReadJSON(&welcome)
		room := "flood-" + welcome.ID
		_ = recv.WriteJSON(msg{"type": "join", "room": room})
		// recv reads nothing from now on.
		b := []byte(testutil.RawJSON.Replace(string(mustMarshalNoT(msg{"type": "signal", "to": welcome.ID, "data": msg{"sdp": msg{"type": "offer", "sdp": sdp}}}))))
		var wg sync.WaitGroup
		for range senders {
			send := e.ws("/ws")
			if send == nil {
				continue
			}
			_ = send.WriteJSON(msg{"type": "join", "room": room})
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer closeAll(send)
				left := make(chan struct{})
				go func() {
					defer close(left)
					for {
						_ = send.SetReadDeadline(time.Now().Add(30 * time.Second))
						_, f, err := send.ReadMessage()
						if err != nil || strings.Contains(string(f), `"peer-left"`) {
							return
						}
					}
				}()
				defer func() { closeAll(send); <-left }()
				for range 200 {
					if send.WriteMessage(websocket.TextMessage, b) != nil {
						return
					}
					select {
					case <-left:
						return
					case <-ctx.Done():
						return
					case <-time.After(time.Second * time.Duration(len(b)) / DefaultByteRate):
					}
				}
			}()
		}
		wg.Wait()
		closeAll(recv)
	}
}

func soakHalfRequests(ctx context.Context, e *soakEnv) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: e.src}, Timeout: 5 * time.Second}
	var held []net.Conn
	defer func() { closeAll(held...) }()
	reqs := []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
		"GET /privacy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n", // headers never end
	}
	for i := 0; ctx.Err() == nil; i++ {
		c, err := d.Dial("tcp", e.addr)
		if err != nil {
			sleepCtx(ctx, 10*time.Millisecond)
			continue
		}
		_, _ = c.Write([]byte(reqs[i%len(reqs)]))
		held = append(held, c)
		if len(held) >= 200 {
			// Keep at most 200 sockets of our own open; the server has
			// closed most of them already.
			closeAll(held[:100]...)
			held = append(held[:0], held[100:]...)
		}
		sleepCtx(ctx, 2*time.Millisecond)
	}
}

func soakPlays(ctx context.Context, e *soakEnv) {
	for ctx.Err() == nil {
		c := e.ws("/ws")
		if c == nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() { readAll(c); close(done) }()
		for i := 0; i < DefaultActionBurst+DefaultMaxPeerPlays && ctx.Err() == nil; i++ {
			_ = c.WriteJSON(msg{"type": "play", "stream": fmt.Sprintf("pending-%d", i)})
		}
		sleepCtx(ctx, 500*time.Millisecond)
		closeAll(c)
		<-done
	}
}

func soakOversize(ctx context.Context, e *soakEnv) {
	for ctx.Err() == nil {
		c := e.ws("/ws")
		if c == nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		go func() { _ = c.WriteMessage(websocket.TextMessage, make([]byte, 2<<20)) }()
		readAll(c)
		closeAll(c)
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

func soakMigrate(ctx context.Context, e *soakEnv) {
	for i := 0; ctx.Err() == nil; i++ {
		d, target := e.ws("/vdo"), e.ws("/vdo")
		if d == nil || target == nil {
			closeAll(d, target)
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		room := fmt.Sprintf("mig%d", i%5)
		_ = d.WriteJSON(msg{"request": "joinroom", "roomid": room, "claim": true})
		_ = target.WriteJSON(msg{"request": "joinroom", "roomid": room})
		_ = target.WriteJSON(msg{"request": "play", "streamID": room + "s"})
		// The director learns the target's UUID from its listing or from
		// the join that follows it.
		var targetID string
		for range 5 {
			var m struct {
				UUID string
				List []struct{ UUID string }
			}
			_ = d.SetReadDeadline(time.Now().Add(2 * time.Second))
			if d.ReadJSON(&m) != nil {
				break
			}
			if len(m.List) > 0 {
				m.UUID = m.List[0].UUID
			}
			if targetID = m.UUID; targetID != "" {
				break
			}
		}
		go func() { _ = d.WriteJSON(msg{"request": "migrate", "roomid": room + "b", "target": targetID}) }()
		closeAll(target)
		sleepCtx(ctx, 20*time.Millisecond)
		closeAll(d)
	}
}

func soakPeerJSHeld(ctx context.Context, e *soakEnv) {
	for i := 0; ctx.Err() == nil; i++ {
		c := e.ws(testutil.PJWS(fmt.Sprintf("holder%d", i), "t"))
		if c == nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() { readAll(c); close(done) }()
		sdp := testutil.HostileSDP("<", 60<<10)
		for j := 0; j < 32 && ctx.Err() == nil; j++ {
			b := testutil.RawJSON.Replace(string(mustMarshalNoT(msg{"type": "OFFER", "dst": fmt.Sprintf("absent%d-%d", i, j),
				"payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}})))
			if c.WriteMessage(websocket.TextMessage, []byte(b)) != nil {
				break
			}
			sleepCtx(ctx, 250*time.Millisecond)
		}
		closeAll(c)
		<-done
	}
}

func soakGarbage(ctx context.Context, e *soakEnv) {
	for ctx.Err() == nil {
		c := e.ws("/ws")
		if c == nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() { readAll(c); close(done) }()
		for range 2 * edge.MaxStrikes {
			if c.WriteMessage(websocket.TextMessage, []byte(`{"type":`)) != nil {
				break
			}
		}
		<-done // closed with 1008
		closeAll(c)
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// closeAll closes the connections that are not nil.
func closeAll[C comparable](cs ...C) {
	var zero C
	for _, c := range cs {
		if cl, ok := any(c).(interface{ Close() error }); ok && c != zero {
			_ = cl.Close()
		}
	}
}

func mustMarshalNoT(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// soakPair connects two well-behaved native clients from 127.0.0.1, has
// them meet in a room and exchange an offer and a candidate, and hangs up.
func soakPair(addr string, i int, cand string) error {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	var cs [2]*websocket.Conn
	var ids [2]string
	defer func() {
		for _, c := range cs {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	recv := func(c *websocket.Conn, typ string) (msg, error) {
		for {
			_ = c.SetReadDeadline(time.Now().Add(testutil.RecvTimeout))
			var m msg
			if err := c.ReadJSON(&m); err != nil {
				return nil, fmt.Errorf("waiting for %s: %w", typ, err)
			}
			if m.Str("type") == typ {
				return m, nil
			}
			if m.Str("type") == "error" {
				return nil, fmt.Errorf("waiting for %s: error %v", typ, m)
			}
		}
	}
	room := fmt.Sprintf("pair%d", i)
	for k := range cs {
		c, resp, err := d.Dial("ws://"+addr+"/ws", nil)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		cs[k] = c
		w, err := recv(c, "welcome")
		if err != nil {
			return err
		}
		ids[k] = w.Str("id")
		if err := c.WriteJSON(msg{"type": "join", "room": room}); err != nil {
			return err
		}
		if _, err := recv(c, "joined"); err != nil {
			return err
		}
	}
	if _, err := recv(cs[0], "peer-joined"); err != nil {
		return err
	}
	for k, data := range []msg{
		{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}},
		{"candidate": msg{"candidate": cand}},
	} {
		if err := cs[k%2].WriteJSON(msg{"type": "signal", "to": ids[1-k%2], "data": data}); err != nil {
			return err
		}
		if _, err := recv(cs[1-k%2], "signal"); err != nil {
			return err
		}
	}
	return nil
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// TestSoakHostileClients is the soak test (see soakDefault; skipped under
// -short). It is bounded: every hostile loop ends with the context, the
// pairs run one after another, and the whole test ends within the soak
// duration plus the time to wind down.
func TestSoakHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped under -short")
	}
	dur := soakDefault
	if v := os.Getenv(soakEnvVar); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "%s", soakEnvVar)
		dur = d
	}
	ignore := goleak.IgnoreCurrent()
	runtime.GC()
	debug.FreeOSMemory()
	baseFiles, baseRSS := openFiles(t), vmRSS(t)

	tsrv := startSoakTURN(t)
	srv, err := New(Config{
		TURN:                    tsrv.srv,
		MaxHTTPConnectionsPerIP: 256,
		// Hostile clients come from loopback; at the listener they are
		// treated as the remote clients they stand for.
		ListenerExempt: func(netip.Addr) bool { return false },
		PeerJS:         PeerJSConfig{ExpireTimeout: time.Second},
		// Dropped native peers park, and must be gone by the end.
		ResumeGrace: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 2 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(srv.LimitListener(ln)) }()
	addr := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	peakRSS := rssSampler(t)
	held := tsrv.holdRelay(t)
	pairCand := soakRelayCand(held.relay.LocalAddr())
	tsrv.runGood(ctx, addr)
	var wg sync.WaitGroup
	for i, h := range soakHostiles() {
		env := &soakEnv{addr: addr, src: soakSrc(i), srv: srv}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run(ctx, env)
		}()
	}

	// Well-behaved pairs from 127.0.0.1, one after another, all along.
	var pairs, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var slowest time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		start := time.Now()
		if err := soakPair(addr, i, pairCand); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
		} else {
			pairs.Add(1)
			slowest = max(slowest, time.Since(start))
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	wg.Wait()
	held.close()
	tsrv.check(t)
	t.Logf("peak RSS %d MiB", peakRSS()>>20)
	// Each hostile client met the bound meant for it.
	for _, l := range []string{edge.LimitSendQueue, "request-body"} {
		assert.Positive(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", l), "limit %s never hit", l)
	}
	for _, c := range []Code{CodeTooManyPlays, CodeBadJSON} {
		assert.Positive(t, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_errors_total", string(c)), "error %s never sent", c)
	}
	t.Logf("soak %v: %d pairs connected and signalled, %d failed, slowest %v", dur, pairs.Load(), failed.Load(), slowest)
	if e := firstErr.Load(); e != nil {
		t.Errorf("a well-behaved pair failed: %v", *e)
	}
	assert.Zero(t, failed.Load(), "every well-behaved pair connects and signals")
	assert.Positive(t, pairs.Load())

	// Wind down: every hostile socket is closed on our side; the server's
	// state, queues and held messages must empty.
	require.Eventually(t, func() bool {
		return srv.edge.Hub.Rooms() == 0 && srv.edge.Hub.Streams() == 0 && srv.edge.Hub.Peers() == 0 &&
			srv.edge.QueuedBytes() == 0
	}, 15*time.Second, 50*time.Millisecond, "rooms %d streams %d ids %d queued %d",
		srv.edge.Hub.Rooms(), srv.edge.Hub.Streams(), srv.edge.Hub.Peers(), srv.edge.QueuedBytes())
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	require.NoError(t, srv.Shutdown(shutCtx))
	require.NoError(t, hs.Shutdown(shutCtx))
	<-served
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("soak ended early: %v", ctx.Err())
	}

	goleak.VerifyNone(t, ignore)
	runtime.GC()
	debug.FreeOSMemory()
	files, rss := openFiles(t), vmRSS(t)
	t.Logf("open files %d -> %d, RSS %d MiB -> %d MiB", baseFiles, files, baseRSS>>20, rss>>20)
	assert.LessOrEqual(t, files, baseFiles+2, "open files return to baseline")
	if !raceEnabled { // the race detector's shadow memory is not given back
		assert.LessOrEqual(t, rss, baseRSS+soakRSSSlack, "RSS returns to baseline")
	}
}

// soakRSSSlack is how far above its start RSS may stay after the soak:
// the Go runtime keeps some of its heap mapped after FreeOSMemory, and the
// test itself (clients, buffers) has grown.
const soakRSSSlack = 24 << 20
