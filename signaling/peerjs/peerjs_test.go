package peerjs_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
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
	"github.com/veilrtc/veil/signaling/peerjs"
)

func TestPeerJSOpenErrors(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	for _, tc := range []struct {
		name, query, typ, msg string
	}{
		{"no id", "/peerjs/peerjs?key=peerjs&token=t", "ERROR", peerjs.ErrParams},
		{"no token", "/peerjs/peerjs?key=peerjs&id=alice", "ERROR", peerjs.ErrParams},
		{"no key", "/peerjs/peerjs?id=alice&token=t", "ERROR", peerjs.ErrParams},
		{"wrong key", "/peerjs/peerjs?key=nope&id=alice&token=t", "ERROR", peerjs.ErrKey},
		{"bad id", "/peerjs/peerjs?key=peerjs&id=-x-&token=t", "ERROR", peerjs.ErrID},
		{"long token", "/peerjs/peerjs?key=peerjs&id=alice&token=" + strings.Repeat("t", 200), "ERROR", peerjs.ErrID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts, tc.query, nil)
			m := c.Expect(tc.typ)
			assert.Equal(t, map[string]any{"msg": tc.msg}, m["payload"])
			assert.Equal(t, websocket.CloseNormalClosure, c.ExpectClose())
		})
	}
}

