package signaling

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
)

// vdoClient is a raw VDO.Ninja dialect client over a real WebSocket.
type vdoClient struct{ *wsClient }

func dialVDO(t *testing.T, ts *httptest.Server, query string) *vdoClient {
	t.Helper()
	return &vdoClient{dialRaw(t, ts, "/vdo"+query, nil)}
}

// expectReq reads the next message and requires its request.
func (c *vdoClient) expectReq(req string) msg {
	c.t.Helper()
	m := c.recv()
	require.Equal(c.t, req, m.str("request"), "got %v", m)
	return m
}

// expectErr reads the next message and requires an error with code.
func (c *vdoClient) expectErr(code Code) msg {
	c.t.Helper()
	m := c.expectReq("error")
	require.Equal(c.t, string(code), m.str("code"), "got %v", m)
	require.NotEmpty(c.t, m.str("message"))
	return m
}

// expectAlert reads the next message and requires an alert whose text
// contains want: what the VDO.Ninja app shows its user.
func (c *vdoClient) expectAlert(want string) msg {
	c.t.Helper()
	m := c.expectReq("alert")
	require.Contains(c.t, m.str("message"), want)
	return m
}

// sync proves the connection is healthy and everything sent before has
// been processed, and that nothing else arrived meanwhile.
func (c *vdoClient) sync() {
	c.t.Helper()
	c.send(msg{"request": "ping"})
	c.expectReq("pong")
}

// joinRoom joins and returns the listing.
func (c *vdoClient) joinRoom(room string, claim bool) msg {
	c.t.Helper()
	m := msg{"request": "joinroom", "roomid": room}
	if claim {
		m["claim"] = true
	}
	c.send(m)
	return c.expectReq("listing")
}

// A minimal offer holding a host and a relay candidate and real addresses
// in o= and c=, as a browser would write them.
const vdoOfferSDP = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 4242 0 IN IP4 192.168.1.20\r\n" +
	"s=-\r\nt=0 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 192.168.1.20\r\n" +
	"a=" + hostCand + "\r\n" +
	"a=" + relayCand + "\r\n"

// vdoPair sets up a publisher of stream and a viewer playing it, and
// returns them with each other's UUIDs (learned from offerSDP and from a
// first direct message).
func vdoPair(t *testing.T, ts *httptest.Server, query, stream string) (pub, viewer *vdoClient, pubID, viewerID string) {
	t.Helper()
	pub, viewer = dialVDO(t, ts, query), dialVDO(t, ts, query)
	pub.send(msg{"request": "seed", "streamID": stream})
	viewer.send(msg{"request": "play", "streamID": stream})
	viewerID = pub.expectReq("offerSDP").str("UUID")
	require.NotEmpty(t, viewerID)
	pub.send(msg{"UUID": viewerID, "session": "s1", "iceRestartRequest": true})
	m := viewer.recv()
	pubID = m.str("UUID")
	require.NotEmpty(t, pubID)
	return pub, viewer, pubID, viewerID
}

func policy(relay privacy.RelayPolicy, sysinfo privacy.SysinfoPolicy, sealed privacy.SealedPolicy) privacy.Policy {
	p := privacy.DefaultPolicy()
	p.Relay, p.Sysinfo, p.Sealed = relay, sysinfo, sealed
	return p
}

