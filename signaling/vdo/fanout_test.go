package vdo_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/vdo"
)

func TestVDOFanoutPushView(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer := testutil.DialFan(t, ts, testutil.FanLabel("P1"), ""), testutil.DialFan(t, ts, testutil.FanLabel("V1"), "")

	// The viewer plays first: held until the seed, never broadcast.
	viewer.Say(msg{"request": "play", "streamID": "cam1"})
	viewer.Sync()
	pub.Say(msg{"request": "seed", "streamID": "cam1"})
	// The publisher hears the viewer's play, as a fan-out server relays it.
	assert.Equal(t, msg{"request": "play", "streamID": "cam1", "from": viewer.Label}, pub.Recv())

	// The publisher offers to the viewer's label; the viewer gets it with
	// its own label as UUID and the publisher's as from, filtered.
	pub.Say(msg{"UUID": viewer.Label, "streamID": "cam1", "session": "abcdeFGHJK", "isScene": false,
		"description": msg{"type": "offer", "sdp": vdoOfferSDP}})
	off := viewer.Recv()
	assert.Equal(t, viewer.Label, off.Str("UUID"))
	assert.Equal(t, pub.Label, off.Str("from"))
	assert.Equal(t, "cam1", off.Str("streamID"))
	assert.Equal(t, false, off["isScene"])
	assert.NotContains(t, off, "director")
	sdp := off["description"].(map[string]any)["sdp"].(string)
	assert.NotContains(t, sdp, "192.168.1.20")
	assert.NotContains(t, sdp, "typ host")
	assert.Contains(t, sdp, "typ relay")

	viewer.Say(msg{"UUID": pub.Label, "type": "remote", "session": "abcdeFGHJK",
		"candidates": []any{msg{"candidate": testutil.HostCand, "sdpMid": "0"}, msg{"candidate": testutil.RelayCand, "sdpMid": "0"}}})
	c := pub.Recv()
	assert.Equal(t, pub.Label, c.Str("UUID"))
	assert.Equal(t, viewer.Label, c.Str("from"))
	require.Len(t, c["candidates"], 1, "only the relay candidate crosses")

	// A viewer playing a live stream: the publisher hears its play at once.
	late := testutil.DialFan(t, ts, testutil.FanLabel("L1"), "")
	late.Say(msg{"request": "play", "streamID": "cam1"})
	assert.Equal(t, msg{"request": "play", "streamID": "cam1", "from": late.Label}, pub.Recv())
}