func TestPeerJSIDTakenAndTakeover(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := testutil.PJDial(t, ts, "alice", "tok-1")
	b := testutil.PJDial(t, ts, "bob", "tok-b")

	// Another token: ID-TAKEN, and alice keeps her id.
	thief := dialRaw(t, ts, testutil.PJWS("alice", "tok-2"), nil)
	m := thief.Expect("ID-TAKEN")
	assert.Equal(t, map[string]any{"msg": "ID is taken"}, m["payload"])
	assert.Equal(t, websocket.CloseNormalClosure, thief.ExpectClose())

	b.Send(msg{"type": "CANDIDATE", "dst": "alice", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, "bob", a.Expect("CANDIDATE").Str("src"))

	// The same token takes the id over: the old socket is closed and
	// messages reach the new one.
	a2 := testutil.PJDial(t, ts, "alice", "tok-1")
	assert.Equal(t, websocket.CloseNormalClosure, a.ExpectClose())
	b.Send(msg{"type": "CANDIDATE", "dst": "alice", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, "bob", a2.Expect("CANDIDATE").Str("src"))
}

func TestPeerJSForwarding(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := testutil.PJDial(t, ts, "alice", "ta")
	b := testutil.PJDial(t, ts, "bob", "tb")

	a.Send(msg{
		"type": "OFFER", "dst": "bob", "src": "mallory", "extra": "dropped",
		"payload": msg{
			"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP, "x": 1}, "type": "data", "connectionId": "dc_1",
			"label": "dc_1", "reliable": true, "serialization": "binary", "metadata": msg{"app": []any{1, "two"}},
			"browser": "chrome", "unknown": "dropped",
		},
	})
	got := b.Expect("OFFER")
	assert.Equal(t, "alice", got.Str("src"), "src is set by the server")
	assert.Equal(t, "bob", got.Str("dst"))
	assert.Len(t, got, 4, "only type, src, dst, payload: %v", got)
	p := testutil.PJPayload(t, got)
	assert.Equal(t, map[string]any{"app": []any{1.0, "two"}}, p["metadata"])
	assert.Equal(t, "data", p["type"])
	assert.Equal(t, "dc_1", p["connectionId"])
	assert.Equal(t, "dc_1", p["label"])
	assert.Equal(t, true, p["reliable"])
	assert.Equal(t, "binary", p["serialization"])
	assert.NotContains(t, p, "browser", "browser names are system information")
	assert.NotContains(t, p, "unknown")
	sdp := p["sdp"].(map[string]any)
	assert.Len(t, sdp, 2)
	assert.Equal(t, "offer", sdp["type"])
	s := sdp["sdp"].(string)
	assert.Contains(t, s, "typ relay raddr 0.0.0.0 rport 0")
	for _, leak := range []string{"192.168.1.20", "198.51.100.4", "typ host", "typ srflx", "mozilla"} {
		assert.NotContains(t, s, leak)
	}

	b.Send(msg{"type": "ANSWER", "dst": "alice", "payload": msg{
		"sdp":  msg{"type": "answer", "sdp": strings.ReplaceAll(testutil.PJOfferSDP, "mozilla...THIS_IS_SDPARTA-99.0", "-")},
		"type": "data", "connectionId": "dc_1",
	}})
	got = a.Expect("ANSWER")
	assert.Equal(t, "bob", got.Str("src"))
	assert.Equal(t, "answer", testutil.PJPayload(t, got)["sdp"].(map[string]any)["type"])
	assert.NotContains(t, testutil.PJPayload(t, got)["sdp"].(map[string]any)["sdp"], "192.168.1.20")

	// Under forced relay a host candidate is not forwarded at all; the
	// relay candidate sent after it is the next thing bob sees.
	a.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(testutil.HostCand)})
	a.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(testutil.RelayCand)})
	got = b.Expect("CANDIDATE")
	p = testutil.PJPayload(t, got)
	c := p["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], "typ relay")
	assert.Contains(t, c["candidate"], "raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c["candidate"], "198.51.100.4")
	assert.Equal(t, "0", c["sdpMid"])
	assert.EqualValues(t, 0, c["sdpMLineIndex"])
	assert.Equal(t, "abcd", c["usernameFragment"])
	assert.Equal(t, "dc_1", p["connectionId"])

	// LEAVE carries only who leaves.
	a.Send(msg{"type": "LEAVE", "dst": "bob", "payload": msg{"connectionId": "dc_1", "secret": "x"}})
	got = b.Expect("LEAVE")
	assert.Equal(t, msg{"type": "LEAVE", "src": "alice", "dst": "bob"}, got)
}

func TestPeerJSSysinfoPassAndRelayOff(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOff
	p.Sysinfo = privacy.SysinfoPass
	_, ts := newTestServer(t, signaling.Config{Policy: p})
	a := testutil.PJDial(t, ts, "alice", "ta")
	b := testutil.PJDial(t, ts, "bob", "tb")
	a.Send(msg{"type": "OFFER", "dst": "bob", "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "media", "connectionId": "mc_1", "browser": "firefox"}})
	got := testutil.PJPayload(t, b.Expect("OFFER"))
	assert.Equal(t, "firefox", got["browser"])
	assert.Equal(t, testutil.PJOfferSDP, got["sdp"].(map[string]any)["sdp"])
	a.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(testutil.HostCand)})
	assert.Equal(t, testutil.HostCand, testutil.PJPayload(t, b.Expect("CANDIDATE"))["candidate"].(map[string]any)["candidate"])
}

func TestPeerJSMalformedMessagesAreDropped(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := testutil.PJDial(t, ts, "alice", "ta")
	b := testutil.PJDial(t, ts, "bob", "tb")
	for _, m := range []string{
		`not json`,
		`{"type":"OFFER","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"}}}`,                                          // no dst
		`{"type":"OFFER","dst":"bob","payload":{"sdp":{"type":"answer","sdp":"v=0\r\n"}}}`,                             // wrong sdp type
		`{"type":"OFFER","dst":"bob","payload":{"sdp":{"type":"offer","sdp":"hello"}}}`,                                // not an sdp
		`{"type":"ANSWER","dst":"bob","payload":{}}`,                                                                   // no sdp
		`{"type":"CANDIDATE","dst":"bob","payload":{"candidate":"candidate:1 1 udp 1 1 1"}}`,                           // candidate not an object
		`{"type":"CANDIDATE","dst":"bob","payload":{"candidate":{"candidate":"bogus"}}}`,                               // unparseable
		`{"type":"CANDIDATE","dst":"bob","payload":5}`,                                                                 // payload not an object
		`{"type":"EXPIRE","dst":"bob"}`,                                                                                // only the server says EXPIRE
		`{"type":"SOMETHING","dst":"bob","payload":{}}`,                                                                // unknown type
		`{"type":"OFFER","dst":"` + strings.Repeat("b", 300) + `","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"}}}`, // dst too long
	} {
		a.SendRaw([]byte(m))
	}
	require.NoError(t, a.WS.WriteMessage(websocket.BinaryMessage, []byte{1, 2}))
	a.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(testutil.RelayCand)})
	got := b.Expect("CANDIDATE")
	assert.Equal(t, "alice", got.Str("src"), "nothing before the good message reached bob")

	// Repeated abuse closes with 1008.
	for range edge.MaxStrikes + 2 {
		a.SendRaw([]byte("{"))
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.ExpectClose())
}

