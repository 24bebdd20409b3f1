package native_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/native"
)

func TestWelcome(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := dial(t, ts, "")
	b := dial(t, ts, "")

	assert.EqualValues(t, 1, a.Welcome["version"])
	raw, err := base64.RawURLEncoding.DecodeString(a.ID)
	require.NoError(t, err, "id must be URL-safe base64")
	assert.GreaterOrEqual(t, len(raw)*8, 128, "ids carry at least 128 random bits")
	assert.NotEqual(t, a.ID, b.ID)
	assert.Equal(t, "relay", a.Welcome.Str("iceTransportPolicy"))
	assert.Equal(t, []any{}, a.Welcome["iceServers"])
	assert.Equal(t, map[string]any{"relay": "force", "sysinfo": "strip", "sealed": "deny", "retention": "none", "logs": "redacted"}, a.Welcome["policy"])
}

func TestWelcomePolicyFollowsRelayChoice(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOptional
	_, ts := newTestServer(t, signaling.Config{Policy: p, ICEServers: func(r *http.Request, id string) []signaling.ICEServer {
		return []signaling.ICEServer{{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Username: "u:" + id, Credential: "c"}}
	}})
	plain := dial(t, ts, "")
	asked := dial(t, ts, "?relay=1")
	assert.Equal(t, "all", plain.Welcome.Str("iceTransportPolicy"))
	assert.Equal(t, "relay", asked.Welcome.Str("iceTransportPolicy"))
	servers := asked.Welcome["iceServers"].([]any)
	require.Len(t, servers, 1)
	assert.Equal(t, "u:"+asked.ID, servers[0].(map[string]any)["username"])
}

func TestJoinLeave(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")

	j := a.JoinRoom("room-1")
	assert.Equal(t, "room-1", j.Str("room"))
	assert.Equal(t, []any{}, j["peers"])

	b.Send(msg{"type": "join", "room": "room-1", "rid": "r1"})
	j = b.Expect("joined")
	assert.Equal(t, "r1", j.Str("rid"))
	assert.Equal(t, []any{map[string]any{"id": a.ID}}, j["peers"])

	pj := a.Expect("peer-joined")
	assert.Equal(t, "room-1", pj.Str("room"))
	assert.Equal(t, map[string]any{"id": b.ID}, pj["peer"])

	b.Send(msg{"type": "leave", "room": "room-1", "rid": "r2"})
	l := b.Expect("left")
	assert.Equal(t, "r2", l.Str("rid"))
	pl := a.Expect("peer-left")
	assert.Equal(t, b.ID, pl.Str("peer"))
	assert.Equal(t, "room-1", pl.Str("room"))

	b.Send(msg{"type": "leave", "room": "room-1", "rid": "r3"})
	e := b.ExpectError(signaling.CodeNotInRoom)
	assert.Equal(t, "r3", e.Str("rid"))
	assert.Equal(t, "leave", e.Str("ref"))
}

func TestDisconnectLeavesRooms(t *testing.T) {
	// Without resume (resume_test.go has the drop with resume).
	_, ts := newTestServer(t, signaling.Config{ResumeGrace: -1})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	require.NoError(t, b.WS.Close())
	pl := a.Expect("peer-left")
	assert.Equal(t, b.ID, pl.Str("peer"))
}

func TestRoomFullAndTooManyRooms(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{MaxRoomPeers: 2, MaxPeerRooms: 2})
	a, b, c := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("full")
	b.JoinRoom("full")
	c.Send(msg{"type": "join", "room": "full", "rid": "x"})
	e := c.ExpectError(signaling.CodeRoomFull)
	assert.Equal(t, "x", e.Str("rid"))

	c.JoinRoom("one")
	c.JoinRoom("two")
	c.Send(msg{"type": "join", "room": "three"})
	c.ExpectError(signaling.CodeTooManyRooms)
	c.JoinRoom("two") // joining a room again is not a new room
	c.RoundTrip()
}

