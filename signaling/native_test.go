package signaling

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/veilrtc/veil/privacy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A host candidate and a relay candidate as Chrome sends them.
const (
	hostCand  = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 ufrag abcd network-id 1"
	relayCand = "candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0 ufrag abcd"
)

func TestWelcome(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := dial(t, ts, "")
	b := dial(t, ts, "")

	assert.EqualValues(t, 1, a.welcome["version"])
	raw, err := base64.RawURLEncoding.DecodeString(a.id)
	require.NoError(t, err, "id must be URL-safe base64")
	assert.GreaterOrEqual(t, len(raw)*8, 128, "ids carry at least 128 random bits")
	assert.NotEqual(t, a.id, b.id)
	assert.Equal(t, "relay", a.welcome.str("iceTransportPolicy"))
	assert.Equal(t, []any{}, a.welcome["iceServers"])
	assert.Equal(t, map[string]any{"relay": "force", "sysinfo": "strip", "sealed": "deny", "retention": "none", "logs": "redacted"}, a.welcome["policy"])
}

func TestWelcomePolicyFollowsRelayChoice(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOptional
	_, ts := newTestServer(t, Config{Policy: p, ICEServers: func(r *http.Request, id string) []ICEServer {
		return []ICEServer{{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Username: "u:" + id, Credential: "c"}}
	}})
	plain := dial(t, ts, "")
	asked := dial(t, ts, "?relay=1")
	assert.Equal(t, "all", plain.welcome.str("iceTransportPolicy"))
	assert.Equal(t, "relay", asked.welcome.str("iceTransportPolicy"))
	servers := asked.welcome["iceServers"].([]any)
	require.Len(t, servers, 1)
	assert.Equal(t, "u:"+asked.id, servers[0].(map[string]any)["username"])
}

func TestJoinLeave(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")

	j := a.joinRoom("room-1")
	assert.Equal(t, "room-1", j.str("room"))
	assert.Equal(t, []any{}, j["peers"])

	b.send(msg{"type": "join", "room": "room-1", "rid": "r1"})
	j = b.expect("joined")
	assert.Equal(t, "r1", j.str("rid"))
	assert.Equal(t, []any{map[string]any{"id": a.id}}, j["peers"])

	pj := a.expect("peer-joined")
	assert.Equal(t, "room-1", pj.str("room"))
	assert.Equal(t, map[string]any{"id": b.id}, pj["peer"])

	b.send(msg{"type": "leave", "room": "room-1", "rid": "r2"})
	l := b.expect("left")
	assert.Equal(t, "r2", l.str("rid"))
	pl := a.expect("peer-left")
	assert.Equal(t, b.id, pl.str("peer"))
	assert.Equal(t, "room-1", pl.str("room"))

	b.send(msg{"type": "leave", "room": "room-1", "rid": "r3"})
	e := b.expectError(CodeNotInRoom)
	assert.Equal(t, "r3", e.str("rid"))
	assert.Equal(t, "leave", e.str("ref"))
}

func TestDisconnectLeavesRooms(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	require.NoError(t, b.ws.Close())
	pl := a.expect("peer-left")
	assert.Equal(t, b.id, pl.str("peer"))
}

func TestRoomFullAndTooManyRooms(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxRoomPeers: 2, MaxPeerRooms: 2})
	a, b, c := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("full")
	b.joinRoom("full")
	c.send(msg{"type": "join", "room": "full", "rid": "x"})
	e := c.expectError(CodeRoomFull)
	assert.Equal(t, "x", e.str("rid"))

	c.joinRoom("one")
	c.joinRoom("two")
	c.send(msg{"type": "join", "room": "three"})
	c.expectError(CodeTooManyRooms)
	c.joinRoom("two") // joining a room again is not a new room
	c.roundTrip()
}

