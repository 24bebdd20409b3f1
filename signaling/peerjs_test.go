package signaling

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
)

// An offer as Chrome writes it, with a host, a server-reflexive and a
// relay candidate and the addresses they reveal in c= and o=.
const pjOfferSDP = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 4611731400430051336 2 IN IP4 192.168.1.20\r\n" +
	"s=-\r\nt=0 0\r\n" +
	"m=application 54321 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 192.168.1.20\r\n" +
	"a=candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0\r\n" +
	"a=candidate:2 1 udp 1686052607 198.51.100.4 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0\r\n" +
	"a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0\r\n" +
	"a=mid:0\r\n"

// pjWS is the WebSocket path of the default mount.
func pjWS(id, token string) string {
	return "/peerjs/peerjs?key=peerjs&id=" + url.QueryEscape(id) + "&token=" + url.QueryEscape(token) + "&version=1.5.5"
}

// pjDial connects a PeerJS client with id and token and requires OPEN.
func pjDial(t *testing.T, ts *httptest.Server, id, token string) *wsClient {
	t.Helper()
	c := dialRaw(t, ts, pjWS(id, token), nil)
	c.expect("OPEN")
	c.id = id
	return c
}

// pjCand is a CANDIDATE payload as peerjs 1.5.5 sends it.
func pjCand(cand string) msg {
	return msg{"candidate": msg{"candidate": cand, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"},
		"type": "data", "connectionId": "dc_1"}
}

// payload returns m's payload object.
func payload(t *testing.T, m msg) map[string]any {
	t.Helper()
	p, ok := m["payload"].(map[string]any)
	require.True(t, ok, "no payload object in %v", m)
	return p
}

func TestPeerJSConfig(t *testing.T) {
	d := PeerJSConfig{}.withDefaults()
	assert.Equal(t, "/peerjs/", d.Path)
	assert.Equal(t, "peerjs", d.Key)
	assert.Equal(t, 5*time.Second, d.ExpireTimeout)
	assert.Equal(t, 90*time.Second, d.AliveTimeout)
	assert.False(t, d.Discovery)
	assert.Equal(t, "/p/q/", PeerJSConfig{Path: "p/q"}.withDefaults().Path)

	for _, tc := range []struct {
		name string
		cfg  PeerJSConfig
		ok   bool
	}{
		{"defaults", PeerJSConfig{}, true},
		{"root", PeerJSConfig{Path: "/"}, true},
		{"pattern in path", PeerJSConfig{Path: "/{x}/"}, false},
		{"space in path", PeerJSConfig{Path: "/a b/"}, false},
		{"double slash", PeerJSConfig{Path: "/a//b/"}, false},
		{"slash in key", PeerJSConfig{Key: "a/b"}, false},
		{"negative expire", PeerJSConfig{ExpireTimeout: -1}, false},
		{"disabled ignores the rest", PeerJSConfig{Disabled: true, Key: "a/b"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.withDefaults().validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errPeerJSConfig)
			}
		})
	}
}

func TestPeerJSValidID(t *testing.T) {
	for id, ok := range map[string]bool{
		"alice": true, "a-b_c d": true, "A1": true, newPeerJSID(): true,
		"": false, "-a": false, "a-": false, "a--b": false, "a b": true, "a  b": false,
		"a.b": false, "ä": false, strings.Repeat("a", peerjsMaxIDLen): true, strings.Repeat("a", peerjsMaxIDLen+1): false,
	} {
		assert.Equal(t, ok, validPeerJSID(id), "%q", id)
	}
}