func TestPublishPlay(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer, member, thief := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")

	// A play before the publisher exists waits.
	viewer.Send(msg{"type": "play", "stream": "s1", "rid": "p"})
	w := viewer.Expect("waiting")
	assert.Equal(t, "s1", w.Str("stream"))
	assert.Equal(t, "p", w.Str("rid"))

	member.JoinRoom("lobby")
	pub.JoinRoom("lobby")
	member.Expect("peer-joined")

	pub.Send(msg{"type": "publish", "stream": "s1", "rid": "q"})
	p := pub.Expect("published")
	assert.Equal(t, "q", p.Str("rid"))
	v := pub.Expect("viewer")
	assert.Equal(t, viewer.ID, v.Str("peer"))
	assert.Equal(t, "s1", v.Str("stream"))

	pl := viewer.Expect("playing")
	assert.Equal(t, pub.ID, pl.Str("peer"))
	assert.Empty(t, pl.Str("rid"), "a pending play satisfied later is not a reply")

	sa := member.Expect("stream-added")
	assert.Equal(t, msg{"type": "stream-added", "room": "lobby", "peer": pub.ID, "stream": "s1"}, sa)

	thief.Send(msg{"type": "publish", "stream": "s1"})
	thief.ExpectError(signaling.CodeStreamInUse)

	// A play of a live stream is answered with playing at once.
	late := dial(t, ts, "")
	late.Send(msg{"type": "play", "stream": "s1", "rid": "z"})
	pl = late.Expect("playing")
	assert.Equal(t, "z", pl.Str("rid"))
	assert.Equal(t, pub.ID, pl.Str("peer"))
	assert.Equal(t, late.ID, pub.Expect("viewer").Str("peer"))

	// The joined list shows a member's stream.
	newcomer := dial(t, ts, "")
	j := newcomer.JoinRoom("lobby")
	assert.Contains(t, j["peers"], map[string]any{"id": pub.ID, "stream": "s1"})
}

func TestStreamEndedAndRepublish(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{ResumeGrace: -1})
	pub, viewer := dial(t, ts, ""), dial(t, ts, "")
	pub.Send(msg{"type": "publish", "stream": "live"})
	pub.Expect("published")
	viewer.Send(msg{"type": "play", "stream": "live"})
	viewer.Expect("playing")
	pub.Expect("viewer")

	pub.Send(msg{"type": "unpublish", "stream": "live", "rid": "u"})
	assert.Equal(t, "u", pub.Expect("unpublished").Str("rid"))
	assert.Equal(t, "live", viewer.Expect("stream-ended").Str("stream"))

	pub.Send(msg{"type": "unpublish", "stream": "live"})
	pub.ExpectError(signaling.CodeBadMessage)

	// The play went back to pending: a new publisher serves it.
	pub2 := dial(t, ts, "")
	pub2.Send(msg{"type": "publish", "stream": "live"})
	pub2.Expect("published")
	assert.Equal(t, viewer.ID, pub2.Expect("viewer").Str("peer"))
	assert.Equal(t, pub2.ID, viewer.Expect("playing").Str("peer"))

	// The publisher's disconnect ends the stream too.
	require.NoError(t, pub2.WS.Close())
	assert.Equal(t, "live", viewer.Expect("stream-ended").Str("stream"))
}