func TestVDOWaitingPlayServedOnSeed(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer := dialVDO(t, ts, ""), dialVDO(t, ts, "")

	// The viewer plays before anyone seeds: the request waits, silently.
	viewer.send(msg{"request": "play", "streamID": "cam1abc123"})
	viewer.sync()

	pub.send(msg{"request": "seed", "streamID": "cam1abc123"})
	o := pub.expectReq("offerSDP")
	assert.Len(t, o, 2, "offerSDP carries only request and UUID: %v", o)
	viewerID := o.str("UUID")
	raw, err := base64.RawURLEncoding.DecodeString(viewerID)
	require.NoError(t, err, "UUIDs are URL-safe base64")
	assert.GreaterOrEqual(t, len(raw)*8, 128, "UUIDs carry at least 128 random bits")

	// The publisher offers directly; the viewer sees the publisher's UUID.
	pub.send(msg{"UUID": viewerID, "session": "abcd1234", "streamID": "cam1abc123",
		"description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.recv()
	pubID := off.str("UUID")
	assert.NotEqual(t, viewerID, pubID)
	assert.Equal(t, "abcd1234", off.str("session"))
	assert.Equal(t, "cam1abc123", off.str("streamID"))
	assert.Equal(t, "offer", off["description"].(map[string]any)["type"])

	// The viewer answers; the publisher sees the viewer's UUID.
	viewer.send(msg{"UUID": pubID, "session": "abcd1234", "description": msg{"type": "answer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}})
	ans := pub.recv()
	assert.Equal(t, viewerID, ans.str("UUID"))
	assert.Equal(t, "answer", ans["description"].(map[string]any)["type"])

	// A play of a live stream is served at once, with a fresh offerSDP.
	late := dialVDO(t, ts, "")
	late.send(msg{"request": "play", "streamID": "cam1abc123"})
	lateID := pub.expectReq("offerSDP").str("UUID")
	assert.NotEqual(t, viewerID, lateID)
	assert.NotEqual(t, pubID, lateID)
}

func TestVDOSeedErrors(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b := dialVDO(t, ts, ""), dialVDO(t, ts, "")
	a.send(msg{"request": "seed", "streamID": "taken"})
	a.send(msg{"request": "seed", "streamID": "taken"}) // again: no answer, no harm
	a.sync()

	b.send(msg{"request": "seed", "streamID": "taken"})
	b.expectErr(codeStreamIDInUse)
	al := b.expectReq("alert")
	assert.Equal(t, alertStreamInUse, al.str("message"), "the SDK resets its state on this exact text")

	a.send(msg{"request": "seed", "streamID": "other"})
	a.expectErr(CodeBadMessage) // one stream per socket

	a.send(msg{"request": "seed"})
	a.expectErr(CodeBadMessage)
	a.send(msg{"request": "play", "streamID": "taken"})
	a.expectErr(CodeBadMessage) // its own stream
	a.send(msg{"request": "seed", "streamID": ""})
	a.expectErr(CodeBadMessage)
	a.send(msg{"request": "seed", "streamID": 7})
	a.expectErr(CodeBadMessage)
	a.sync()
}

func TestVDOBadMessages(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	c := dialVDO(t, ts, "")
	for _, tc := range []struct {
		name string
		raw  string
		code Code
	}{
		{"not json", `{"request":`, CodeBadJSON},
		{"array", `[1,2]`, CodeBadJSON},
		{"unknown request", `{"request":"sendroom","msg":"hi"}`, CodeUnknownType},
		{"neither request nor UUID", `{"description":{"type":"offer","sdp":"v=0\r\n"}}`, CodeBadMessage},
		{"claim not a bool", `{"request":"joinroom","roomid":"r","claim":"yes"}`, CodeBadMessage},
		{"migrate without target", `{"request":"migrate","roomid":"r"}`, CodeBadMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.sendRaw([]byte(tc.raw))
			c.expectErr(tc.code)
		})
	}
	require.NoError(t, c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}))
	c.expectErr(CodeBadMessage)
	c.sync()
}

func TestVDOJoinRoom(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a, b, c := dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, "")

	l := a.joinRoom("ROOMhash01", false)
	assert.Equal(t, msg{"request": "listing", "list": []any{}}, l)

	// b seeds first, then joins: the room hears of it with its stream.
	b.send(msg{"request": "seed", "streamID": "bstream"})
	l = b.joinRoom("roomhash01", false) // room IDs are case-insensitive, as in VDO.Ninja
	require.Len(t, l["list"], 1)
	aID := l["list"].([]any)[0].(map[string]any)["UUID"].(string)
	assert.Equal(t, []any{map[string]any{"UUID": aID}}, l["list"])
	sj := a.expectReq("someonejoined")
	bID := sj.str("UUID")
	assert.Equal(t, msg{"request": "someonejoined", "UUID": bID, "streamID": "bstream"}, sj)

	// c joins, then seeds: the others get videoaddedtoroom.
	l = c.joinRoom("roomhash01", false)
	assert.Equal(t, []any{map[string]any{"UUID": aID}, map[string]any{"UUID": bID, "streamID": "bstream"}}, l["list"])
	cID := a.expectReq("someonejoined").str("UUID")
	assert.Equal(t, cID, b.expectReq("someonejoined").str("UUID"))
	c.send(msg{"request": "seed", "streamID": "cstream"})
	for _, o := range []*vdoClient{a, b} {
		v := o.expectReq("videoaddedtoroom")
		assert.Equal(t, msg{"request": "videoaddedtoroom", "UUID": cID, "streamID": "cstream"}, v)
	}

	// Members reach each other directly.
	a.send(msg{"UUID": cID, "bye": true})
	assert.Equal(t, msg{"UUID": aID, "bye": true}, c.recv())

	// One room per socket; the same room again answers with a new listing.
	a.send(msg{"request": "joinroom", "roomid": "elsewhere"})
	a.expectErr(CodeTooManyRooms)
	a.expectAlert("already in another room")
	l = a.joinRoom("roomhash01", false)
	assert.Len(t, l["list"], 2)
	b.sync()
}

func TestVDODirectorClaim(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	x, d, e, g := dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, "")

	x.joinRoom("stage", false)
	l := d.joinRoom("stage", true)
	assert.Equal(t, true, l["claim"])
	assert.NotContains(t, l, "director", "the director is not told about itself")
	sj := x.expectReq("someonejoined")
	assert.Equal(t, true, sj["director"])
	dID := sj.str("UUID")

	// A later claim fails: claim:false, the director named, and an alert.
	l = e.joinRoom("stage", true)
	assert.Equal(t, false, l["claim"])
	assert.Equal(t, dID, l.str("director"))
	assert.Len(t, l["list"], 2)
	assert.Equal(t, alertClaimTaken, e.expectReq("alert").str("message"))
	for _, o := range []*vdoClient{x, d} {
		sj := o.expectReq("someonejoined")
		assert.NotContains(t, sj, "director")
	}

	// A guest that does not claim still learns who directs.
	l = g.joinRoom("stage", false)
	assert.Equal(t, dID, l.str("director"))
	assert.NotContains(t, l, "claim")
	for _, o := range []*vdoClient{x, d, e} {
		o.expectReq("someonejoined")
	}

	// When the director leaves, the role is free again.
	d.send(msg{"request": "leave"})
	d.sync()
	l = e.joinRoom("stage", true) // already a member: re-claims
	assert.Equal(t, true, l["claim"])
	assert.NotContains(t, l, "director")
	l = g.joinRoom("stage", false)
	assert.NotEmpty(t, l.str("director"))
}

