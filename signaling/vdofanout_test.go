package signaling

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
)

// fanClient is a raw fan-out dialect client over a real WebSocket: it adds
// its label as "from" to everything it sends, as the VDO.Ninja app does.
type fanClient struct {
	*vdoClient
	label string
}

// fanLabel returns a label shaped like the app's (20 characters).
func fanLabel(prefix string) string {
	return (prefix + "xxxxxxxxxxxxxxxxxxxxxxxx")[:20]
}

func dialFan(t *testing.T, ts *httptest.Server, label, query string) *fanClient {
	t.Helper()
	return &fanClient{&vdoClient{dialRaw(t, ts, DefaultVDOFanoutPath+query, nil)}, label}
}

func (c *fanClient) say(m msg) {
	c.t.Helper()
	m["from"] = c.label
	c.send(m)
}

// sync: everything sent before was processed and nothing else arrived.
func (c *fanClient) sync() {
	c.t.Helper()
	c.say(msg{"request": "ping"})
	c.expectReq("pong")
}

func TestVDOFanoutPushView(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer := dialFan(t, ts, fanLabel("P1"), ""), dialFan(t, ts, fanLabel("V1"), "")

	// The viewer plays first: held until the seed, never broadcast.
	viewer.say(msg{"request": "play", "streamID": "cam1"})
	viewer.sync()
	pub.say(msg{"request": "seed", "streamID": "cam1"})
	// The publisher hears the viewer's play, as a fan-out server relays it.
	assert.Equal(t, msg{"request": "play", "streamID": "cam1", "from": viewer.label}, pub.recv())

	// The publisher offers to the viewer's label; the viewer gets it with
	// its own label as UUID and the publisher's as from, filtered.
	pub.say(msg{"UUID": viewer.label, "streamID": "cam1", "session": "abcdeFGHJK", "isScene": false,
		"description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.recv()
	assert.Equal(t, viewer.label, off.str("UUID"))
	assert.Equal(t, pub.label, off.str("from"))
	assert.Equal(t, "cam1", off.str("streamID"))
	assert.Equal(t, false, off["isScene"])
	assert.NotContains(t, off, "director")
	sdp := off["description"].(map[string]any)["sdp"].(string)
	assert.NotContains(t, sdp, "192.168.1.20")
	assert.NotContains(t, sdp, "typ host")
	assert.Contains(t, sdp, "typ relay")

	viewer.say(msg{"UUID": pub.label, "type": "remote", "session": "abcdeFGHJK",
		"candidates": []any{msg{"candidate": hostCand, "sdpMid": "0"}, msg{"candidate": relayCand, "sdpMid": "0"}}})
	c := pub.recv()
	assert.Equal(t, pub.label, c.str("UUID"))
	assert.Equal(t, viewer.label, c.str("from"))
	require.Len(t, c["candidates"], 1, "only the relay candidate crosses")

	// A viewer playing a live stream: the publisher hears its play at once.
	late := dialFan(t, ts, fanLabel("L1"), "")
	late.say(msg{"request": "play", "streamID": "cam1"})
	assert.Equal(t, msg{"request": "play", "streamID": "cam1", "from": late.label}, pub.recv())
}

func TestVDOFanoutRoomWithDirector(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	d, g, h := dialFan(t, ts, fanLabel("D1"), ""), dialFan(t, ts, fanLabel("G1"), ""), dialFan(t, ts, fanLabel("H1"), "")

	// The director joins with claim and its own stream; no listing back.
	d.say(msg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "dsid", "director": true})
	d.sync()

	// A guest joins: the director hears it as a joinroom from the guest.
	g.say(msg{"request": "joinroom", "roomid": "room1", "streamID": "gsid"})
	assert.Equal(t, msg{"request": "joinroom", "streamID": "gsid", "from": g.label}, d.recv())
	g.sync()

	// The director plays the guest (the app does, on that joinroom): the
	// guest hears the play marked as the director's, and offers.
	d.say(msg{"request": "play", "streamID": "gsid", "roomid": "room1", "director": true})
	assert.Equal(t, msg{"request": "play", "streamID": "gsid", "from": d.label, "director": true}, g.recv())

	// Direct messages: director:true only from the claim holder, whatever
	// a client writes; roomid is not forwarded.
	d.say(msg{"UUID": g.label, "session": "s", "bye": true, "roomid": "room1", "director": true})
	assert.Equal(t, msg{"UUID": g.label, "from": d.label, "director": true, "session": "s", "bye": true}, g.recv())
	g.say(msg{"UUID": d.label, "session": "s", "bye": true, "roomid": "room1", "director": true})
	assert.Equal(t, msg{"UUID": d.label, "from": g.label, "session": "s", "bye": true}, d.recv())

	// A second claimer joins as a guest and is told, in the app's words.
	h.say(msg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "hsid", "director": true})
	assert.Equal(t, msg{"request": "alert", "message": alertClaimTaken}, h.recv())
	for _, o := range []*fanClient{d, g} {
		assert.Equal(t, msg{"request": "joinroom", "streamID": "hsid", "from": h.label}, o.recv())
	}
	// Its messages never carry director.
	h.say(msg{"UUID": g.label, "bye": true, "director": true})
	assert.Equal(t, msg{"UUID": g.label, "from": h.label, "bye": true}, g.recv())

	// Only the director migrates; the target hears the director's migrate
	// and re-joins; the new room's members hear it join.
	z := dialFan(t, ts, fanLabel("Z1"), "")
	z.say(msg{"request": "joinroom", "roomid": "room2", "streamID": "zsid"})
	z.sync()
	h.say(msg{"request": "migrate", "roomid": "room2", "target": g.label})
	h.expectErr(CodeUnauthorized)
	h.expectAlert("director")
	d.say(msg{"request": "migrate", "roomid": "room2", "target": g.label, "director": true})
	assert.Equal(t, msg{"request": "joinroom", "streamID": "gsid", "from": g.label}, z.recv())
	assert.Equal(t, msg{"request": "migrate", "roomid": "room2", "target": g.label, "from": d.label, "director": true}, g.recv())
	g.say(msg{"request": "joinroom", "roomid": "room2", "streamID": "gsid"})
	g.sync()
	z.sync() // the re-join tells nobody again
	g.say(msg{"UUID": z.label, "bye": true})
	assert.Equal(t, msg{"UUID": z.label, "from": g.label, "bye": true}, z.recv())
	g.say(msg{"UUID": h.label, "bye": true}) // its old room: gone
	g.expectErr(CodeUnknownPeer)
}