func TestPublishPlay(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer, member, thief := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")

	// A play before the publisher exists waits.
	viewer.send(msg{"type": "play", "stream": "s1", "rid": "p"})
	w := viewer.expect("waiting")
	assert.Equal(t, "s1", w.str("stream"))
	assert.Equal(t, "p", w.str("rid"))

	member.joinRoom("lobby")
	pub.joinRoom("lobby")
	member.expect("peer-joined")

	pub.send(msg{"type": "publish", "stream": "s1", "rid": "q"})
	p := pub.expect("published")
	assert.Equal(t, "q", p.str("rid"))
	v := pub.expect("viewer")
	assert.Equal(t, viewer.id, v.str("peer"))
	assert.Equal(t, "s1", v.str("stream"))

	pl := viewer.expect("playing")
	assert.Equal(t, pub.id, pl.str("peer"))
	assert.Empty(t, pl.str("rid"), "a pending play satisfied later is not a reply")

	sa := member.expect("stream-added")
	assert.Equal(t, msg{"type": "stream-added", "room": "lobby", "peer": pub.id, "stream": "s1"}, sa)

	thief.send(msg{"type": "publish", "stream": "s1"})
	thief.expectError(CodeStreamInUse)

	// A play of a live stream is answered with playing at once.
	late := dial(t, ts, "")
	late.send(msg{"type": "play", "stream": "s1", "rid": "z"})
	pl = late.expect("playing")
	assert.Equal(t, "z", pl.str("rid"))
	assert.Equal(t, pub.id, pl.str("peer"))
	assert.Equal(t, late.id, pub.expect("viewer").str("peer"))

	// The joined list shows a member's stream.
	newcomer := dial(t, ts, "")
	j := newcomer.joinRoom("lobby")
	assert.Contains(t, j["peers"], map[string]any{"id": pub.id, "stream": "s1"})
}

func TestStreamEndedAndRepublish(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer := dial(t, ts, ""), dial(t, ts, "")
	pub.send(msg{"type": "publish", "stream": "live"})
	pub.expect("published")
	viewer.send(msg{"type": "play", "stream": "live"})
	viewer.expect("playing")
	pub.expect("viewer")

	pub.send(msg{"type": "unpublish", "stream": "live", "rid": "u"})
	assert.Equal(t, "u", pub.expect("unpublished").str("rid"))
	assert.Equal(t, "live", viewer.expect("stream-ended").str("stream"))

	pub.send(msg{"type": "unpublish", "stream": "live"})
	pub.expectError(CodeBadMessage)

	// The play went back to pending: a new publisher serves it.
	pub2 := dial(t, ts, "")
	pub2.send(msg{"type": "publish", "stream": "live"})
	pub2.expect("published")
	assert.Equal(t, viewer.id, pub2.expect("viewer").str("peer"))
	assert.Equal(t, pub2.id, viewer.expect("playing").str("peer"))

	// The publisher's disconnect ends the stream too.
	require.NoError(t, pub2.ws.Close())
	assert.Equal(t, "live", viewer.expect("stream-ended").str("stream"))
}

func TestSignalRouting(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b, stranger := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")
	offer := msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}

	// Before sharing anything, even a live id is unknown.
	a.send(msg{"type": "signal", "to": b.id, "data": offer, "rid": "s"})
	e := a.expectError(CodeUnknownPeer)
	assert.Equal(t, "s", e.str("rid"))
	assert.Equal(t, "signal", e.str("ref"))

	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")

	a.send(msg{"type": "signal", "to": b.id, "data": offer, "extra": "dropped"})
	got := b.expect("signal")
	assert.Equal(t, a.id, got.str("from"))
	assert.NotContains(t, got, "extra")
	assert.NotContains(t, got, "to")
	assert.Equal(t, "offer", got["data"].(map[string]any)["sdp"].(map[string]any)["type"])

	for _, to := range []string{stranger.id, a.id, "nonexistent-id-000000000000", strings.Repeat("x", 300)} {
		a.send(msg{"type": "signal", "to": to, "data": offer})
		a.expectError(CodeUnknownPeer)
	}
	stranger.send(msg{"type": "signal", "to": a.id, "data": offer})
	stranger.expectError(CodeUnknownPeer)

	// Publisher and viewer may signal each other without sharing a room.
	pub, viewer := dial(t, ts, ""), dial(t, ts, "")
	pub.send(msg{"type": "publish", "stream": "st"})
	pub.expect("published")
	viewer.send(msg{"type": "play", "stream": "st"})
	viewer.expect("playing")
	pub.expect("viewer")
	pub.send(msg{"type": "signal", "to": viewer.id, "data": offer})
	assert.Equal(t, pub.id, viewer.expect("signal").str("from"))
	viewer.send(msg{"type": "signal", "to": pub.id, "data": msg{"candidate": nil}})
	s := pub.expect("signal")
	assert.Equal(t, map[string]any{"candidate": nil}, s["data"])

	// A pending viewer is not related to anyone yet.
	waiting := dial(t, ts, "")
	waiting.send(msg{"type": "play", "stream": "not-yet"})
	waiting.expect("waiting")
	waiting.send(msg{"type": "signal", "to": pub.id, "data": offer})
	waiting.expectError(CodeUnknownPeer)
}