func TestVDOMigrate(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxRoomPeers: 3})
	d, guest, other, z, z2 := dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, "")

	d.joinRoom("main", true)
	guest.send(msg{"request": "seed", "streamID": "gcam"})
	dl := guest.joinRoom("main", false)
	dID := dl["list"].([]any)[0].(map[string]any)["UUID"].(string)
	gID := d.expectReq("someonejoined").str("UUID")
	other.joinRoom("main", false)
	oID := d.expectReq("someonejoined").str("UUID")
	guest.expectReq("someonejoined")
	l := z.joinRoom("breakout", true)
	assert.Equal(t, true, l["claim"])
	l = z2.joinRoom("breakout", false)
	zID := l.str("director")
	require.NotEmpty(t, zID)
	z2ID := z.expectReq("someonejoined").str("UUID")

	// Only a director migrates.
	other.send(msg{"request": "migrate", "roomid": "breakout", "target": gID})
	other.expectErr(CodeUnauthorized)
	other.expectAlert("director")
	// Only members of the director's own room.
	d.send(msg{"request": "migrate", "roomid": "breakout", "target": z2ID})
	d.expectErr(CodeUnknownPeer)
	d.send(msg{"request": "migrate", "roomid": "breakout", "target": dID})
	d.expectErr(CodeUnknownPeer)

	d.send(msg{"request": "migrate", "roomid": "Breakout", "target": gID})
	tr := guest.expectReq("transferred")
	assert.Equal(t, zID, tr.str("director"), "the new room's director is named")
	assert.Equal(t, []any{map[string]any{"UUID": zID}, map[string]any{"UUID": z2ID}}, tr["list"])
	assert.NotContains(t, tr, "claim")
	for _, o := range []*vdoClient{z, z2} {
		sj := o.expectReq("someonejoined")
		assert.Equal(t, msg{"request": "someonejoined", "UUID": gID, "streamID": "gcam"}, sj)
	}

	// The guest now reaches the new room and no longer the old one.
	guest.send(msg{"UUID": z2ID, "hangup": true})
	assert.Equal(t, msg{"UUID": gID, "hangup": true}, z2.recv())
	guest.send(msg{"UUID": oID, "hangup": true})
	guest.expectErr(CodeUnknownPeer)
	other.send(msg{"UUID": gID, "hangup": true})
	other.expectErr(CodeUnknownPeer)

	// The destination's cap applies, and a failed move moves nothing.
	d.send(msg{"request": "migrate", "roomid": "breakout", "target": oID})
	d.expectErr(CodeRoomFull)
	d.expectAlert(alertRoomFull)
	other.send(msg{"UUID": dID, "bye": true})
	assert.Equal(t, msg{"UUID": oID, "bye": true}, d.recv())

	// A migrated client that re-joins its new room gets a listing.
	l = guest.joinRoom("breakout", false)
	assert.Len(t, l["list"], 2)
	z.sync()
	z2.sync()
}