func TestPeerJSExpireForAbsentID(t *testing.T) {
	const expire = 300 * time.Millisecond
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{ExpireTimeout: expire}})
	a := testutil.PJDial(t, ts, "alice", "ta")
	start := time.Now()
	a.Send(msg{"type": "OFFER", "dst": "nobody", "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.Send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": testutil.PJCand(testutil.RelayCand)})
	got := a.Expect("EXPIRE")
	assert.GreaterOrEqual(t, time.Since(start), expire, "held for the expire timeout first")
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, got)

	// One EXPIRE per sender: the next thing alice sees is a new message.
	b := testutil.PJDial(t, ts, "bob", "tb")
	b.Send(msg{"type": "CANDIDATE", "dst": "alice", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, "CANDIDATE", a.Recv().Str("type"))
}

func TestPeerJSHeldMessagesDeliveredOnConnect(t *testing.T) {
	const expire = time.Second
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{ExpireTimeout: expire}})
	a := testutil.PJDial(t, ts, "alice", "ta")
	a.Send(msg{"type": "OFFER", "dst": "late-bob", "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.Send(msg{"type": "CANDIDATE", "dst": "late-bob", "payload": testutil.PJCand(testutil.HostCand)}) // filtered, never held
	a.Send(msg{"type": "CANDIDATE", "dst": "late-bob", "payload": testutil.PJCand(testutil.RelayCand)})
	a.Send(msg{"type": "LEAVE", "dst": "late-bob"}) // LEAVE is not held, as in the peer server
	time.Sleep(expire / 10)

	b := dialRaw(t, ts, testutil.PJWS("late-bob", "tb"), nil)
	b.Expect("OPEN")
	assert.Equal(t, "alice", b.Expect("OFFER").Str("src"))
	assert.Contains(t, testutil.PJPayload(t, b.Expect("CANDIDATE"))["candidate"].(map[string]any)["candidate"], "typ relay")

	// After the expire timeout alice has had no EXPIRE: bob's answer is
	// the next thing she sees.
	time.Sleep(expire)
	b.Send(msg{"type": "ANSWER", "dst": "alice", "payload": msg{"sdp": msg{"type": "answer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, "ANSWER", a.Recv().Str("type"))
	b.Send(msg{"type": "CANDIDATE", "dst": "alice", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, "CANDIDATE", a.Recv().Str("type"), "the LEAVE was not held for bob either")
}

func TestPeerJSHeldCapAnswersExpireAtOnce(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{ExpireTimeout: time.Hour}})
	a := testutil.PJDial(t, ts, "alice", "ta")
	for range peerjs.HeldPerDst {
		a.Send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": testutil.PJCand(testutil.RelayCand)})
	}
	a.Send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, a.Expect("EXPIRE"))
}

func TestPeerJSNativePeersUnreachable(t *testing.T) {
	const expire = 200 * time.Millisecond
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{ExpireTimeout: expire}})
	native := dial(t, ts, "")
	a := testutil.PJDial(t, ts, "alice", "ta")
	id := native.ID
	a.Send(msg{"type": "OFFER", "dst": id, "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.Send(msg{"type": "LEAVE", "dst": id})
	// To the PeerJS sender the native peer is as absent as any other id.
	assert.Equal(t, msg{"type": "EXPIRE", "src": id, "dst": "alice"}, a.Expect("EXPIRE"))
	native.RoundTrip() // and the native peer got nothing

}

// TestDialectIDsAreNamespaced: ids live in one namespace per protocol, so a
// PeerJS client connecting with the id of a live native peer gets OPEN, not
// ID-TAKEN (which would tell it the id exists), and neither peer can reach
// the other: a message to that id reaches the PeerJS holder only.
func TestDialectIDsAreNamespaced(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	var native *wsClient
	for range 64 { // bounded; about half of native ids fit PeerJS's id rule
		c := dial(t, ts, "")
		if peerjs.ValidID(c.ID) {
			native = c
			break
		}
		require.NoError(t, c.WS.Close())
	}
	require.NotNil(t, native, "no native id valid as a PeerJS id in 64 tries")
	id := native.ID

	twin := testutil.PJDial(t, ts, id, "t1") // OPEN, although the native id is live
	alice := testutil.PJDial(t, ts, "alice", "ta")
	alice.Send(msg{"type": "OFFER", "dst": id, "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, "alice", twin.Expect("OFFER").Str("src"), "the PeerJS holder of the id gets the offer")

	// The native peer got nothing, and cannot reach the PeerJS twin or alice.
	native.Send(msg{"type": "signal", "to": id, "data": msg{"candidate": nil}})
	native.ExpectError(signaling.CodeUnknownPeer)
	native.Send(msg{"type": "signal", "to": "alice", "data": msg{"candidate": nil}})
	native.ExpectError(signaling.CodeUnknownPeer)

	// After the native peer leaves, nothing changes for PeerJS: a second
	// PeerJS client with another token still gets ID-TAKEN from the twin
	// only, as before.
	require.NoError(t, native.WS.Close())
	c := dialRaw(t, ts, testutil.PJWS(id, "t2"), nil)
	c.Expect("ID-TAKEN")
}

func TestPeerJSHeartbeatAndAliveTimeout(t *testing.T) {
	const alive = 400 * time.Millisecond
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{AliveTimeout: alive}})
	a := testutil.PJDial(t, ts, "alice", "ta")
	b := testutil.PJDial(t, ts, "bob", "tb")
	// Heartbeats keep alice well past the alive timeout.
	deadline := time.Now().Add(3 * alive)
	for time.Now().Before(deadline) {
		a.Send(msg{"type": "HEARTBEAT"})
		b.Send(msg{"type": "HEARTBEAT"})
		time.Sleep(alive / 4)
	}
	b.Send(msg{"type": "CANDIDATE", "dst": "alice", "payload": testutil.PJCand(testutil.RelayCand)})
	assert.Equal(t, "CANDIDATE", a.Expect("CANDIDATE").Str("type"))
	// Silence drops her (bob too, he stops as well).
	start := time.Now()
	assert.Equal(t, websocket.CloseNormalClosure, a.ExpectClose())
	assert.GreaterOrEqual(t, time.Since(start), alive/2)
}

func TestPeerJSLeaveWithoutDstCloses(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a := testutil.PJDial(t, ts, "alice", "ta")
	a.Send(msg{"type": "LEAVE"})
	assert.Equal(t, websocket.CloseNormalClosure, a.ExpectClose())
	// The id is free again (the server unregisters just after closing).
	require.Eventually(t, func() bool {
		return testutil.MetricValue(t, srv.MetricsRegistry(), "veil_connections", peerjs.Namespace) == 0
	},
		testutil.RecvTimeout, 5*time.Millisecond)
	testutil.PJDial(t, ts, "alice", "other-token")
}

func TestPeerJSShutdownSends1001(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a := testutil.PJDial(t, ts, "alice", "ta")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, websocket.CloseGoingAway, a.ExpectClose())
}

func TestPeerJSHTTP(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})

	t.Run("id", func(t *testing.T) {
		seen := make(map[string]bool)
		for i := range 200 {
			resp, id := testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id?ts="+strconv.Itoa(i)+"0.123&version=1.5.5", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			raw, err := hex.DecodeString(id)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(raw)*8, 128, "ids carry at least 128 random bits")
			assert.True(t, peerjs.ValidID(id), "the PeerJS client accepts %q", id)
			assert.False(t, seen[id], "ids are unique")
			seen[id] = true
		}
		// A minted id opens.
		_, id := testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id", nil)
		testutil.PJDial(t, ts, id, "tok")
	})

	t.Run("peers is 401", func(t *testing.T) {
		testutil.PJDial(t, ts, "alice", "ta")
		resp, body := testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/peers", nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.NotContains(t, body, "alice")
	})

	t.Run("wrong key", func(t *testing.T) {
		resp, _ := testutil.HTTPGet(t, ts.URL+"/peerjs/other/id", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("description", func(t *testing.T) {
		resp, body := testutil.HTTPGet(t, ts.URL+"/peerjs/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var d map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &d))
		assert.Equal(t, "veil", d["name"])
		assert.NotEmpty(t, d["description"])
	})

	t.Run("cross-origin", func(t *testing.T) {
		resp, _ := testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id", http.Header{"Origin": {"https://evil.example"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, _ = testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id", http.Header{"Origin": {ts.URL}})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestPeerJSDiscoveryAndCustomMount(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{Path: "app", Key: "k1", Discovery: true}})
	c := dialRaw(t, ts, "/app/peerjs?key=k1&id=alice&token=t", nil)
	c.Expect("OPEN")
	resp, body := testutil.HTTPGet(t, ts.URL+"/app/k1/peers", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `["alice"]`, body)
	resp, _ = testutil.HTTPGet(t, ts.URL+"/app/k1/id", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the default mount is gone")
}

func TestPeerJSDisabledAndInvalid(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{PeerJS: signaling.PeerJSConfig{Disabled: true}})
	resp, _ := testutil.HTTPGet(t, ts.URL+"/peerjs/peerjs/id", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = testutil.HTTPGet(t, ts.URL+"/turn-credentials", nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the credentials endpoint stays (for other dialects)")

	_, err := signaling.New(signaling.Config{PeerJS: signaling.PeerJSConfig{Path: "/{bad}/"}})
	assert.Error(t, err, "an invalid PeerJS config fails New")
}

func TestPeerJSTURNCredentials(t *testing.T) {
	var gotIDs []string
	_, ts := newTestServer(t, signaling.Config{
		AllowedOrigins: []string{"https://app.example"},
		ICEServers: func(r *http.Request, id string) []signaling.ICEServer {
			gotIDs = append(gotIDs, id)
			user := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":" + id
			return []signaling.ICEServer{
				{URLs: []string{"stun:127.0.0.1:3478"}},
				{URLs: []string{"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"}, Username: user, Credential: "pw"},
				{URLs: []string{"turns:127.0.0.1:5349"}, Username: user, Credential: "pw"},
				{URLs: []string{"turn:other"}, Username: "x", Credential: "y"},
			}
		},
	})
	for _, path := range []string{"/turn-credentials", "/peerjs/peerjs/turn"} {
		t.Run(path, func(t *testing.T) {
			resp, body := testutil.HTTPGet(t, ts.URL+path, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var c map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &c))
			assert.Len(t, c, 4)
			assert.Equal(t, "pw", c["password"])
			assert.Regexp(t, `^\d+:[A-Za-z0-9_-]{24}$`, c["username"])
			assert.InDelta(t, 3600, c["ttl"], 5)
			assert.Equal(t, []any{"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp", "turns:127.0.0.1:5349"}, c["uris"])
		})
	}
	require.Len(t, gotIDs, 2)
	assert.NotEqual(t, gotIDs[0], gotIDs[1], "every request gets a fresh id")

	resp, _ := testutil.HTTPGet(t, ts.URL+"/turn-credentials", http.Header{"Origin": {"https://evil.example"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = testutil.HTTPGet(t, ts.URL+"/turn-credentials", http.Header{"Origin": {"https://app.example"}})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Values("Vary"), "Origin")
}

// TestPeerJSHeldBytesCapped: large offers for absent ids are held up to
// the byte caps per id, per sender and in total (veil_peerjs_held_bytes);
// one more gets EXPIRE at once, long before the expire timeout.
func TestPeerJSHeldBytesCapped(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{MessageRate: -1, ByteRate: -1, PeerJS: signaling.PeerJSConfig{ExpireTimeout: time.Hour}})
	offer := func(c *wsClient, dst string) {
		c.SendRaw(testutil.FitSDP(t, "<", 60<<10, true, func(sdp string) any {
			return msg{"type": "OFFER", "dst": dst, "payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}}
		}))
	}
	held := func() float64 { return testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_peerjs_held_bytes") }

	// Per id: 256 KiB is four 60 KiB offers.
	a := testutil.PJDial(t, ts, "alice", "ta")
	for range peerjs.HeldBytesPerDst / (60 << 10) {
		offer(a, "nobody")
	}
	offer(a, "nobody")
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, a.Expect("EXPIRE"))
	assert.LessOrEqual(t, held(), float64(peerjs.HeldBytesPerDst))

	// Per sender: 512 KiB over several ids.
	b := testutil.PJDial(t, ts, "bob", "tb")
	for i := range peerjs.HeldBytesPerSrc / (60 << 10) {
		offer(b, fmt.Sprintf("absent%d", i/2))
	}
	offer(b, "absent-last")
	assert.Equal(t, "absent-last", b.Expect("EXPIRE").Str("src"))
	assert.LessOrEqual(t, held(), float64(peerjs.HeldBytesPerDst+peerjs.HeldBytesPerSrc))
	assert.Positive(t, held())
}

// TestPeerJSHeldCappedPerAddress: the senders of one client address (many
// connections, each within its own caps) hold at most HeldBytesPerAddr;
// past it they get EXPIRE at once, and a sender from another address
// still has its message held and delivered when the id connects.
func TestPeerJSHeldCappedPerAddress(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{
		MessageRate: -1, ByteRate: -1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		PeerJS:         signaling.PeerJSConfig{ExpireTimeout: time.Hour},
	})
	const size = 60 << 10
	offer := func(c *wsClient, dst string) {
		c.SendRaw(testutil.FitSDP(t, "<", size, true, func(sdp string) any {
			return msg{"type": "OFFER", "dst": dst, "payload": msg{"sdp": msg{"type": "offer", "sdp": sdp}, "type": "data", "connectionId": "dc_1"}}
		}))
	}
	from := func(ip, id string) *wsClient {
		c := testutil.DialRaw(t, ts, testutil.PJWS(id, "tok-"+id), http.Header{"X-Forwarded-For": {ip}})
		c.Expect("OPEN")
		c.ID = id
		return c
	}
	held := func() float64 { return testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_peerjs_held_bytes") }

	// Senders of one address, each under its own 512 KiB, two offers per
	// absent id (under the 256 KiB per id).
	perSender := peerjs.HeldBytesPerSrc / size
	n := 0
	var last *wsClient
	for s := 0; ; s++ {
		last = from("203.0.113.50", fmt.Sprintf("flooder%d", s))
		refused := false
		for i := range perSender {
			offer(last, fmt.Sprintf("gone-%d-%d", s, i/2))
			n++
			if n*size > peerjs.HeldBytesPerAddr {
				assert.Equal(t, fmt.Sprintf("gone-%d-%d", s, i/2), last.Expect("EXPIRE").Str("src"), "over the address's bytes")
				refused = true
				break
			}
		}
		if refused {
			break
		}
		require.Less(t, s, 16, "the address was never capped")
	}
	assert.LessOrEqual(t, held(), float64(peerjs.HeldBytesPerAddr))

	// Another address still gets its message held, and delivered.
	other := from("198.51.100.60", "caller")
	other.Send(msg{"type": "OFFER", "dst": "latecomer", "payload": msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\n"}, "type": "data", "connectionId": "dc_2"}})
	late := from("198.51.100.61", "latecomer")
	got := late.Expect("OFFER")
	assert.Equal(t, "caller", got.Str("src"))
}