func TestPeerJSOpenErrors(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	for _, tc := range []struct {
		name, query, typ, msg string
	}{
		{"no id", "/peerjs/peerjs?key=peerjs&token=t", "ERROR", peerjsErrParams},
		{"no token", "/peerjs/peerjs?key=peerjs&id=alice", "ERROR", peerjsErrParams},
		{"no key", "/peerjs/peerjs?id=alice&token=t", "ERROR", peerjsErrParams},
		{"wrong key", "/peerjs/peerjs?key=nope&id=alice&token=t", "ERROR", peerjsErrKey},
		{"bad id", "/peerjs/peerjs?key=peerjs&id=-x-&token=t", "ERROR", peerjsErrID},
		{"long token", "/peerjs/peerjs?key=peerjs&id=alice&token=" + strings.Repeat("t", 200), "ERROR", peerjsErrID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts, tc.query, nil)
			m := c.expect(tc.typ)
			assert.Equal(t, map[string]any{"msg": tc.msg}, m["payload"])
			assert.Equal(t, websocket.CloseNormalClosure, c.expectClose())
		})
	}
}

func TestPeerJSIDTakenAndTakeover(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := pjDial(t, ts, "alice", "tok-1")
	b := pjDial(t, ts, "bob", "tok-b")

	// Another token: ID-TAKEN, and alice keeps her id.
	thief := dialRaw(t, ts, pjWS("alice", "tok-2"), nil)
	m := thief.expect("ID-TAKEN")
	assert.Equal(t, map[string]any{"msg": "ID is taken"}, m["payload"])
	assert.Equal(t, websocket.CloseNormalClosure, thief.expectClose())

	b.send(msg{"type": "CANDIDATE", "dst": "alice", "payload": pjCand(relayCand)})
	assert.Equal(t, "bob", a.expect("CANDIDATE").str("src"))

	// The same token takes the id over: the old socket is closed and
	// messages reach the new one.
	a2 := pjDial(t, ts, "alice", "tok-1")
	assert.Equal(t, websocket.CloseNormalClosure, a.expectClose())
	b.send(msg{"type": "CANDIDATE", "dst": "alice", "payload": pjCand(relayCand)})
	assert.Equal(t, "bob", a2.expect("CANDIDATE").str("src"))
}

func TestPeerJSForwarding(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := pjDial(t, ts, "alice", "ta")
	b := pjDial(t, ts, "bob", "tb")

	a.send(msg{
		"type": "OFFER", "dst": "bob", "src": "mallory", "extra": "dropped",
		"payload": msg{
			"sdp": msg{"type": "offer", "sdp": pjOfferSDP, "x": 1}, "type": "data", "connectionId": "dc_1",
			"label": "dc_1", "reliable": true, "serialization": "binary", "metadata": msg{"app": []any{1, "two"}},
			"browser": "chrome", "unknown": "dropped",
		},
	})
	got := b.expect("OFFER")
	assert.Equal(t, "alice", got.str("src"), "src is set by the server")
	assert.Equal(t, "bob", got.str("dst"))
	assert.Len(t, got, 4, "only type, src, dst, payload: %v", got)
	p := payload(t, got)
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

	b.send(msg{"type": "ANSWER", "dst": "alice", "payload": msg{
		"sdp":  msg{"type": "answer", "sdp": strings.ReplaceAll(pjOfferSDP, "mozilla...THIS_IS_SDPARTA-99.0", "-")},
		"type": "data", "connectionId": "dc_1",
	}})
	got = a.expect("ANSWER")
	assert.Equal(t, "bob", got.str("src"))
	assert.Equal(t, "answer", payload(t, got)["sdp"].(map[string]any)["type"])
	assert.NotContains(t, payload(t, got)["sdp"].(map[string]any)["sdp"], "192.168.1.20")

	// Under forced relay a host candidate is not forwarded at all; the
	// relay candidate sent after it is the next thing bob sees.
	a.send(msg{"type": "CANDIDATE", "dst": "bob", "payload": pjCand(hostCand)})
	a.send(msg{"type": "CANDIDATE", "dst": "bob", "payload": pjCand(relayCand)})
	got = b.expect("CANDIDATE")
	p = payload(t, got)
	c := p["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], "typ relay")
	assert.Contains(t, c["candidate"], "raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c["candidate"], "198.51.100.4")
	assert.Equal(t, "0", c["sdpMid"])
	assert.EqualValues(t, 0, c["sdpMLineIndex"])
	assert.Equal(t, "abcd", c["usernameFragment"])
	assert.Equal(t, "dc_1", p["connectionId"])

	// LEAVE carries only who leaves.
	a.send(msg{"type": "LEAVE", "dst": "bob", "payload": msg{"connectionId": "dc_1", "secret": "x"}})
	got = b.expect("LEAVE")
	assert.Equal(t, msg{"type": "LEAVE", "src": "alice", "dst": "bob"}, got)
}

func TestPeerJSSysinfoPassAndRelayOff(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOff
	p.Sysinfo = privacy.SysinfoPass
	_, ts := newTestServer(t, Config{Policy: p})
	a := pjDial(t, ts, "alice", "ta")
	b := pjDial(t, ts, "bob", "tb")
	a.send(msg{"type": "OFFER", "dst": "bob", "payload": msg{"sdp": msg{"type": "offer", "sdp": pjOfferSDP}, "type": "media", "connectionId": "mc_1", "browser": "firefox"}})
	got := payload(t, b.expect("OFFER"))
	assert.Equal(t, "firefox", got["browser"])
	assert.Equal(t, pjOfferSDP, got["sdp"].(map[string]any)["sdp"])
	a.send(msg{"type": "CANDIDATE", "dst": "bob", "payload": pjCand(hostCand)})
	assert.Equal(t, hostCand, payload(t, b.expect("CANDIDATE"))["candidate"].(map[string]any)["candidate"])
}

func TestPeerJSMalformedMessagesAreDropped(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := pjDial(t, ts, "alice", "ta")
	b := pjDial(t, ts, "bob", "tb")
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
		a.sendRaw([]byte(m))
	}
	require.NoError(t, a.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}))
	a.send(msg{"type": "CANDIDATE", "dst": "bob", "payload": pjCand(relayCand)})
	got := b.expect("CANDIDATE")
	assert.Equal(t, "alice", got.str("src"), "nothing before the good message reached bob")

	// Repeated abuse closes with 1008.
	for range maxStrikes + 2 {
		a.sendRaw([]byte("{"))
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.expectClose())
}

