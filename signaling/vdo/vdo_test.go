package vdo_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/vdo"
)

// A minimal offer holding a host and a relay candidate and real addresses
// in o= and c=, as a browser would write them.
const vdoOfferSDP = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 4242 0 IN IP4 192.168.1.20\r\n" +
	"s=-\r\nt=0 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 192.168.1.20\r\n" +
	"a=" + testutil.HostCand + "\r\n" +
	"a=" + testutil.RelayCand + "\r\n"

func TestVDOWaitingPlayServedOnSeed(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")

	// The viewer plays before anyone seeds: the request waits, silently.
	viewer.Send(msg{"request": "play", "streamID": "cam1abc123"})
	viewer.Sync()

	pub.Send(msg{"request": "seed", "streamID": "cam1abc123"})
	o := pub.ExpectReq("offerSDP")
	assert.Len(t, o, 2, "offerSDP carries only request and UUID: %v", o)
	viewerID := o.Str("UUID")
	raw, err := base64.RawURLEncoding.DecodeString(viewerID)
	require.NoError(t, err, "UUIDs are URL-safe base64")
	assert.GreaterOrEqual(t, len(raw)*8, 128, "UUIDs carry at least 128 random bits")

	// The publisher offers directly; the viewer sees the publisher's UUID.
	pub.Send(msg{"UUID": viewerID, "session": "abcd1234", "streamID": "cam1abc123",
		"description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.Recv()
	pubID := off.Str("UUID")
	assert.NotEqual(t, viewerID, pubID)
	assert.Equal(t, "abcd1234", off.Str("session"))
	assert.Equal(t, "cam1abc123", off.Str("streamID"))
	assert.Equal(t, "offer", off["description"].(map[string]any)["type"])

	// The viewer answers; the publisher sees the viewer's UUID.
	viewer.Send(msg{"UUID": pubID, "session": "abcd1234", "description": msg{"type": "answer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}})
	ans := pub.Recv()
	assert.Equal(t, viewerID, ans.Str("UUID"))
	assert.Equal(t, "answer", ans["description"].(map[string]any)["type"])

	// A play of a live stream is served at once, with a fresh offerSDP.
	late := testutil.DialVDO(t, ts, "")
	late.Send(msg{"request": "play", "streamID": "cam1abc123"})
	lateID := pub.ExpectReq("offerSDP").Str("UUID")
	assert.NotEqual(t, viewerID, lateID)
	assert.NotEqual(t, pubID, lateID)
}

func TestVDOSeedErrors(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")
	a.Send(msg{"request": "seed", "streamID": "taken"})
	a.Send(msg{"request": "seed", "streamID": "taken"}) // again: no answer, no harm
	a.Sync()

	b.Send(msg{"request": "seed", "streamID": "taken"})
	b.ExpectErr(vdo.CodeStreamIDInUse)
	al := b.ExpectReq("alert")
	assert.Equal(t, vdo.AlertStreamInUse, al.Str("message"), "the SDK resets its state on this exact text")

	a.Send(msg{"request": "seed", "streamID": "other"})
	a.ExpectErr(signaling.CodeBadMessage) // one stream per socket

	a.Send(msg{"request": "seed"})
	a.ExpectErr(signaling.CodeBadMessage)
	a.Send(msg{"request": "play", "streamID": "taken"})
	a.ExpectErr(signaling.CodeBadMessage) // its own stream
	a.Send(msg{"request": "seed", "streamID": ""})
	a.ExpectErr(signaling.CodeBadMessage)
	a.Send(msg{"request": "seed", "streamID": 7})
	a.ExpectErr(signaling.CodeBadMessage)
	a.Sync()
}

func TestVDOBadMessages(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	c := testutil.DialVDO(t, ts, "")
	for _, tc := range []struct {
		name string
		raw  string
		code signaling.Code
	}{
		{"not json", `{"request":`, signaling.CodeBadJSON},
		{"array", `[1,2]`, signaling.CodeBadJSON},
		{"unknown request", `{"request":"sendroom","msg":"hi"}`, signaling.CodeUnknownType},
		{"neither request nor UUID", `{"description":{"type":"offer","sdp":"v=0\r\n"}}`, signaling.CodeBadMessage},
		{"claim not a bool", `{"request":"joinroom","roomid":"r","claim":"yes"}`, signaling.CodeBadMessage},
		{"migrate without target", `{"request":"migrate","roomid":"r"}`, signaling.CodeBadMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.SendRaw([]byte(tc.raw))
			c.ExpectErr(tc.code)
		})
	}
	require.NoError(t, c.WS.WriteMessage(websocket.BinaryMessage, []byte{1, 2}))
	c.ExpectErr(signaling.CodeBadMessage)
	c.Sync()
}

func TestVDOJoinRoom(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a, b, c := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")

	l := a.JoinRoom("ROOMhash01", false)
	assert.Equal(t, msg{"request": "listing", "list": []any{}}, l)

	// b seeds first, then joins: the room hears of it with its stream.
	b.Send(msg{"request": "seed", "streamID": "bstream"})
	l = b.JoinRoom("roomhash01", false) // room IDs are case-insensitive, as in VDO.Ninja
	require.Len(t, l["list"], 1)
	aID := l["list"].([]any)[0].(map[string]any)["UUID"].(string)
	assert.Equal(t, []any{map[string]any{"UUID": aID}}, l["list"])
	sj := a.ExpectReq("someonejoined")
	bID := sj.Str("UUID")
	assert.Equal(t, msg{"request": "someonejoined", "UUID": bID, "streamID": "bstream"}, sj)

	// c joins, then seeds: the others get videoaddedtoroom.
	l = c.JoinRoom("roomhash01", false)
	assert.Equal(t, []any{map[string]any{"UUID": aID}, map[string]any{"UUID": bID, "streamID": "bstream"}}, l["list"])
	cID := a.ExpectReq("someonejoined").Str("UUID")
	assert.Equal(t, cID, b.ExpectReq("someonejoined").Str("UUID"))
	c.Send(msg{"request": "seed", "streamID": "cstream"})
	for _, o := range []*testutil.VDOClient{a, b} {
		v := o.ExpectReq("videoaddedtoroom")
		assert.Equal(t, msg{"request": "videoaddedtoroom", "UUID": cID, "streamID": "cstream"}, v)
	}

	// Members reach each other directly.
	a.Send(msg{"UUID": cID, "bye": true})
	assert.Equal(t, msg{"UUID": aID, "bye": true}, c.Recv())

	// One room per socket; the same room again answers with a new listing.
	a.Send(msg{"request": "joinroom", "roomid": "elsewhere"})
	a.ExpectErr(signaling.CodeTooManyRooms)
	a.ExpectAlert("already in another room")
	l = a.JoinRoom("roomhash01", false)
	assert.Len(t, l["list"], 2)
	b.Sync()
}

func TestVDODirectorClaim(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	x, d, e, g := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")

	x.JoinRoom("stage", false)
	l := d.JoinRoom("stage", true)
	assert.Equal(t, true, l["claim"])
	assert.NotContains(t, l, "director", "the director is not told about itself")
	sj := x.ExpectReq("someonejoined")
	assert.Equal(t, true, sj["director"])
	dID := sj.Str("UUID")

	// A later claim fails: claim:false, the director named, and an alert.
	l = e.JoinRoom("stage", true)
	assert.Equal(t, false, l["claim"])
	assert.Equal(t, dID, l.Str("director"))
	assert.Len(t, l["list"], 2)
	assert.Equal(t, vdo.AlertClaimTaken, e.ExpectReq("alert").Str("message"))
	for _, o := range []*testutil.VDOClient{x, d} {
		sj := o.ExpectReq("someonejoined")
		assert.NotContains(t, sj, "director")
	}

	// A guest that does not claim still learns who directs.
	l = g.JoinRoom("stage", false)
	assert.Equal(t, dID, l.Str("director"))
	assert.NotContains(t, l, "claim")
	for _, o := range []*testutil.VDOClient{x, d, e} {
		o.ExpectReq("someonejoined")
	}

	// When the director leaves, the role is free again.
	d.Send(msg{"request": "leave"})
	d.Sync()
	l = e.JoinRoom("stage", true) // already a member: re-claims
	assert.Equal(t, true, l["claim"])
	assert.NotContains(t, l, "director")
	l = g.JoinRoom("stage", false)
	assert.NotEmpty(t, l.Str("director"))
}

func TestVDOMigrate(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{MaxRoomPeers: 3})
	d, guest, other, z, z2 := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")

	d.JoinRoom("main", true)
	guest.Send(msg{"request": "seed", "streamID": "gcam"})
	dl := guest.JoinRoom("main", false)
	dID := dl["list"].([]any)[0].(map[string]any)["UUID"].(string)
	gID := d.ExpectReq("someonejoined").Str("UUID")
	other.JoinRoom("main", false)
	oID := d.ExpectReq("someonejoined").Str("UUID")
	guest.ExpectReq("someonejoined")
	l := z.JoinRoom("breakout", true)
	assert.Equal(t, true, l["claim"])
	l = z2.JoinRoom("breakout", false)
	zID := l.Str("director")
	require.NotEmpty(t, zID)
	z2ID := z.ExpectReq("someonejoined").Str("UUID")

	// Only a director migrates.
	other.Send(msg{"request": "migrate", "roomid": "breakout", "target": gID})
	other.ExpectErr(signaling.CodeUnauthorized)
	other.ExpectAlert("director")
	// Only members of the director's own room.
	d.Send(msg{"request": "migrate", "roomid": "breakout", "target": z2ID})
	d.ExpectErr(signaling.CodeUnknownPeer)
	d.Send(msg{"request": "migrate", "roomid": "breakout", "target": dID})
	d.ExpectErr(signaling.CodeUnknownPeer)

	d.Send(msg{"request": "migrate", "roomid": "Breakout", "target": gID})
	tr := guest.ExpectReq("transferred")
	assert.Equal(t, zID, tr.Str("director"), "the new room's director is named")
	assert.Equal(t, []any{map[string]any{"UUID": zID}, map[string]any{"UUID": z2ID}}, tr["list"])
	assert.NotContains(t, tr, "claim")
	for _, o := range []*testutil.VDOClient{z, z2} {
		sj := o.ExpectReq("someonejoined")
		assert.Equal(t, msg{"request": "someonejoined", "UUID": gID, "streamID": "gcam"}, sj)
	}

	// The guest now reaches the new room and no longer the old one.
	guest.Send(msg{"UUID": z2ID, "hangup": true})
	assert.Equal(t, msg{"UUID": gID, "hangup": true}, z2.Recv())
	guest.Send(msg{"UUID": oID, "hangup": true})
	guest.ExpectErr(signaling.CodeUnknownPeer)
	other.Send(msg{"UUID": gID, "hangup": true})
	other.ExpectErr(signaling.CodeUnknownPeer)

	// The destination's cap applies, and a failed move moves nothing.
	d.Send(msg{"request": "migrate", "roomid": "breakout", "target": oID})
	d.ExpectErr(signaling.CodeRoomFull)
	d.ExpectAlert(vdo.AlertRoomFull)
	other.Send(msg{"UUID": dID, "bye": true})
	assert.Equal(t, msg{"UUID": oID, "bye": true}, d.Recv())

	// A migrated client that re-joins its new room gets a listing.
	l = guest.JoinRoom("breakout", false)
	assert.Len(t, l["list"], 2)
	z.Sync()
	z2.Sync()
}

func TestVDORouting(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer, pubID, viewerID := testutil.VDOPair(t, ts, "", "s1")
	stranger := testutil.DialVDO(t, ts, "")
	stranger.Send(msg{"request": "seed", "streamID": "mine"})

	// Publisher and viewer reach each other.
	viewer.Send(msg{"UUID": pubID, "session": "s1", "type": "remote", "candidates": []any{msg{"candidate": testutil.RelayCand, "sdpMid": "0", "sdpMLineIndex": 0}}})
	got := pub.Recv()
	assert.Equal(t, viewerID, got.Str("UUID"))
	assert.Equal(t, "remote", got.Str("type"))

	// Anyone else, live or not, is unknown-peer, and nothing is delivered.
	for _, to := range []string{pubID, viewerID, "nonexistent", strings.Repeat("A", 24)} {
		stranger.Send(msg{"UUID": to, "bye": true})
		stranger.ExpectErr(signaling.CodeUnknownPeer)
	}
	viewer.Send(msg{"UUID": viewerID, "bye": true}) // itself
	viewer.ExpectErr(signaling.CodeUnknownPeer)
	pub.Sync()
	viewer.Sync()
}

func TestVDOUnknownFieldsDropped(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{Policy: testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub, viewer, pubID, viewerID := testutil.VDOPair(t, ts, "", "s1")
	viewer.Send(msg{"UUID": pubID, "bye": true, "from": "spoofed", "request": "", "secret": "x", "session": "s1", "streamID": "s1abc"})
	assert.Equal(t, msg{"UUID": viewerID, "bye": true, "session": "s1", "streamID": "s1abc"}, pub.Recv())
	// "from" marks a fan-out (&wss=) client on the official path: told once.
	viewer.ExpectAlert("&wss2=")

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
			viewer.Send(tc.m)
			viewer.ExpectErr(signaling.CodeBadMessage)
		})
	}
	pub.Sync()
}

func TestVDOPrivacyFilter(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer, pubID, _ := testutil.VDOPair(t, ts, "", "s1")

	// A lone host candidate is dropped; the relay candidate after it
	// arrives first, with its related address hidden.
	viewer.Send(msg{"UUID": pubID, "type": "remote", "candidate": msg{"candidate": testutil.HostCand, "sdpMid": "0", "sdpMLineIndex": 0}})
	viewer.Send(msg{"UUID": pubID, "type": "remote", "candidate": msg{"candidate": testutil.RelayCand, "sdpMid": "0", "sdpMLineIndex": 0, "bogus": 1}})
	got := pub.Recv()
	c := got["candidate"].(map[string]any)
	assert.Contains(t, c["candidate"], " typ relay raddr 0.0.0.0 rport 0")
	assert.NotContains(t, c, "bogus")

	// A bundle keeps only relay candidates.
	viewer.Send(msg{"UUID": pubID, "type": "remote", "session": "s1", "candidates": []any{
		msg{"candidate": testutil.HostCand, "sdpMid": "0", "sdpMLineIndex": 0},
		msg{"candidate": testutil.RelayCand, "sdpMid": "0", "sdpMLineIndex": 0},
	}})
	got = pub.Recv()
	cs := got["candidates"].([]any)
	require.Len(t, cs, 1)
	assert.Contains(t, cs[0].(map[string]any)["candidate"], "typ relay raddr 0.0.0.0 rport 0")
	assert.Equal(t, "s1", got.Str("session"))

	// A bundle of host candidates only is not delivered at all.
	viewer.Send(msg{"UUID": pubID, "type": "remote", "candidates": []any{msg{"candidate": testutil.HostCand}}})

	// A plain description is scrubbed: no host candidate, no address.
	pub.Send(msg{"UUID": got.Str("UUID"), "session": "s1", "description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.Recv()
	sdp := off["description"].(map[string]any)["sdp"].(string)
	assert.NotContains(t, sdp, "192.168.1.20")
	assert.NotContains(t, sdp, "198.51.100.4")
	assert.NotContains(t, sdp, "typ host")
	assert.Contains(t, sdp, "typ relay raddr 0.0.0.0 rport 0")
	assert.Contains(t, sdp, "c=IN IP4 0.0.0.0")
	assert.NotContains(t, sdp, "mozilla", "the o= user name (browser version) is stripped")

	// The only thing left for the publisher is its own pong: the host-only
	// bundle never arrived.
	pub.Sync()
}

func TestVDOFilterOff(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{Policy: testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub, viewer, pubID, viewerID := testutil.VDOPair(t, ts, "", "s1")
	viewer.Send(msg{"UUID": pubID, "candidate": msg{"candidate": testutil.HostCand, "sdpMid": "0", "sdpMLineIndex": 0}})
	assert.Equal(t, testutil.HostCand, pub.Recv()["candidate"].(map[string]any)["candidate"])
	pub.Send(msg{"UUID": viewerID, "description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	assert.Equal(t, vdoOfferSDP, viewer.Recv()["description"].(map[string]any)["sdp"])
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
		{"sealed=allow under force", testutil.Policy(privacy.RelayForce, privacy.SysinfoStrip, privacy.SealedAllow), "", true},
		{"relay=off", testutil.Policy(privacy.RelayOff, privacy.SysinfoStrip, privacy.SealedDeny), "", true},
		{"relay=optional, not asked", testutil.Policy(privacy.RelayOptional, privacy.SysinfoStrip, privacy.SealedDeny), "", true},
		{"relay=optional, asked", testutil.Policy(privacy.RelayOptional, privacy.SysinfoStrip, privacy.SealedDeny), "?relay=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newTestServer(t, signaling.Config{Policy: tc.policy})
			pub, viewer, pubID, viewerID := testutil.VDOPair(t, ts, tc.query, "s1")
			pub.Send(sealedMsg(viewerID))
			viewer.Send(msg{"UUID": pubID, "type": "remote", "candidates": "deadbeef", "vector": "00ff"})
			viewer.Send(msg{"UUID": pubID, "type": "remote", "candidate": "deadbeef", "vector": "00ff"})
			if !tc.allowed {
				// Each side gets its own refusals (error, alert once, error)
				// and, once, the alert that its peer's sealed message to it
				// was refused, in any order between the two.
				for _, c := range []*testutil.VDOClient{pub, viewer} {
					own := 2
					if c == viewer {
						own = 3
					}
					var errs, alerts, peerAlerts int
					for i := 0; i < own+1; i++ {
						m := c.Recv()
						switch {
						case m.Str("request") == "error":
							assert.Equal(t, string(signaling.CodeSealedDenied), m.Str("code"))
							assert.Contains(t, m.Str("message"), "password:false")
							errs++
						case m.Str("message") == vdo.AlertSealed:
							alerts++
						case m.Str("message") == vdo.AlertPeerSealed:
							peerAlerts++
						default:
							t.Fatalf("unexpected %v", m)
						}
					}
					assert.Equal(t, own-1, errs)
					assert.Equal(t, 1, alerts, "its own refusal is alerted once per connection")
					assert.Equal(t, 1, peerAlerts, "the addressee learns why nothing arrives, once")
				}
				pub.Sync()
				viewer.Sync()
				return
			}
			got := viewer.Recv()
			assert.Equal(t, msg{"UUID": pubID, "session": "s1", "description": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "vector": "00112233445566778899aabbccddeeff"}, got)
			assert.Equal(t, msg{"UUID": viewerID, "type": "remote", "candidates": "deadbeef", "vector": "00ff"}, pub.Recv())
			assert.Equal(t, msg{"UUID": viewerID, "type": "remote", "candidate": "deadbeef", "vector": "00ff"}, pub.Recv())

			// Even when allowed, a sealed payload must look like one.
			pub.Send(msg{"UUID": viewerID, "description": "not hex!"})
			pub.ExpectErr(signaling.CodeBadMessage)
			pub.Send(msg{"UUID": viewerID, "description": "abcd"})
			pub.ExpectErr(signaling.CodeBadMessage) // no vector
		})
	}
}

func TestVDOSysinfo(t *testing.T) {
	info := msg{"label": "Cam 1", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "platform": "Linux", "gpu": "Mesa", "battery": msg{"level": 0.5}, "note": "at 10.1.2.3"}
	pipe := msg{"chat": "hi from 192.168.1.7", "hardwareConcurrency": 8}

	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer, pubID, _ := testutil.VDOPair(t, ts, "", "s1")
	viewer.Send(msg{"UUID": pubID, "info": info, "pipe": pipe, "__fallback": true, "rejected": "busy at 10.9.9.9"})
	got := pub.Recv()
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
	assert.NotContains(t, got.Str("rejected"), "10.9.9.9")

	// sysinfo=pass with relay off: delivered as sent.
	_, ts2 := newTestServer(t, signaling.Config{Policy: testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedDeny)})
	pub2, viewer2, pubID2, _ := testutil.VDOPair(t, ts2, "", "s1")
	viewer2.Send(msg{"UUID": pubID2, "info": info})
	assert.Equal(t, map[string]any{"label": "Cam 1", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "platform": "Linux", "gpu": "Mesa", "battery": map[string]any{"level": 0.5}, "note": "at 10.1.2.3"}, pub2.Recv()["info"])

	// sysinfo=pass under forced relay: addresses are still scrubbed.
	_, ts3 := newTestServer(t, signaling.Config{Policy: testutil.Policy(privacy.RelayForce, privacy.SysinfoPass, privacy.SealedDeny)})
	pub3, viewer3, pubID3, _ := testutil.VDOPair(t, ts3, "", "s1")
	viewer3.Send(msg{"UUID": pubID3, "info": info})
	gi = pub3.Recv()["info"].(map[string]any)
	assert.Equal(t, "Linux", gi["platform"])
	assert.NotContains(t, gi["note"], "10.1.2.3")
}

func TestVDOPing(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	c := testutil.DialVDO(t, ts, "")
	c.Send(msg{"request": "ping"})
	assert.Equal(t, msg{"request": "pong"}, c.Recv())
}

func TestVDOLeaveByeHangup(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	for _, leave := range []msg{{"request": "leave"}, {"leave": true}} {
		a, b := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")
		a.JoinRoom("lounge", false)
		l := b.JoinRoom("lounge", false)
		aID := l["list"].([]any)[0].(map[string]any)["UUID"].(string)
		bID := a.ExpectReq("someonejoined").Str("UUID")
		a.Send(leave)
		a.Sync()
		b.Send(msg{"UUID": aID, "bye": true})
		b.ExpectErr(signaling.CodeUnknownPeer)
		a.Send(msg{"UUID": bID, "bye": true})
		a.ExpectErr(signaling.CodeUnknownPeer)
		// Leaving frees the socket for another room.
		a.JoinRoom("other", false)
		b.Send(leave)
		b.Sync()
	}

	for i, bye := range []msg{{"request": "bye"}, {"request": "hangup"}, {"bye": true}, {"hangup": true}} {
		// A stream per round: the last round's seeder may still be going away.
		show := "show" + strings.Repeat("x", i)
		pub, viewer, pubID, _ := testutil.VDOPair(t, ts, "", show)
		viewer.Send(bye)
		viewer.Sync()
		viewer.Send(msg{"UUID": pubID, "bye": true})
		viewer.ExpectErr(signaling.CodeUnknownPeer)

		pub.Send(bye)
		pub.Sync()
		// The stream is free, and the viewer's play was dropped: a new
		// seeder gets no offerSDP for it.
		next := testutil.DialVDO(t, ts, "")
		next.Send(msg{"request": "seed", "streamID": show})
		next.Sync()
		require.NoError(t, next.WS.Close())
	}
}

func TestVDODisconnectCleanup(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	pub, viewer, pubID, viewerID := testutil.VDOPair(t, ts, "", "live")
	pub.JoinRoom("r", true)
	viewer.JoinRoom("r", false)
	pub.ExpectReq("someonejoined")

	require.NoError(t, pub.WS.Close())
	require.Eventually(t, func() bool {
		return testutil.MetricValue(t, srv.MetricsRegistry(), "veil_connections", vdo.Namespace) == 1
	}, testutil.RecvTimeout, 10*time.Millisecond, "the publisher left")
	// The viewer is alone in the room, and the stream is free for a new
	// seeder, who is offered the still-waiting viewer.
	viewer.Send(msg{"UUID": pubID, "bye": true})
	viewer.ExpectErr(signaling.CodeUnknownPeer)
	next := testutil.DialVDO(t, ts, "")
	next.Send(msg{"request": "seed", "streamID": "live"})
	assert.Equal(t, viewerID, next.ExpectReq("offerSDP").Str("UUID"))

	require.NoError(t, viewer.WS.Close())
	require.NoError(t, next.WS.Close())
	require.Eventually(t, func() bool {
		reg := srv.MetricsRegistry()
		return testutil.MetricValueNoLabel(t, reg, "veil_rooms") == 0 && testutil.MetricValueNoLabel(t, reg, "veil_streams") == 0
	}, testutil.RecvTimeout, 10*time.Millisecond)
}

func TestVDORoomCap(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{MaxRoomPeers: 2})
	a, b, c := testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, ""), testutil.DialVDO(t, ts, "")
	a.JoinRoom("small", false)
	b.JoinRoom("small", false)
	c.Send(msg{"request": "joinroom", "roomid": "small"})
	c.ExpectErr(signaling.CodeRoomFull)
	c.ExpectAlert(vdo.AlertRoomFull)
	c.JoinRoom("big", false)
	a.ExpectReq("someonejoined")
}

func TestVDOMaxPlays(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{VDO: signaling.VDOConfig{MaxPlays: 2}})
	c := testutil.DialVDO(t, ts, "")
	c.Send(msg{"request": "play", "streamID": "one"})
	c.Send(msg{"request": "play", "streamID": "two"})
	c.Send(msg{"request": "play", "streamID": "one"}) // again: not a new play
	c.Send(msg{"request": "play", "streamID": "three"})
	c.ExpectErr(signaling.CodeRateLimited)
	c.ExpectAlert("faster than it allows")
	c.Send(msg{"request": "hangup"})
	c.Send(msg{"request": "play", "streamID": "three"})
	c.Sync()
}