func TestSignalRouting(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b, stranger := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")
	offer := msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}

	// Before sharing anything, even a live id is unknown.
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer, "rid": "s"})
	e := a.ExpectError(signaling.CodeUnknownPeer)
	assert.Equal(t, "s", e.Str("rid"))
	assert.Equal(t, "signal", e.Str("ref"))

	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")

	a.Send(msg{"type": "signal", "to": b.ID, "data": offer, "extra": "dropped"})
	got := b.Expect("signal")
	assert.Equal(t, a.ID, got.Str("from"))
	assert.NotContains(t, got, "extra")
	assert.NotContains(t, got, "to")
	assert.Equal(t, "offer", got["data"].(map[string]any)["sdp"].(map[string]any)["type"])

	for _, to := range []string{stranger.ID, a.ID, "nonexistent-id-000000000000", strings.Repeat("x", 300)} {
		a.Send(msg{"type": "signal", "to": to, "data": offer})
		a.ExpectError(signaling.CodeUnknownPeer)
	}
	stranger.Send(msg{"type": "signal", "to": a.ID, "data": offer})
	stranger.ExpectError(signaling.CodeUnknownPeer)

	// Publisher and viewer may signal each other without sharing a room.
	pub, viewer := dial(t, ts, ""), dial(t, ts, "")
	pub.Send(msg{"type": "publish", "stream": "st"})
	pub.Expect("published")
	viewer.Send(msg{"type": "play", "stream": "st"})
	viewer.Expect("playing")
	pub.Expect("viewer")
	pub.Send(msg{"type": "signal", "to": viewer.ID, "data": offer})
	assert.Equal(t, pub.ID, viewer.Expect("signal").Str("from"))
	viewer.Send(msg{"type": "signal", "to": pub.ID, "data": msg{"candidate": nil}})
	s := pub.Expect("signal")
	assert.Equal(t, map[string]any{"candidate": nil}, s["data"])

	// A pending viewer is not related to anyone yet.
	waiting := dial(t, ts, "")
	waiting.Send(msg{"type": "play", "stream": "not-yet"})
	waiting.Expect("waiting")
	waiting.Send(msg{"type": "signal", "to": pub.ID, "data": offer})
	waiting.ExpectError(signaling.CodeUnknownPeer)
}

func TestSignalValidation(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
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
			a.Send(msg{"type": "signal", "to": b.ID, "data": tc.data})
			a.ExpectError(signaling.CodeBadMessage)
		})
	}
	b.RoundTrip() // nothing reached b
}

func TestRelayFilterOnSignals(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")

	// A host candidate is not forwarded at all.
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": testutil.HostCand, "sdpMid": "0", "sdpMLineIndex": 0}}})
	// A relay candidate is forwarded with its related address scrubbed.
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": testutil.RelayCand, "sdpMid": "0", "sdpMLineIndex": 0, "bogus": 1}}})
	got := b.Expect("signal")
	c := got["data"].(map[string]any)["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], "typ relay")
	assert.Contains(t, c["candidate"], "raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c["candidate"], "198.51.100.4")
	assert.Equal(t, "0", c["sdpMid"])
	assert.EqualValues(t, 0, c["sdpMLineIndex"])
	assert.NotContains(t, c, "bogus")

	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidates": []any{msg{"candidate": testutil.HostCand}, msg{"candidate": testutil.RelayCand}}}})
	got = b.Expect("signal")
	cs := got["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1)

	// Sealed payloads are refused while relay is forced (fail-secure).
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"sealed": "c2VjcmV0"}})
	a.ExpectError(signaling.CodeSealedDenied)
	b.RoundTrip()
}

func TestRelayOffPassesCandidates(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOff
	_, ts := newTestServer(t, signaling.Config{Policy: p})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	assert.Equal(t, "all", a.Welcome.Str("iceTransportPolicy"))
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": testutil.HostCand}}})
	got := b.Expect("signal")
	assert.Equal(t, testutil.HostCand, got["data"].(map[string]any)["candidate"].(map[string]any)["candidate"])
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"sealed": "c2VjcmV0"}})
	assert.Equal(t, "c2VjcmV0", b.Expect("signal")["data"].(map[string]any)["sealed"])
}

func TestDebugIsSanitized(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	a.Send(msg{"type": "debug", "to": b.ID, "data": msg{
		"bytesSent": 10, "roundTripTime": 0.05, "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
		"address": "192.0.2.55", "state": "connected via 198.51.100.9",
	}})
	got := b.Expect("debug")
	assert.Equal(t, a.ID, got.Str("from"))
	d := got["data"].(map[string]any)
	assert.EqualValues(t, 10, d["bytesSent"])
	assert.NotContains(t, d, "userAgent")
	assert.NotContains(t, d, "address")
	assert.NotContains(t, d["state"], "198.51.100.9")

	a.Send(msg{"type": "debug", "to": b.ID, "data": []any{1}})
	a.ExpectError(signaling.CodeBadMessage)
	a.Send(msg{"type": "debug", "to": "nobody", "data": msg{}})
	a.ExpectError(signaling.CodeUnknownPeer)
}