func TestVDOFanoutRoomWithDirector(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	d, g, h := testutil.DialFan(t, ts, testutil.FanLabel("D1"), ""), testutil.DialFan(t, ts, testutil.FanLabel("G1"), ""), testutil.DialFan(t, ts, testutil.FanLabel("H1"), "")

	// The director joins with claim and its own stream; no listing back.
	d.Say(msg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "dsid", "director": true})
	d.Sync()

	// A guest joins: the director hears it as a joinroom from the guest.
	g.Say(msg{"request": "joinroom", "roomid": "room1", "streamID": "gsid"})
	assert.Equal(t, msg{"request": "joinroom", "streamID": "gsid", "from": g.Label}, d.Recv())
	g.Sync()

	// The director plays the guest (the app does, on that joinroom): the
	// guest hears the play marked as the director's, and offers.
	d.Say(msg{"request": "play", "streamID": "gsid", "roomid": "room1", "director": true})
	assert.Equal(t, msg{"request": "play", "streamID": "gsid", "from": d.Label, "director": true}, g.Recv())

	// Direct messages: director:true only from the claim holder, whatever
	// a client writes; roomid is not forwarded.
	d.Say(msg{"UUID": g.Label, "session": "s", "bye": true, "roomid": "room1", "director": true})
	assert.Equal(t, msg{"UUID": g.Label, "from": d.Label, "director": true, "session": "s", "bye": true}, g.Recv())
	g.Say(msg{"UUID": d.Label, "session": "s", "bye": true, "roomid": "room1", "director": true})
	assert.Equal(t, msg{"UUID": d.Label, "from": g.Label, "session": "s", "bye": true}, d.Recv())

	// A second claimer joins as a guest and is told, in the app's words.
	h.Say(msg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "hsid", "director": true})
	assert.Equal(t, msg{"request": "alert", "message": vdo.AlertClaimTaken}, h.Recv())
	for _, o := range []*testutil.FanClient{d, g} {
		assert.Equal(t, msg{"request": "joinroom", "streamID": "hsid", "from": h.Label}, o.Recv())
	}
	// Its messages never carry director.
	h.Say(msg{"UUID": g.Label, "bye": true, "director": true})
	assert.Equal(t, msg{"UUID": g.Label, "from": h.Label, "bye": true}, g.Recv())

	// Only the director migrates; the target hears the director's migrate
	// and re-joins; the new room's members hear it join.
	z := testutil.DialFan(t, ts, testutil.FanLabel("Z1"), "")
	z.Say(msg{"request": "joinroom", "roomid": "room2", "streamID": "zsid"})
	z.Sync()
	h.Say(msg{"request": "migrate", "roomid": "room2", "target": g.Label})
	h.ExpectErr(signaling.CodeUnauthorized)
	h.ExpectAlert("director")
	d.Say(msg{"request": "migrate", "roomid": "room2", "target": g.Label, "director": true})
	assert.Equal(t, msg{"request": "joinroom", "streamID": "gsid", "from": g.Label}, z.Recv())
	assert.Equal(t, msg{"request": "migrate", "roomid": "room2", "target": g.Label, "from": d.Label, "director": true}, g.Recv())
	g.Say(msg{"request": "joinroom", "roomid": "room2", "streamID": "gsid"})
	g.Sync()
	z.Sync() // the re-join tells nobody again
	g.Say(msg{"UUID": z.Label, "bye": true})
	assert.Equal(t, msg{"UUID": z.Label, "from": g.Label, "bye": true}, z.Recv())
	g.Say(msg{"UUID": h.Label, "bye": true}) // its old room: gone
	g.ExpectErr(signaling.CodeUnknownPeer)
}

func TestVDOFanoutLabels(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	a := testutil.DialFan(t, ts, testutil.FanLabel("A1"), "")
	stranger := testutil.DialFan(t, ts, testutil.FanLabel("S1"), "")
	a.Say(msg{"request": "seed", "streamID": "astream"})
	stranger.Say(msg{"request": "seed", "streamID": "sstream"})
	a.Sync()
	stranger.Sync()

	for i, tc := range []struct {
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
			c := testutil.DialFan(t, ts, "", "")
			c.SendRaw([]byte(tc.raw))
			c.ExpectErr(signaling.CodeBadMessage)
			// A label of its own: the previous subtest's socket may still
			// hold its label while the server notices it closed.
			c.SendRaw([]byte(`{"request":"ping","from":"` + testutil.FanLabel("OK"+strconv.Itoa(i)) + `"}`))
			c.ExpectReq("pong") // nothing was bound: a good label still binds
		})
	}

	// A label in use by another socket is never given to a second one: a
	// generic refusal, then 1013 so the app reconnects and retries.
	thief := testutil.DialFan(t, ts, a.Label, "")
	thief.Say(msg{"request": "seed", "streamID": "tstream"})
	m := thief.ExpectErr(signaling.CodeBadMessage)
	assert.Equal(t, vdo.ErrLabel.Message, m.Str("message"), "the same text as a malformed label")
	assert.Equal(t, edge.CloseTryAgainLater, thief.ExpectClose())

	// "from" cannot change on a bound socket.
	a.Say(msg{"request": "ping"})
	a.ExpectReq("pong")
	a.Send(msg{"request": "ping", "from": stranger.Label})
	a.ExpectErr(signaling.CodeBadMessage)

	// Labels do not open routes: an unrelated label, live or not, is
	// unknown-peer, with the same text.
	a.Say(msg{"UUID": stranger.Label, "bye": true})
	live := a.ExpectErr(signaling.CodeUnknownPeer)
	a.Say(msg{"UUID": testutil.FanLabel("NOBODY"), "bye": true})
	dead := a.ExpectErr(signaling.CodeUnknownPeer)
	assert.Equal(t, live, dead)
	stranger.Sync() // nothing arrived

	// The official dialect's ids and the fan-out labels never meet.
	off := testutil.DialVDO(t, ts, "")
	off.Send(msg{"request": "play", "streamID": "astream"})
	off.Sync()
	a.Sync() // no play reached the fan-out publisher

	// Once the socket is gone its label is free again (the app's reconnect).
	require.NoError(t, a.WS.Close())
	var again *testutil.FanClient
	require.Eventually(t, func() bool {
		again = testutil.DialFan(t, ts, a.Label, "")
		again.Say(msg{"request": "ping"})
		return again.Recv().Str("request") == "pong"
	}, 5*time.Second, 50*time.Millisecond)
	again.Say(msg{"request": "seed", "streamID": "astream"})
	again.Sync()
}