func TestSignalValidation(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	for _, tc := range []struct {
		name string
		data any
	}{
		{"missing data", nil},
		{"empty object", msg{}},
		{"two payloads", msg{"candidate": nil, "sealed": "YQ"}},
		{"bad sdp type", msg{"sdp": msg{"type": "bogus", "sdp": "v=0\r\n"}}},
		{"sdp not sdp", msg{"sdp": msg{"type": "offer", "sdp": "hello"}}},
		{"candidate not object", msg{"candidate": 5}},
		{"data not object", "str"},
		{"sealed bad base64", msg{"sealed": "!!!"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.send(msg{"type": "signal", "to": b.id, "data": tc.data})
			a.expectError(CodeBadMessage)
		})
	}
	b.roundTrip() // nothing reached b
}

func TestRelayFilterOnSignals(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")

	// A host candidate is not forwarded at all.
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": msg{"candidate": hostCand, "sdpMid": "0", "sdpMLineIndex": 0}}})
	// A relay candidate is forwarded with its related address scrubbed.
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": msg{"candidate": relayCand, "sdpMid": "0", "sdpMLineIndex": 0, "bogus": 1}}})
	got := b.expect("signal")
	c := got["data"].(map[string]any)["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], "typ relay")
	assert.Contains(t, c["candidate"], "raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c["candidate"], "198.51.100.4")
	assert.Equal(t, "0", c["sdpMid"])
	assert.EqualValues(t, 0, c["sdpMLineIndex"])
	assert.NotContains(t, c, "bogus")

	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidates": []any{msg{"candidate": hostCand}, msg{"candidate": relayCand}}}})
	got = b.expect("signal")
	cs := got["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1)

	// Sealed payloads are refused while relay is forced (fail-secure).
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"sealed": "c2VjcmV0"}})
	a.expectError(CodeSealedDenied)
	b.roundTrip()
}

func TestRelayOffPassesCandidates(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOff
	_, ts := newTestServer(t, Config{Policy: p})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	assert.Equal(t, "all", a.welcome.str("iceTransportPolicy"))
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": msg{"candidate": hostCand}}})
	got := b.expect("signal")
	assert.Equal(t, hostCand, got["data"].(map[string]any)["candidate"].(map[string]any)["candidate"])
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"sealed": "c2VjcmV0"}})
	assert.Equal(t, "c2VjcmV0", b.expect("signal")["data"].(map[string]any)["sealed"])
}

func TestDebugIsSanitized(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	a.send(msg{"type": "debug", "to": b.id, "data": msg{
		"bytesSent": 10, "roundTripTime": 0.05, "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
		"address": "192.0.2.55", "state": "connected via 198.51.100.9",
	}})
	got := b.expect("debug")
	assert.Equal(t, a.id, got.str("from"))
	d := got["data"].(map[string]any)
	assert.EqualValues(t, 10, d["bytesSent"])
	assert.NotContains(t, d, "userAgent")
	assert.NotContains(t, d, "address")
	assert.NotContains(t, d["state"], "198.51.100.9")

	a.send(msg{"type": "debug", "to": b.id, "data": []any{1}})
	a.expectError(CodeBadMessage)
	a.send(msg{"type": "debug", "to": "nobody", "data": msg{}})
	a.expectError(CodeUnknownPeer)
}