func TestBadInput(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{MaxMessageBytes: 1024})
	a := dial(t, ts, "")
	for _, tc := range []struct {
		name  string
		frame string
		code  signaling.Code
	}{
		{"malformed json", `{"type":`, signaling.CodeBadJSON},
		{"not an object", `[1,2]`, signaling.CodeBadJSON},
		{"wrong type for room", `{"type":"join","room":5}`, signaling.CodeBadMessage},
		{"wrong type for type", `{"type":7}`, signaling.CodeBadMessage},
		{"huge number", `{"type":"debug","to":"x","data":{"a":1e999}}`, signaling.CodeUnknownPeer},
		{"unknown type", `{"type":"teleport"}`, signaling.CodeUnknownType},
		{"missing type", `{"room":"r"}`, signaling.CodeBadMessage},
		{"missing room", `{"type":"join"}`, signaling.CodeBadMessage},
		{"empty stream", `{"type":"publish","stream":""}`, signaling.CodeBadMessage},
		{"control char in name", "{\"type\":\"join\",\"room\":\"a\\u0007b\"}", signaling.CodeBadMessage},
		{"name too long", `{"type":"join","room":"` + strings.Repeat("n", 257) + `"}`, signaling.CodeBadMessage},
		{"rid too long", `{"type":"ping","rid":"` + strings.Repeat("r", 65) + `"}`, signaling.CodeBadMessage},
		{"signal before joining", `{"type":"signal","to":"abc","data":{"candidate":null}}`, signaling.CodeUnknownPeer},
		{"deep nesting", `{"type":"debug","to":"x","data":` + strings.Repeat(`{"a":`, 150) + `1` + strings.Repeat(`}`, 150) + `}`, signaling.CodeUnknownPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.SendRaw([]byte(tc.frame))
			a.ExpectError(tc.code)
		})
	}
	t.Run("invalid utf-8", func(t *testing.T) {
		a.SendRaw([]byte("{\"type\":\"join\",\"room\":\"\xff\xfe\"}"))
		a.ExpectError(signaling.CodeBadJSON)
	})
	t.Run("binary frame", func(t *testing.T) {
		require.NoError(t, a.WS.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)))
		a.ExpectError(signaling.CodeBadMessage)
	})
	t.Run("too large", func(t *testing.T) {
		a.SendRaw([]byte(`{"type":"ping","pad":"` + strings.Repeat("p", 2000) + `"}`))
		a.ExpectError(signaling.CodeTooLarge)
	})
	t.Run("rid echoed on error", func(t *testing.T) {
		a.SendRaw([]byte(`{"type":"nope","rid":"abc"}`))
		e := a.ExpectError(signaling.CodeUnknownType)
		assert.Equal(t, "abc", e.Str("rid"))
		assert.Equal(t, "nope", e.Str("ref"))
	})
	a.RoundTrip() // a bad message never closes a healthy connection
}

func TestRepeatedAbuseCloses1008(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := dial(t, ts, "")
	for range edge.MaxStrikes + 1 {
		a.SendRaw([]byte("garbage"))
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.ExpectClose())
}

func TestHugeFrameCloses(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{MaxMessageBytes: 1024})
	a := dial(t, ts, "")
	a.SendRaw([]byte(strings.Repeat("x", 1024*edge.HardMaxFactor+1)))
	assert.Equal(t, websocket.CloseMessageTooBig, a.ExpectClose())
}

func TestShutdownSends1001(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a := dial(t, ts, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, websocket.CloseGoingAway, a.ExpectClose())
	require.NoError(t, srv.Shutdown(ctx), "Shutdown is idempotent")
}