func TestVDOFanoutRefusalAlerts(t *testing.T) {
	t.Run("sealed", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{})
		pub, viewer := testutil.DialFan(t, ts, testutil.FanLabel("P2"), ""), testutil.DialFan(t, ts, testutil.FanLabel("V2"), "")
		pub.Say(msg{"request": "seed", "streamID": "s"})
		viewer.Say(msg{"request": "play", "streamID": "s"})
		pub.ExpectReq("play")
		for i := 0; i < 2; i++ {
			pub.Say(msg{"UUID": viewer.Label, "description": "a1b2c3", "vector": "00ff", "session": "x"})
			pub.ExpectErr(signaling.CodeSealedDenied)
			if i == 0 {
				pub.ExpectAlert("this server requires &password=false")
			}
		}
		pub.Sync()
		viewer.ExpectAlert("Another page of this session sends encrypted handshakes")
		viewer.Sync() // once
	})
	t.Run("stream in use", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{})
		a, b := testutil.DialFan(t, ts, testutil.FanLabel("A3"), ""), testutil.DialFan(t, ts, testutil.FanLabel("B3"), "")
		a.Say(msg{"request": "seed", "streamID": "taken"})
		a.Sync()
		b.Say(msg{"request": "joinroom", "roomid": "r", "streamID": "taken"})
		b.ExpectErr(vdo.CodeStreamIDInUse)
		b.ExpectAlert("pick another &push= ID")
		b.Say(msg{"request": "seed", "streamID": "taken"})
		b.ExpectErr(vdo.CodeStreamIDInUse)
		b.ExpectAlert("already in use") // every time: the app gives up after its retries
	})
	t.Run("room full, rolled back", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{MaxRoomPeers: 1})
		a, b := testutil.DialFan(t, ts, testutil.FanLabel("A4"), ""), testutil.DialFan(t, ts, testutil.FanLabel("B4"), "")
		a.Say(msg{"request": "joinroom", "roomid": "r", "streamID": "as"})
		a.Sync()
		b.Say(msg{"request": "joinroom", "roomid": "r", "streamID": "bs"})
		b.ExpectErr(signaling.CodeRoomFull)
		b.ExpectAlert(vdo.AlertRoomFull)
		// The refused join published nothing: another socket may seed bs.
		c := testutil.DialFan(t, ts, testutil.FanLabel("C4"), "")
		c.Say(msg{"request": "seed", "streamID": "bs"})
		c.Sync()
	})
	t.Run("unauthorized, then auth", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{AuthSecret: testutil.Secret})
		tok := testutil.Mint(t, auth.Grant{Prefix: "s-", Actions: []auth.Action{auth.ActionPublish, auth.ActionPlay, auth.ActionJoin}}, time.Hour)
		a := testutil.DialFan(t, ts, testutil.FanLabel("A5"), "")
		a.Say(msg{"request": "seed", "streamID": "s-1"})
		a.ExpectErr(signaling.CodeUnauthorized)
		a.ExpectAlert("&auth=TOKEN")
		// The app's &auth= sends {"auth":TOKEN} first on every connect.
		b := testutil.DialFan(t, ts, testutil.FanLabel("B5"), "")
		b.Say(msg{"auth": tok})
		b.Say(msg{"request": "seed", "streamID": "s-1"})
		b.Sync()
		c := testutil.DialFan(t, ts, testutil.FanLabel("C5"), "?token="+url.QueryEscape(tok))
		c.Say(msg{"request": "play", "streamID": "s-1"})
		c.Sync()
		assert.Equal(t, c.Label, b.ExpectReq("play").Str("from"))
	})
	t.Run("official dialect: auth too", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{AuthSecret: testutil.Secret})
		tok := testutil.Mint(t, auth.Grant{Prefix: "s-", Actions: []auth.Action{auth.ActionPublish}}, time.Hour)
		a := testutil.DialVDO(t, ts, "")
		a.Send(msg{"auth": tok})
		a.Send(msg{"request": "seed", "streamID": "s-1"})
		a.Sync()
	})
	t.Run("fan-out client on the official path", func(t *testing.T) {
		_, ts := newTestServer(t, signaling.Config{})
		c := testutil.DialVDO(t, ts, "")
		c.Send(msg{"request": "seed", "streamID": "x", "from": testutil.FanLabel("W1")})
		c.ExpectAlert("/vdo-fanout")
		c.Send(msg{"request": "ping", "from": testutil.FanLabel("W1")})
		c.ExpectReq("pong") // once per connection
	})
}