func TestBadInput(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxMessageBytes: 1024})
	a := dial(t, ts, "")
	for _, tc := range []struct {
		name  string
		frame string
		code  Code
	}{
		{"malformed json", `{"type":`, CodeBadJSON},
		{"not an object", `[1,2]`, CodeBadJSON},
		{"wrong type for room", `{"type":"join","room":5}`, CodeBadMessage},
		{"wrong type for type", `{"type":7}`, CodeBadMessage},
		{"huge number", `{"type":"debug","to":"x","data":{"a":1e999}}`, CodeUnknownPeer},
		{"unknown type", `{"type":"teleport"}`, CodeUnknownType},
		{"missing type", `{"room":"r"}`, CodeBadMessage},
		{"missing room", `{"type":"join"}`, CodeBadMessage},
		{"empty stream", `{"type":"publish","stream":""}`, CodeBadMessage},
		{"control char in name", "{\"type\":\"join\",\"room\":\"a\\u0007b\"}", CodeBadMessage},
		{"name too long", `{"type":"join","room":"` + strings.Repeat("n", 257) + `"}`, CodeBadMessage},
		{"rid too long", `{"type":"ping","rid":"` + strings.Repeat("r", 65) + `"}`, CodeBadMessage},
		{"signal before joining", `{"type":"signal","to":"abc","data":{"candidate":null}}`, CodeUnknownPeer},
		{"deep nesting", `{"type":"debug","to":"x","data":` + strings.Repeat(`{"a":`, 150) + `1` + strings.Repeat(`}`, 150) + `}`, CodeUnknownPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.sendRaw([]byte(tc.frame))
			a.expectError(tc.code)
		})
	}
	t.Run("invalid utf-8", func(t *testing.T) {
		a.sendRaw([]byte("{\"type\":\"join\",\"room\":\"\xff\xfe\"}"))
		a.expectError(CodeBadJSON)
	})
	t.Run("binary frame", func(t *testing.T) {
		require.NoError(t, a.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)))
		a.expectError(CodeBadMessage)
	})
	t.Run("too large", func(t *testing.T) {
		a.sendRaw([]byte(`{"type":"ping","pad":"` + strings.Repeat("p", 2000) + `"}`))
		a.expectError(CodeTooLarge)
	})
	t.Run("rid echoed on error", func(t *testing.T) {
		a.sendRaw([]byte(`{"type":"nope","rid":"abc"}`))
		e := a.expectError(CodeUnknownType)
		assert.Equal(t, "abc", e.str("rid"))
		assert.Equal(t, "nope", e.str("ref"))
	})
	a.roundTrip() // a bad message never closes a healthy connection
}

func TestRepeatedAbuseCloses1008(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := dial(t, ts, "")
	for range maxStrikes + 1 {
		a.sendRaw([]byte("garbage"))
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.expectClose())
}

func TestHugeFrameCloses(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxMessageBytes: 1024})
	a := dial(t, ts, "")
	a.sendRaw([]byte(strings.Repeat("x", 1024*hardMaxFactor+1)))
	assert.Equal(t, websocket.CloseMessageTooBig, a.expectClose())
}

func TestShutdownSends1001(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	a := dial(t, ts, "")
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, websocket.CloseGoingAway, a.expectClose())
	require.NoError(t, srv.Shutdown(ctx), "Shutdown is idempotent")
}