func TestVDORouting(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer, pubID, viewerID := vdoPair(t, ts, "", "s1")
	stranger := dialVDO(t, ts, "")
	stranger.send(msg{"request": "seed", "streamID": "mine"})

	// Publisher and viewer reach each other.
	viewer.send(msg{"UUID": pubID, "session": "s1", "type": "remote", "candidates": []any{msg{"candidate": relayCand, "sdpMid": "0", "sdpMLineIndex": 0}}})
	got := pub.recv()
	assert.Equal(t, viewerID, got.str("UUID"))
	assert.Equal(t, "remote", got.str("type"))

	// Anyone else, live or not, is unknown-peer, and nothing is delivered.
	for _, to := range []string{pubID, viewerID, "nonexistent", strings.Repeat("A", 24)} {
		stranger.send(msg{"UUID": to, "bye": true})
		stranger.expectErr(CodeUnknownPeer)
	}
	viewer.send(msg{"UUID": viewerID, "bye": true}) // itself
	viewer.expectErr(CodeUnknownPeer)
	pub.sync()
	viewer.sync()
}

func TestVDOUnknownFieldsDropped(t *testing.T) {
	_, ts := newTestServer(t, Config{Policy: policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub, viewer, pubID, viewerID := vdoPair(t, ts, "", "s1")
	viewer.send(msg{"UUID": pubID, "bye": true, "from": "spoofed", "request": "", "secret": "x", "session": "s1", "streamID": "s1abc"})
	assert.Equal(t, msg{"UUID": viewerID, "bye": true, "session": "s1", "streamID": "s1abc"}, pub.recv())
	// "from" marks a fan-out (&wss=) client on the official path: told once.
	viewer.expectAlert("&wss2=")

	// Malformed known fields are refused, not forwarded.
	for _, tc := range []struct {
		name string
		m    msg
	}{
		{"nothing to deliver", msg{"UUID": pubID, "session": "s1"}},
		{"bad type", msg{"UUID": pubID, "bye": true, "type": "sideways"}},
		{"bad description", msg{"UUID": pubID, "description": 5}},
		{"bad description type", msg{"UUID": pubID, "description": msg{"type": "bogus", "sdp": "v=0\r\n"}}},
		{"sdp not sdp", msg{"UUID": pubID, "description": msg{"type": "offer", "sdp": "hello"}}},
		{"bad candidate", msg{"UUID": pubID, "candidate": 5}},
		{"bad candidates", msg{"UUID": pubID, "candidates": msg{"a": 1}}},
		{"flag not scalar", msg{"UUID": pubID, "bye": msg{"a": 1}}},
		{"info not object", msg{"UUID": pubID, "info": "x"}},
		{"bad session", msg{"UUID": pubID, "bye": true, "session": strings.Repeat("s", 65)}},
		{"bad streamID", msg{"UUID": pubID, "bye": true, "streamID": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			viewer.send(tc.m)
			viewer.expectErr(CodeBadMessage)
		})
	}
	pub.sync()
}

func TestVDOPrivacyFilter(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer, pubID, _ := vdoPair(t, ts, "", "s1")

	// A lone host candidate is dropped; the relay candidate after it
	// arrives first, with its related address hidden.
	viewer.send(msg{"UUID": pubID, "type": "remote", "candidate": msg{"candidate": hostCand, "sdpMid": "0", "sdpMLineIndex": 0}})
	viewer.send(msg{"UUID": pubID, "type": "remote", "candidate": msg{"candidate": relayCand, "sdpMid": "0", "sdpMLineIndex": 0, "bogus": 1}})
	got := pub.recv()
	c := got["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], " typ relay raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c, "bogus")

	// A bundle keeps only relay candidates.
	viewer.send(msg{"UUID": pubID, "type": "remote", "session": "s1", "candidates": []any{
		msg{"candidate": hostCand, "sdpMid": "0", "sdpMLineIndex": 0},
		msg{"candidate": relayCand, "sdpMid": "0", "sdpMLineIndex": 0},
	}})
	got = pub.recv()
	cs := got["candidates"].([]any)
	require.Len(t, cs, 1)
	assert.Contains(t, cs[0].(map[string]any)["candidate"], "typ relay raddr 0.0.0.0 rport 0")
	assert.Equal(t, "s1", got.str("session"))

	// A bundle of host candidates only is not delivered at all.
	viewer.send(msg{"UUID": pubID, "type": "remote", "candidates": []any{msg{"candidate": hostCand}}})

	// A plain description is scrubbed: no host candidate, no address.
	pub.send(msg{"UUID": got.str("UUID"), "session": "s1", "description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.recv()
	sdp := off["description"].(map[string]any)["sdp"].(string)
	assert.NotContains(t, sdp, "192.168.1.20")
	assert.NotContains(t, sdp, "198.51.100.4")
	assert.NotContains(t, sdp, "typ host")
	assert.Contains(t, sdp, "typ relay raddr 0.0.0.0 rport 0")
	assert.Contains(t, sdp, "c=IN IP4 0.0.0.0")
	assert.NotContains(t, sdp, "mozilla", "the o= user name (browser version) is stripped")

	// The only thing left for the publisher is its own pong: the host-only
	// bundle never arrived.
	pub.sync()
}

func TestVDOFilterOff(t *testing.T) {
	_, ts := newTestServer(t, Config{Policy: policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub, viewer, pubID, viewerID := vdoPair(t, ts, "", "s1")
	viewer.send(msg{"UUID": pubID, "candidate": msg{"candidate": hostCand, "sdpMid": "0", "sdpMLineIndex": 0}})
	assert.Equal(t, hostCand, pub.recv()["candidate"].(map[string]any)["candidate"])
	pub.send(msg{"UUID": viewerID, "description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	assert.Equal(t, vdoOfferSDP, viewer.recv()["description"].(map[string]any)["sdp"])
}

func TestVDOSealedPolicy(t *testing.T) {
	sealedMsg := func(to string) msg {
		return msg{"UUID": to, "session": "s1", "description": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "vector": "00112233445566778899aabbccddeeff"}
	}
	for _, tc := range []struct {
		name    string
		policy  privacy.Policy
		query   string
		allowed bool
	}{
		{"default denies", privacy.DefaultPolicy(), "", false},
		{"sealed=allow under force", policy(privacy.RelayForce, privacy.SysinfoStrip, privacy.SealedAllow), "", true},
		{"relay=off", policy(privacy.RelayOff, privacy.SysinfoStrip, privacy.SealedDeny), "", true},
		{"relay=optional, not asked", policy(privacy.RelayOptional, privacy.SysinfoStrip, privacy.SealedDeny), "", true},
		{"relay=optional, asked", policy(privacy.RelayOptional, privacy.SysinfoStrip, privacy.SealedDeny), "?relay=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newTestServer(t, Config{Policy: tc.policy})
			pub, viewer, pubID, viewerID := vdoPair(t, ts, tc.query, "s1")
			pub.send(sealedMsg(viewerID))
			viewer.send(msg{"UUID": pubID, "type": "remote", "candidates": "deadbeef", "vector": "00ff"})
			viewer.send(msg{"UUID": pubID, "type": "remote", "candidate": "deadbeef", "vector": "00ff"})
			if !tc.allowed {
				// Each side gets its own refusals (error, alert once, error)
				// and, once, the alert that its peer's sealed message to it
				// was refused, in any order between the two.
				for _, c := range []*vdoClient{pub, viewer} {
					own := 2
					if c == viewer {
						own = 3
					}
					var errs, alerts, peerAlerts int
					for i := 0; i < own+1; i++ {
						m := c.recv()
						switch {
						case m.str("request") == "error":
							assert.Equal(t, string(CodeSealedDenied), m.str("code"))
							assert.Contains(t, m.str("message"), "password:false")
							errs++
						case m.str("message") == alertSealed:
							alerts++
						case m.str("message") == alertPeerSealed:
							peerAlerts++
						default:
							t.Fatalf("unexpected %v", m)
						}
					}
					assert.Equal(t, own-1, errs)
					assert.Equal(t, 1, alerts, "its own refusal is alerted once per connection")
					assert.Equal(t, 1, peerAlerts, "the addressee learns why nothing arrives, once")
				}
				pub.sync()
				viewer.sync()
				return
			}
			got := viewer.recv()
			assert.Equal(t, msg{"UUID": pubID, "session": "s1", "description": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "vector": "00112233445566778899aabbccddeeff"}, got)
			assert.Equal(t, msg{"UUID": viewerID, "type": "remote", "candidates": "deadbeef", "vector": "00ff"}, pub.recv())
			assert.Equal(t, msg{"UUID": viewerID, "type": "remote", "candidate": "deadbeef", "vector": "00ff"}, pub.recv())

			// Even when allowed, a sealed payload must look like one.
			pub.send(msg{"UUID": viewerID, "description": "not hex!"})
			pub.expectErr(CodeBadMessage)
			pub.send(msg{"UUID": viewerID, "description": "abcd"})
			pub.expectErr(CodeBadMessage) // no vector
		})
	}
}

func TestVDOSysinfo(t *testing.T) {
	info := msg{"label": "Cam 1", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "platform": "Linux", "gpu": "Mesa", "battery": msg{"level": 0.5}, "note": "at 10.1.2.3"}
	pipe := msg{"chat": "hi from 192.168.1.7", "hardwareConcurrency": 8}

	_, ts := newTestServer(t, Config{})
	pub, viewer, pubID, _ := vdoPair(t, ts, "", "s1")
	viewer.send(msg{"UUID": pubID, "info": info, "pipe": pipe, "__fallback": true, "rejected": "busy at 10.9.9.9"})
	got := pub.recv()
	gi := got["info"].(map[string]any)
	assert.Equal(t, "Cam 1", gi["label"])
	for _, k := range []string{"userAgent", "platform", "gpu", "battery"} {
		assert.NotContains(t, gi, k)
	}
	assert.NotContains(t, gi["note"], "10.1.2.3")
	gp := got["pipe"].(map[string]any)
	assert.NotContains(t, gp, "hardwareConcurrency")
	assert.NotContains(t, gp["chat"], "192.168.1.7")
	assert.Equal(t, true, got["__fallback"])
	assert.NotContains(t, got.str("rejected"), "10.9.9.9")

	// sysinfo=pass with relay off: delivered as sent.
	_, ts2 := newTestServer(t, Config{Policy: policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub2, viewer2, pubID2, _ := vdoPair(t, ts2, "", "s1")
	viewer2.send(msg{"UUID": pubID2, "info": info})
	assert.Equal(t, map[string]any{"label": "Cam 1", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "platform": "Linux", "gpu": "Mesa", "battery": map[string]any{"level": 0.5}, "note": "at 10.1.2.3"}, pub2.recv()["info"])

	// sysinfo=pass under forced relay: addresses are still scrubbed.
	_, ts3 := newTestServer(t, Config{Policy: policy(privacy.RelayForce, privacy.SysinfoPass, privacy.SealedDeny)})
	pub3, viewer3, pubID3, _ := vdoPair(t, ts3, "", "s1")
	viewer3.send(msg{"UUID": pubID3, "info": info})
	gi = pub3.recv()["info"].(map[string]any)
	assert.Equal(t, "Linux", gi["platform"])
	assert.NotContains(t, gi["note"], "10.1.2.3")
}

func TestVDOPing(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	c := dialVDO(t, ts, "")
	c.send(msg{"request": "ping"})
	assert.Equal(t, msg{"request": "pong"}, c.recv())
}

func TestVDOLeaveByeHangup(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	for _, leave := range []msg{{"request": "leave"}, {"leave": true}} {
		a, b := dialVDO(t, ts, ""), dialVDO(t, ts, "")
		a.joinRoom("lounge", false)
		l := b.joinRoom("lounge", false)
		aID := l["list"].([]any)[0].(map[string]any)["UUID"].(string)
		bID := a.expectReq("someonejoined").str("UUID")
		a.send(leave)
		a.sync()
		b.send(msg{"UUID": aID, "bye": true})
		b.expectErr(CodeUnknownPeer)
		a.send(msg{"UUID": bID, "bye": true})
		a.expectErr(CodeUnknownPeer)
		// Leaving frees the socket for another room.
		a.joinRoom("other", false)
		b.send(leave)
		b.sync()
	}

	for i, bye := range []msg{{"request": "bye"}, {"request": "hangup"}, {"bye": true}, {"hangup": true}} {
		// A stream per round: the last round's seeder may still be going away.
		show := "show" + strings.Repeat("x", i)
		pub, viewer, pubID, _ := vdoPair(t, ts, "", show)
		viewer.send(bye)
		viewer.sync()
		viewer.send(msg{"UUID": pubID, "bye": true})
		viewer.expectErr(CodeUnknownPeer)

		pub.send(bye)
		pub.sync()
		// The stream is free, and the viewer's play was dropped: a new
		// seeder gets no offerSDP for it.
		next := dialVDO(t, ts, "")
		next.send(msg{"request": "seed", "streamID": show})
		next.sync()
		require.NoError(t, next.ws.Close())
	}
}

func TestVDODisconnectCleanup(t *testing.T) {
	srv, ts := newTestServer(t, Config{})
	pub, viewer, pubID, viewerID := vdoPair(t, ts, "", "live")
	pub.joinRoom("r", true)
	viewer.joinRoom("r", false)
	pub.expectReq("someonejoined")

	require.NoError(t, pub.ws.Close())
	require.Eventually(t, func() bool { return srv.hub.Lookup(vdoNS, pubID) == nil }, recvTimeout, 10*time.Millisecond)
	// The viewer is alone in the room, and the stream is free for a new
	// seeder, who is offered the still-waiting viewer.
	viewer.send(msg{"UUID": pubID, "bye": true})
	viewer.expectErr(CodeUnknownPeer)
	next := dialVDO(t, ts, "")
	next.send(msg{"request": "seed", "streamID": "live"})
	assert.Equal(t, viewerID, next.expectReq("offerSDP").str("UUID"))

	require.NoError(t, viewer.ws.Close())
	require.NoError(t, next.ws.Close())
	require.Eventually(t, func() bool { return srv.hub.Rooms() == 0 && srv.hub.Streams() == 0 }, recvTimeout, 10*time.Millisecond)
}

func TestVDORoomCap(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxRoomPeers: 2})
	a, b, c := dialVDO(t, ts, ""), dialVDO(t, ts, ""), dialVDO(t, ts, "")
	a.joinRoom("small", false)
	b.joinRoom("small", false)
	c.send(msg{"request": "joinroom", "roomid": "small"})
	c.expectErr(CodeRoomFull)
	c.expectAlert(alertRoomFull)
	c.joinRoom("big", false)
	a.expectReq("someonejoined")
}

func TestVDOMaxPlays(t *testing.T) {
	_, ts := newTestServer(t, Config{VDO: VDOConfig{MaxPlays: 2}})
	c := dialVDO(t, ts, "")
	c.send(msg{"request": "play", "streamID": "one"})
	c.send(msg{"request": "play", "streamID": "two"})
	c.send(msg{"request": "play", "streamID": "one"}) // again: not a new play
	c.send(msg{"request": "play", "streamID": "three"})
	c.expectErr(CodeRateLimited)
	c.expectAlert("faster than it allows")
	c.send(msg{"request": "hangup"})
	c.send(msg{"request": "play", "streamID": "three"})
	c.sync()
}

func TestVDONamespaces(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	native := dial(t, ts, "")
	native.send(msg{"type": "publish", "stream": "shared"})
	native.expect("published")
	v := dialVDO(t, ts, "")
	v.send(msg{"request": "seed", "streamID": "shared"})
	v.sync() // no STREAMID_IN_USE: the dialects never share streams
	native.joinRoom("room")
	v.joinRoom("room", false)
	native.roundTrip() // and no peer-joined from the VDO side
}

func TestVDOConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    VDOConfig
		path   string
		served bool
	}{
		{"default", VDOConfig{}, "/vdo", true},
		{"custom path", VDOConfig{Path: "/ninja/wss"}, "/ninja/wss", true},
		{"custom path moves it", VDOConfig{Path: "/ninja"}, "/vdo", false},
		{"disabled", VDOConfig{Disabled: true}, "/vdo", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newTestServer(t, Config{VDO: tc.cfg})
			ws, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, tc.path), nil)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if !tc.served {
				require.Error(t, err)
				require.NotNil(t, resp)
				assert.Equal(t, http.StatusNotFound, resp.StatusCode)
				return
			}
			require.NoError(t, err)
			_ = ws.Close()
		})
	}
	for _, bad := range []VDOConfig{{Path: "vdo"}, {Path: "/ws"}, {Path: "/a b"}, {MaxPlays: -1}} {
		_, err := New(Config{VDO: bad})
		assert.Error(t, err, "an invalid VDO config fails New: %+v", bad)
	}
	assert.Error(t, VDOConfig{Path: "/a b"}.withDefaults().validate())
	assert.Error(t, VDOConfig{MaxPlays: -1}.withDefaults().validate())
	assert.NoError(t, VDOConfig{}.withDefaults().validate())
}