func TestVDONamespaces(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	native := dial(t, ts, "")
	native.Send(msg{"type": "publish", "stream": "shared"})
	native.Expect("published")
	v := testutil.DialVDO(t, ts, "")
	v.Send(msg{"request": "seed", "streamID": "shared"})
	v.Sync() // no STREAMID_IN_USE: the dialects never share streams
	native.JoinRoom("room")
	v.JoinRoom("room", false)
	native.RoundTrip() // and no peer-joined from the VDO side
}

func TestVDOConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    signaling.VDOConfig
		path   string
		served bool
	}{
		{"default", signaling.VDOConfig{}, "/vdo", true},
		{"custom path", signaling.VDOConfig{Path: "/ninja/wss"}, "/ninja/wss", true},
		{"custom path moves it", signaling.VDOConfig{Path: "/ninja"}, "/vdo", false},
		{"disabled", signaling.VDOConfig{Disabled: true}, "/vdo", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newTestServer(t, signaling.Config{VDO: tc.cfg})
			ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, tc.path), nil)
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
	for _, bad := range []signaling.VDOConfig{{Path: "vdo"}, {Path: "/ws"}, {Path: "/a b"}, {MaxPlays: -1}} {
		_, err := signaling.New(signaling.Config{VDO: bad})
		assert.Error(t, err, "an invalid VDO config fails New: %+v", bad)
	}
	assert.Error(t, signaling.VDOConfig{Path: "/a b"}.WithDefaults().Validate())
	assert.Error(t, signaling.VDOConfig{MaxPlays: -1}.WithDefaults().Validate())
	assert.NoError(t, signaling.VDOConfig{}.WithDefaults().Validate())
}