func TestOriginCheck(t *testing.T) {
	_, ts := newTestServer(t, Config{AllowedOrigins: []string{"https://app.example"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{ts.URL, true},
		{"https://app.example", true},
		{"https://evil.example", false},
		{"null", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, "/ws"), h)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if tc.ok {
				require.NoError(t, err)
				_ = ws.Close()
				return
			}
			require.Error(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}
}

func TestSlowReaderIsDropped(t *testing.T) {
	// a floods on purpose, so its own rate limits are off here;
	// abuse_test.go tests those. slow is dropped for its queue's bytes
	// (SendQueueBytes); the frame cap stays at its default, which a's own
	// bursts of replies (up to a batch of errors) never reach. With a
	// frame cap of 4, a itself was dropped now and then for those.
	srv, ts := newTestServer(t, Config{MessageRate: -1, ByteRate: -1})
	a, other := dial(t, ts, ""), dial(t, ts, "")
	// slow never reads again, with a small receive window so the server's
	// queue fills rather than the kernel's buffers.
	slow := dialTinyWindow(t, ts, "/ws")
	a.joinRoom("r")
	slow.joinRoom("r")
	other.joinRoom("r")
	a.expect("peer-joined")
	a.expect("peer-joined")
	// a floods slow with large signals until the server gives up on it.
	// Batches stay below maxStrikes: once slow is gone, the rest of a
	// batch is unknown-peer, and a must not be closed for that itself.
	// Bounded: at most 2000 messages.
	const batch = maxStrikes / 2
	big := msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\ns=" + strings.Repeat("x", 30000) + "\r\n"}}
	dropped := false
	for i := 0; i < 2000/batch && !dropped; i++ {
		for range batch {
			a.send(msg{"type": "signal", "to": slow.id, "data": big})
		}
		// Drain a's own replies so a itself is never the slow one.
		a.send(msg{"type": "ping", "rid": "sync"})
		for {
			m := a.recv()
			if m.str("type") == "peer-left" {
				dropped = true
			}
			if m.str("type") == "pong" {
				break
			}
			if m.str("type") == "error" {
				require.Equal(t, string(CodeUnknownPeer), m.str("code"), "only signals after the drop fail")
			}
		}
	}
	require.True(t, dropped, "the slow reader must be dropped")
	assert.Equal(t, slow.id, other.expect("peer-left").str("peer"))
	other.roundTrip()
	a.roundTrip()
	require.Eventually(t, func() bool { return srv.queued.used.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestManyConnectDisconnectCycles(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	for i := range 200 {
		c := dial(t, ts, "")
		c.joinRoom("cycle")
		c.send(msg{"type": "play", "stream": "s"})
		// Earlier cycles may still be leaving: their events race with the
		// replies, and each cycle publishes its own stream.
		c.expectSkipping("waiting", "peer-left", "stream-added")
		if i%2 == 0 {
			c.send(msg{"type": "publish", "stream": fmt.Sprintf("p%d", i)})
			c.expectSkipping("published", "peer-left", "stream-added")
		}
		require.NoError(t, c.ws.Close())
	}
	require.Eventually(t, func() bool {
		return srv.Hub().Rooms() == 0 && srv.Hub().Streams() == 0 && srv.hub.dir.Len() == 0
	}, 5*time.Second, 10*time.Millisecond, "all state is gone when peers leave")
}

// TestTrustedRelays: with TrustedRelays set, a relay candidate that does
// not lead to one of the operator's relays is a peer's own address in
// disguise and is dropped, in trickle and in SDP.
func TestTrustedRelays(t *testing.T) {
	ours := netip.MustParseAddr("203.0.113.7") // relayCand's address
	_, ts := newTestServer(t, Config{TrustedRelays: func(a netip.Addr) bool { return a == ours }})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	disguised := "candidate:9 1 udp 41885439 198.51.100.9 61000 typ relay raddr 0.0.0.0 rport 0"
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": msg{"candidate": disguised}}})
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidates": []any{msg{"candidate": disguised}, msg{"candidate": relayCand}}}})
	got := b.expect("signal")
	cs := got["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1, "only the candidate of a trusted relay passes")
	assert.Contains(t, cs[0].(map[string]any)["candidate"], "203.0.113.7")
	b.roundTrip()
}

// TestIdleConnectionsArePinged: the server's pinger keeps idle connections
// alive (and finds dead ones) without a timer per connection.
func TestIdleConnectionsArePinged(t *testing.T) {
	srv, err := New(Config{})
	require.NoError(t, err)
	srv.pingEvery = 20 * time.Millisecond
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		ts.Close()
	})
	c := dial(t, ts, "")
	pings := make(chan struct{}, 16)
	c.ws.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	// Control frames are handled while reading; read until three pings came.
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(recvTimeout):
			t.Fatalf("ping %d never came", i+1)
		}
	}
}