// TestVDOFanoutPrivacy: the fan-out dialect goes through the official
// dialect's filter and the final leak check.
func TestVDOFanoutPrivacy(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{})
	pub, viewer := testutil.DialFan(t, ts, testutil.FanLabel("P6"), ""), testutil.DialFan(t, ts, testutil.FanLabel("V6"), "")
	pub.Say(msg{"request": "seed", "streamID": "s"})
	viewer.Say(msg{"request": "play", "streamID": "s"})
	pub.ExpectReq("play")

	viewer.Say(msg{"UUID": pub.Label, "info": msg{"userAgent": "Mozilla/5.0 X", "platform": "Linux", "label": "cam 10.1.2.3"}, "isScene": "10.9.8.7"})
	got := pub.Recv()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	_, leak := privacy.FindLeakJSON(b, edge.TrustNone)
	assert.False(t, leak, "an address crossed: %s", b)
	assert.NotContains(t, string(b), "Mozilla")
	assert.NotContains(t, string(b), "Linux")

	// A candidate bundle of only host candidates forwards nothing.
	viewer.Say(msg{"UUID": pub.Label, "type": "remote", "candidates": []any{msg{"candidate": testutil.HostCand}}})
	viewer.Sync()
	pub.Sync()
}

func TestVDOFanoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  signaling.VDOConfig
		ok   bool
	}{
		{"default", signaling.VDOConfig{}, true},
		{"custom", signaling.VDOConfig{FanoutPath: "/ninja-fan"}, true},
		{"same as Path", signaling.VDOConfig{Path: "/x", FanoutPath: "/x"}, false},
		{"default Path", signaling.VDOConfig{FanoutPath: signaling.DefaultVDOPath}, false},
		{"veil endpoint", signaling.VDOConfig{FanoutPath: "/ws"}, false},
		{"not a path", signaling.VDOConfig{FanoutPath: "fan"}, false},
		{"bad character", signaling.VDOConfig{FanoutPath: "/fan?x"}, false},
		{"disabled: not checked", signaling.VDOConfig{Disabled: true, FanoutPath: "/ws"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signaling.New(signaling.Config{VDO: tc.cfg})
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, edge.ErrInvalidConfig)
			}
		})
	}
	// Disabled turns both paths off.
	_, ts := newTestServer(t, signaling.Config{VDO: signaling.VDOConfig{Disabled: true}})
	resp, err := ts.Client().Get(ts.URL + signaling.DefaultVDOFanoutPath)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
}