func TestOriginCheck(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{AllowedOrigins: []string{"https://app.example"}})
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
			ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws"), h)
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
	srv, ts := newTestServer(t, signaling.Config{MessageRate: -1, ByteRate: -1})
	a, other := dial(t, ts, ""), dial(t, ts, "")
	// slow never reads again, with a small receive window so the server's
	// queue fills rather than the kernel's buffers.
	slow := testutil.DialTinyWindow(t, ts, "/ws")
	a.JoinRoom("r")
	slow.JoinRoom("r")
	other.JoinRoom("r")
	a.Expect("peer-joined")
	a.Expect("peer-joined")
	// a floods slow with large signals until the server gives up on it.
	// Batches stay below edge.MaxStrikes: once slow is gone, the rest of a
	// batch is unknown-peer, and a must not be closed for that itself.
	// Bounded: at most 2000 messages.
	const batch = edge.MaxStrikes / 2
	big := msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\ns=" + strings.Repeat("x", 30000) + "\r\n"}}
	dropped := false
	for i := 0; i < 2000/batch && !dropped; i++ {
		for range batch {
			a.Send(msg{"type": "signal", "to": slow.ID, "data": big})
		}
		// Drain a's own replies so a itself is never the slow one.
		a.Send(msg{"type": "ping", "rid": "sync"})
		for {
			m := a.Recv()
			if m.Str("type") == "peer-left" {
				dropped = true
			}
			if m.Str("type") == "pong" {
				break
			}
			if m.Str("type") == "error" {
				require.Equal(t, string(signaling.CodeUnknownPeer), m.Str("code"), "only signals after the drop fail")
			}
		}
	}
	require.True(t, dropped, "the slow reader must be dropped")
	assert.Equal(t, slow.ID, other.Expect("peer-left").Str("peer"))
	other.RoundTrip()
	a.RoundTrip()
	require.Eventually(t, func() bool {
		return testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_send_queue_bytes") == 0
	},
		5*time.Second, 10*time.Millisecond)
}

func TestManyConnectDisconnectCycles(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{ResumeGrace: -1})
	for i := range 200 {
		c := dial(t, ts, "")
		c.JoinRoom("cycle")
		c.Send(msg{"type": "play", "stream": "s"})
		// Earlier cycles may still be leaving: their events race with the
		// replies, and each cycle publishes its own stream.
		c.ExpectSkipping("waiting", "peer-left", "stream-added")
		if i%2 == 0 {
			c.Send(msg{"type": "publish", "stream": fmt.Sprintf("p%d", i)})
			c.ExpectSkipping("published", "peer-left", "stream-added")
		}
		require.NoError(t, c.WS.Close())
	}
	require.Eventually(t, func() bool {
		reg := srv.MetricsRegistry()
		return testutil.MetricValueNoLabel(t, reg, "veil_rooms") == 0 && testutil.MetricValueNoLabel(t, reg, "veil_streams") == 0 &&
			testutil.MetricValue(t, reg, "veil_connections", native.Namespace) == 0
	}, 5*time.Second, 10*time.Millisecond, "all state is gone when peers leave")
}

// TestTrustedRelays: with TrustedRelays set, a relay candidate that does
// not lead to one of the operator's relays is a peer's own address in
// disguise and is dropped, in trickle and in SDP.
func TestTrustedRelays(t *testing.T) {
	ours := netip.MustParseAddrPort("203.0.113.7:61000") // testutil.RelayCand's transport address
	_, ts := newTestServer(t, signaling.Config{TrustedRelays: func(a netip.AddrPort) bool { return a == ours }})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	disguised := "candidate:9 1 udp 41885439 198.51.100.9 61000 typ relay raddr 0.0.0.0 rport 0"
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": disguised}}})
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidates": []any{msg{"candidate": disguised}, msg{"candidate": testutil.RelayCand}}}})
	got := b.Expect("signal")
	cs := got["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1, "only the candidate of a trusted relay passes")
	assert.Contains(t, cs[0].(map[string]any)["candidate"], "203.0.113.7")
	b.RoundTrip()
}