func TestPeerJSExpireForAbsentID(t *testing.T) {
	const expire = 300 * time.Millisecond
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{ExpireTimeout: expire}})
	a := pjDial(t, ts, "alice", "ta")
	start := time.Now()
	a.send(msg{"type": "OFFER", "dst": "nobody", "payload": msg{"sdp": msg{"type": "offer", "sdp": pjOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": pjCand(relayCand)})
	got := a.expect("EXPIRE")
	assert.GreaterOrEqual(t, time.Since(start), expire, "held for the expire timeout first")
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, got)

	// One EXPIRE per sender: the next thing alice sees is a new message.
	b := pjDial(t, ts, "bob", "tb")
	b.send(msg{"type": "CANDIDATE", "dst": "alice", "payload": pjCand(relayCand)})
	assert.Equal(t, "CANDIDATE", a.recv().str("type"))
}

func TestPeerJSHeldMessagesDeliveredOnConnect(t *testing.T) {
	const expire = time.Second
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{ExpireTimeout: expire}})
	a := pjDial(t, ts, "alice", "ta")
	a.send(msg{"type": "OFFER", "dst": "late-bob", "payload": msg{"sdp": msg{"type": "offer", "sdp": pjOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.send(msg{"type": "CANDIDATE", "dst": "late-bob", "payload": pjCand(hostCand)}) // filtered, never held
	a.send(msg{"type": "CANDIDATE", "dst": "late-bob", "payload": pjCand(relayCand)})
	a.send(msg{"type": "LEAVE", "dst": "late-bob"}) // LEAVE is not held, as in the peer server
	time.Sleep(expire / 10)

	b := dialRaw(t, ts, pjWS("late-bob", "tb"), nil)
	b.expect("OPEN")
	assert.Equal(t, "alice", b.expect("OFFER").str("src"))
	assert.Contains(t, payload(t, b.expect("CANDIDATE"))["candidate"].(map[string]any)["candidate"], "typ relay")

	// After the expire timeout alice has had no EXPIRE: bob's answer is
	// the next thing she sees.
	time.Sleep(expire)
	b.send(msg{"type": "ANSWER", "dst": "alice", "payload": msg{"sdp": msg{"type": "answer", "sdp": pjOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, "ANSWER", a.recv().str("type"))
	b.send(msg{"type": "CANDIDATE", "dst": "alice", "payload": pjCand(relayCand)})
	assert.Equal(t, "CANDIDATE", a.recv().str("type"), "the LEAVE was not held for bob either")
}

func TestPeerJSHeldCapAnswersExpireAtOnce(t *testing.T) {
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{ExpireTimeout: time.Hour}})
	a := pjDial(t, ts, "alice", "ta")
	for range peerjsHeldPerDst {
		a.send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": pjCand(relayCand)})
	}
	a.send(msg{"type": "CANDIDATE", "dst": "nobody", "payload": pjCand(relayCand)})
	assert.Equal(t, msg{"type": "EXPIRE", "src": "nobody", "dst": "alice"}, a.expect("EXPIRE"))
}

func TestPeerJSNativePeersUnreachable(t *testing.T) {
	const expire = 200 * time.Millisecond
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{ExpireTimeout: expire}})
	native := dial(t, ts, "")
	a := pjDial(t, ts, "alice", "ta")
	id := native.id
	a.send(msg{"type": "OFFER", "dst": id, "payload": msg{"sdp": msg{"type": "offer", "sdp": pjOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	a.send(msg{"type": "LEAVE", "dst": id})
	// To the PeerJS sender the native peer is as absent as any other id.
	assert.Equal(t, msg{"type": "EXPIRE", "src": id, "dst": "alice"}, a.expect("EXPIRE"))
	native.roundTrip() // and the native peer got nothing

}

// TestDialectIDsAreNamespaced: ids live in one namespace per protocol, so a
// PeerJS client connecting with the id of a live native peer gets OPEN, not
// ID-TAKEN (which would tell it the id exists), and neither peer can reach
// the other: a message to that id reaches the PeerJS holder only.
func TestDialectIDsAreNamespaced(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	var native *wsClient
	for range 64 { // bounded; about half of native ids fit PeerJS's id rule
		c := dial(t, ts, "")
		if validPeerJSID(c.id) {
			native = c
			break
		}
		require.NoError(t, c.ws.Close())
	}
	require.NotNil(t, native, "no native id valid as a PeerJS id in 64 tries")
	id := native.id

	twin := pjDial(t, ts, id, "t1") // OPEN, although the native id is live
	alice := pjDial(t, ts, "alice", "ta")
	alice.send(msg{"type": "OFFER", "dst": id, "payload": msg{"sdp": msg{"type": "offer", "sdp": pjOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, "alice", twin.expect("OFFER").str("src"), "the PeerJS holder of the id gets the offer")

	// The native peer got nothing, and cannot reach the PeerJS twin or alice.
	native.send(msg{"type": "signal", "to": id, "data": msg{"candidate": nil}})
	native.expectError(CodeUnknownPeer)
	native.send(msg{"type": "signal", "to": "alice", "data": msg{"candidate": nil}})
	native.expectError(CodeUnknownPeer)

	// After the native peer leaves, nothing changes for PeerJS: a second
	// PeerJS client with another token still gets ID-TAKEN from the twin
	// only, as before.
	require.NoError(t, native.ws.Close())
	c := dialRaw(t, ts, pjWS(id, "t2"), nil)
	c.expect("ID-TAKEN")
}

func TestPeerJSHeartbeatAndAliveTimeout(t *testing.T) {
	const alive = 400 * time.Millisecond
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{AliveTimeout: alive}})
	a := pjDial(t, ts, "alice", "ta")
	b := pjDial(t, ts, "bob", "tb")
	// Heartbeats keep alice well past the alive timeout.
	deadline := time.Now().Add(3 * alive)
	for time.Now().Before(deadline) {
		a.send(msg{"type": "HEARTBEAT"})
		b.send(msg{"type": "HEARTBEAT"})
		time.Sleep(alive / 4)
	}
	b.send(msg{"type": "CANDIDATE", "dst": "alice", "payload": pjCand(relayCand)})
	assert.Equal(t, "CANDIDATE", a.expect("CANDIDATE").str("type"))
	// Silence drops her (bob too, he stops as well).
	start := time.Now()
	assert.Equal(t, websocket.CloseNormalClosure, a.expectClose())
	assert.GreaterOrEqual(t, time.Since(start), alive/2)
}

func TestPeerJSLeaveWithoutDstCloses(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	a := pjDial(t, ts, "alice", "ta")
	a.send(msg{"type": "LEAVE"})
	assert.Equal(t, websocket.CloseNormalClosure, a.expectClose())
	// The id is free again (the server unregisters just after closing).
	require.Eventually(t, func() bool { return srv.Hub().Lookup(peerjsNS, "alice") == nil }, recvTimeout, 5*time.Millisecond)
	pjDial(t, ts, "alice", "other-token")
}

func TestPeerJSShutdownSends1001(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	a := pjDial(t, ts, "alice", "ta")
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, websocket.CloseGoingAway, a.expectClose())
}

func httpGet(t *testing.T, u string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestPeerJSHTTP(t *testing.T) {
	_, ts := newTestServer(t, Config{})

	t.Run("id", func(t *testing.T) {
		seen := make(map[string]bool)
		for i := range 200 {
			resp, id := httpGet(t, ts.URL+"/peerjs/peerjs/id?ts="+strconv.Itoa(i)+"0.123&version=1.5.5", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			raw, err := hex.DecodeString(id)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(raw)*8, 128, "ids carry at least 128 random bits")
			assert.True(t, validPeerJSID(id), "the PeerJS client accepts %q", id)
			assert.False(t, seen[id], "ids are unique")
			seen[id] = true
		}
		// A minted id opens.
		_, id := httpGet(t, ts.URL+"/peerjs/peerjs/id", nil)
		pjDial(t, ts, id, "tok")
	})

	t.Run("peers is 401", func(t *testing.T) {
		pjDial(t, ts, "alice", "ta")
		resp, body := httpGet(t, ts.URL+"/peerjs/peerjs/peers", nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.NotContains(t, body, "alice")
	})

	t.Run("wrong key", func(t *testing.T) {
		resp, _ := httpGet(t, ts.URL+"/peerjs/other/id", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("description", func(t *testing.T) {
		resp, body := httpGet(t, ts.URL+"/peerjs/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var d map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &d))
		assert.Equal(t, "veil", d["name"])
		assert.NotEmpty(t, d["description"])
	})

	t.Run("cross-origin", func(t *testing.T) {
		resp, _ := httpGet(t, ts.URL+"/peerjs/peerjs/id", http.Header{"Origin": {"https://evil.example"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, _ = httpGet(t, ts.URL+"/peerjs/peerjs/id", http.Header{"Origin": {ts.URL}})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestPeerJSDiscoveryAndCustomMount(t *testing.T) {
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{Path: "app", Key: "k1", Discovery: true}})
	c := dialRaw(t, ts, "/app/peerjs?key=k1&id=alice&token=t", nil)
	c.expect("OPEN")
	resp, body := httpGet(t, ts.URL+"/app/k1/peers", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `["alice"]`, body)
	resp, _ = httpGet(t, ts.URL+"/app/k1/id", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = httpGet(t, ts.URL+"/peerjs/peerjs/id", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the default mount is gone")
}

func TestPeerJSDisabledAndInvalid(t *testing.T) {
	_, ts := newTestServer(t, Config{PeerJS: PeerJSConfig{Disabled: true}})
	resp, _ := httpGet(t, ts.URL+"/peerjs/peerjs/id", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = httpGet(t, ts.URL+"/turn-credentials", nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the credentials endpoint stays (for other dialects)")

	_, err := New(Config{PeerJS: PeerJSConfig{Path: "/{bad}/"}})
	assert.Error(t, err, "an invalid PeerJS config fails New")
}

func TestPeerJSTURNCredentials(t *testing.T) {
	var gotIDs []string
	_, ts := newTestServer(t, Config{
		AllowedOrigins: []string{"https://app.example"},
		ICEServers: func(r *http.Request, id string) []ICEServer {
			gotIDs = append(gotIDs, id)
			user := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":" + id
			return []ICEServer{
				{URLs: []string{"stun:127.0.0.1:3478"}},
				{URLs: []string{"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"}, Username: user, Credential: "pw"},
				{URLs: []string{"turns:127.0.0.1:5349"}, Username: user, Credential: "pw"},
				{URLs: []string{"turn:other"}, Username: "x", Credential: "y"},
			}
		},
	})
	for _, path := range []string{"/turn-credentials", "/peerjs/peerjs/turn"} {
		t.Run(path, func(t *testing.T) {
			resp, body := httpGet(t, ts.URL+path, nil)
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

	resp, _ := httpGet(t, ts.URL+"/turn-credentials", http.Header{"Origin": {"https://evil.example"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = httpGet(t, ts.URL+"/turn-credentials", http.Header{"Origin": {"https://app.example"}})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Values("Vary"), "Origin")
}

func TestTURNCredentialsFrom(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		servers []ICEServer
		ok      bool
		ttl     int64
	}{
		{"none", nil, false, 0},
		{"stun only", []ICEServer{{URLs: []string{"stun:x"}}}, false, 0},
		{"rest username", []ICEServer{{URLs: []string{"turn:x"}, Username: "1700000600:id", Credential: "p"}}, true, 600},
		{"static username", []ICEServer{{URLs: []string{"turn:x"}, Username: "user", Credential: "p"}}, true, 0},
		{"expired", []ICEServer{{URLs: []string{"turn:x"}, Username: "1600000000:id", Credential: "p"}}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := turnCredentialsFrom(tc.servers, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.ttl, c.TTL)
		})
	}
}

// FuzzPeerJSSignal feeds arbitrary OFFER/ANSWER/CANDIDATE payloads through
// the decoder and the privacy filter: never a panic, and under forced relay
// nothing but relay candidates with a hidden related address comes out.
func FuzzPeerJSSignal(f *testing.F) {
	for _, seed := range []string{
		`{"sdp":{"type":"offer","sdp":"v=0\r\nc=IN IP4 10.0.0.1\r\n"},"type":"data","connectionId":"dc_1","browser":"chrome"}`,
		`{"candidate":{"candidate":"` + hostCand + `","sdpMid":"0","sdpMLineIndex":0},"connectionId":"x"}`,
		`{"candidate":{"candidate":"` + relayCand + `"}}`,
		`{"metadata":{"a":[1,2]},"label":"l","reliable":true,"serialization":"json"}`,
		`null`, `5`, `{"sdp":null}`,
	} {
		for _, typ := range []string{"OFFER", "ANSWER", "CANDIDATE"} {
			f.Add(typ, []byte(seed))
		}
	}
	sess := &peerjsSession{d: &peerjsDialect{srv: &Server{metrics: newMetrics(NewHub(Limits{}, nil), &sendBudget{})}}, senderPolicy: senderPolicy{filter: true, strip: true}}
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		var p peerjsPayload
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		out, keep, ok := sess.filterPayload(typ, p)
		if !ok || !keep {
			return
		}
		if out.Browser != nil {
			t.Fatalf("browser name forwarded under strip")
		}
		if out.Candidate != nil && out.Candidate.Candidate != "" {
			if !strings.Contains(out.Candidate.Candidate, " typ relay") || strings.Contains(out.Candidate.Candidate, "typ host") {
				t.Fatalf("non-relay candidate forwarded: %q", out.Candidate.Candidate)
			}
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("forwarded payload does not encode: %v", err)
		}
	})
}