func TestVDOFanoutLabels(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := dialFan(t, ts, fanLabel("A1"), "")
	stranger := dialFan(t, ts, fanLabel("S1"), "")
	a.say(msg{"request": "seed", "streamID": "astream"})
	stranger.say(msg{"request": "seed", "streamID": "sstream"})
	a.sync()
	stranger.sync()

	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"no from", `{"request":"seed","streamID":"x"}`},
		{"from not a string", `{"request":"seed","streamID":"x","from":7}`},
		{"too short", `{"request":"seed","streamID":"x","from":"short"}`},
		{"too long", `{"request":"seed","streamID":"x","from":"` + strings.Repeat("a", 65) + `"}`},
		{"not a label", `{"request":"seed","streamID":"x","from":"abcdefghij.1.2.3.4"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFan(t, ts, "", "")
			c.sendRaw([]byte(tc.raw))
			c.expectErr(CodeBadMessage)
			c.sendRaw([]byte(`{"request":"ping","from":"` + fanLabel("OK") + `"}`))
			c.expectReq("pong") // nothing was bound: a good label still binds
		})
	}

	// A label in use by another socket is never given to a second one: a
	// generic refusal, then 1013 so the app reconnects and retries.
	thief := dialFan(t, ts, a.label, "")
	thief.say(msg{"request": "seed", "streamID": "tstream"})
	m := thief.expectErr(CodeBadMessage)
	assert.Equal(t, errLabel.Message, m.str("message"), "the same text as a malformed label")
	assert.Equal(t, closeTryAgainLater, thief.expectClose())

	// "from" cannot change on a bound socket.
	a.say(msg{"request": "ping"})
	a.expectReq("pong")
	a.send(msg{"request": "ping", "from": stranger.label})
	a.expectErr(CodeBadMessage)

	// Labels do not open routes: an unrelated label, live or not, is
	// unknown-peer, with the same text.
	a.say(msg{"UUID": stranger.label, "bye": true})
	live := a.expectErr(CodeUnknownPeer)
	a.say(msg{"UUID": fanLabel("NOBODY"), "bye": true})
	dead := a.expectErr(CodeUnknownPeer)
	assert.Equal(t, live, dead)
	stranger.sync() // nothing arrived

	// The official dialect's ids and the fan-out labels never meet.
	off := dialVDO(t, ts, "")
	off.send(msg{"request": "play", "streamID": "astream"})
	off.sync()
	a.sync() // no play reached the fan-out publisher

	// Once the socket is gone its label is free again (the app's reconnect).
	require.NoError(t, a.ws.Close())
	var again *fanClient
	require.Eventually(t, func() bool {
		again = dialFan(t, ts, a.label, "")
		again.say(msg{"request": "ping"})
		return again.recv().str("request") == "pong"
	}, 5*time.Second, 50*time.Millisecond)
	again.say(msg{"request": "seed", "streamID": "astream"})
	again.sync()
}

func TestVDOFanoutRefusalAlerts(t *testing.T) {
	t.Run("sealed", func(t *testing.T) {
		_, ts := newTestServer(t, Config{})
		pub, viewer := dialFan(t, ts, fanLabel("P2"), ""), dialFan(t, ts, fanLabel("V2"), "")
		pub.say(msg{"request": "seed", "streamID": "s"})
		viewer.say(msg{"request": "play", "streamID": "s"})
		pub.expectReq("play")
		for i := 0; i < 2; i++ {
			pub.say(msg{"UUID": viewer.label, "description": "a1b2c3", "vector": "00ff", "session": "x"})
			pub.expectErr(CodeSealedDenied)
			if i == 0 {
				pub.expectAlert("this server requires &password=false")
			}
		}
		pub.sync()
		viewer.expectAlert("Another page of this session sends encrypted handshakes")
		viewer.sync() // once
	})
	t.Run("stream in use", func(t *testing.T) {
		_, ts := newTestServer(t, Config{})
		a, b := dialFan(t, ts, fanLabel("A3"), ""), dialFan(t, ts, fanLabel("B3"), "")
		a.say(msg{"request": "seed", "streamID": "taken"})
		a.sync()
		b.say(msg{"request": "joinroom", "roomid": "r", "streamID": "taken"})
		b.expectErr(codeStreamIDInUse)
		b.expectAlert("pick another &push= ID")
		b.say(msg{"request": "seed", "streamID": "taken"})
		b.expectErr(codeStreamIDInUse)
		b.expectAlert("already in use") // every time: the app gives up after its retries
	})
	t.Run("room full, rolled back", func(t *testing.T) {
		_, ts := newTestServer(t, Config{MaxRoomPeers: 1})
		a, b := dialFan(t, ts, fanLabel("A4"), ""), dialFan(t, ts, fanLabel("B4"), "")
		a.say(msg{"request": "joinroom", "roomid": "r", "streamID": "as"})
		a.sync()
		b.say(msg{"request": "joinroom", "roomid": "r", "streamID": "bs"})
		b.expectErr(CodeRoomFull)
		b.expectAlert(alertRoomFull)
		// The refused join published nothing: another socket may seed bs.
		c := dialFan(t, ts, fanLabel("C4"), "")
		c.say(msg{"request": "seed", "streamID": "bs"})
		c.sync()
	})
	t.Run("unauthorized, then auth", func(t *testing.T) {
		_, ts := newTestServer(t, Config{AuthSecret: testSecret})
		tok := mint(t, auth.Grant{Prefix: "s-", Actions: []auth.Action{auth.ActionPublish, auth.ActionPlay, auth.ActionJoin}}, time.Hour)
		a := dialFan(t, ts, fanLabel("A5"), "")
		a.say(msg{"request": "seed", "streamID": "s-1"})
		a.expectErr(CodeUnauthorized)
		a.expectAlert("&auth=TOKEN")
		// The app's &auth= sends {"auth":TOKEN} first on every connect.
		b := dialFan(t, ts, fanLabel("B5"), "")
		b.say(msg{"auth": tok})
		b.say(msg{"request": "seed", "streamID": "s-1"})
		b.sync()
		c := dialFan(t, ts, fanLabel("C5"), "?token="+url.QueryEscape(tok))
		c.say(msg{"request": "play", "streamID": "s-1"})
		c.sync()
		assert.Equal(t, c.label, b.expectReq("play").str("from"))
	})
	t.Run("official dialect: auth too", func(t *testing.T) {
		_, ts := newTestServer(t, Config{AuthSecret: testSecret})
		tok := mint(t, auth.Grant{Prefix: "s-", Actions: []auth.Action{auth.ActionPublish}}, time.Hour)
		a := dialVDO(t, ts, "")
		a.send(msg{"auth": tok})
		a.send(msg{"request": "seed", "streamID": "s-1"})
		a.sync()
	})
	t.Run("fan-out client on the official path", func(t *testing.T) {
		_, ts := newTestServer(t, Config{})
		c := dialVDO(t, ts, "")
		c.send(msg{"request": "seed", "streamID": "x", "from": fanLabel("W1")})
		c.expectAlert("/vdo-fanout")
		c.send(msg{"request": "ping", "from": fanLabel("W1")})
		c.expectReq("pong") // once per connection
	})
}

// TestVDOFanoutPrivacy: the fan-out dialect goes through the official
// dialect's filter and the final leak check.
func TestVDOFanoutPrivacy(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	pub, viewer := dialFan(t, ts, fanLabel("P6"), ""), dialFan(t, ts, fanLabel("V6"), "")
	pub.say(msg{"request": "seed", "streamID": "s"})
	viewer.say(msg{"request": "play", "streamID": "s"})
	pub.expectReq("play")

	viewer.say(msg{"UUID": pub.label, "info": msg{"userAgent": "Mozilla/5.0 X", "platform": "Linux", "label": "cam 10.1.2.3"}, "isScene": "10.9.8.7"})
	got := pub.recv()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	_, leak := privacy.FindLeakJSON(b, trustNone)
	assert.False(t, leak, "an address crossed: %s", b)
	assert.NotContains(t, string(b), "Mozilla")
	assert.NotContains(t, string(b), "Linux")

	// A candidate bundle of only host candidates forwards nothing.
	viewer.say(msg{"UUID": pub.label, "type": "remote", "candidates": []any{msg{"candidate": hostCand}}})
	viewer.sync()
	pub.sync()
}

func TestVDOFanoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  VDOConfig
		ok   bool
	}{
		{"default", VDOConfig{}, true},
		{"custom", VDOConfig{FanoutPath: "/ninja-fan"}, true},
		{"same as Path", VDOConfig{Path: "/x", FanoutPath: "/x"}, false},
		{"default Path", VDOConfig{FanoutPath: DefaultVDOPath}, false},
		{"veil endpoint", VDOConfig{FanoutPath: "/ws"}, false},
		{"not a path", VDOConfig{FanoutPath: "fan"}, false},
		{"bad character", VDOConfig{FanoutPath: "/fan?x"}, false},
		{"disabled: not checked", VDOConfig{Disabled: true, FanoutPath: "/ws"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{VDO: tc.cfg})
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errInvalidConfig)
			}
		})
	}
	// Disabled turns both paths off.
	_, ts := newTestServer(t, Config{VDO: VDOConfig{Disabled: true}})
	resp, err := ts.Client().Get(ts.URL + DefaultVDOFanoutPath)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
}
