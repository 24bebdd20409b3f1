package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// joinSeeing joins room and waits until c knows every peer in others,
// from the listing or, when a node had not heard of one yet, from the
// peer-joined that follows.
func (c *client) joinSeeing(room string, others ...*client) {
	c.t.Helper()
	listed := c.join(room)
	for _, o := range others {
		if !slices.Contains(listed, o.id) {
			c.peerJoined(room, o.id)
		}
	}
}

const offerSDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Zq3xK9pLmW2r\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"

// signalFrom waits for a signal from id and returns its data.
func (c *client) signalFrom(id string) map[string]any {
	c.t.Helper()
	m := c.expect("signal", func(m msg) bool { return m.str("from") == id })
	return m["data"].(map[string]any)
}

// TestNativeAcrossNodes: every native message type between peers on
// three nodes, as on one node: join listings, peer-joined, signals (offer,
// answer, candidate), publish, play (live and pending), viewer,
// stream-added, unpublish and stream-ended, leave and disconnect.
func TestNativeAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])
	const room = "cluster-room-alpha"

	assert.Empty(t, a.join(room))
	b.joinSeeing(room, a)
	a.peerJoined(room, b.id)
	c.joinSeeing(room, a, b)
	a.peerJoined(room, c.id)
	b.peerJoined(room, c.id)
	// Once a node knows a room's members, its listing has them all.
	d := dial(t, nodes[2])
	assert.ElementsMatch(t, []string{a.id, b.id, c.id}, d.join(room), "listing across three nodes")

	// Signals: offer, answer, candidate, each to a peer on another node.
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	got := b.signalFrom(a.id)
	assert.Equal(t, "offer", got["sdp"].(map[string]any)["type"])
	assert.Contains(t, got["sdp"].(map[string]any)["sdp"], "a=ice-ufrag:Zq3x")
	b.send(msg{"type": "signal", "to": a.id, "data": msg{"sdp": msg{"type": "answer", "sdp": offerSDP}}})
	assert.Equal(t, "answer", a.signalFrom(b.id)["sdp"].(map[string]any)["type"])
	cand := "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"
	c.send(msg{"type": "signal", "to": a.id, "data": msg{"candidate": msg{"candidate": cand, "sdpMid": "0", "sdpMLineIndex": 0}}})
	assert.Equal(t, cand, a.signalFrom(c.id)["candidate"].(map[string]any)["candidate"])
	c.send(msg{"type": "signal", "to": b.id, "data": msg{"candidate": nil}})
	assert.Contains(t, b.signalFrom(c.id), "candidate", "end of candidates")

	// Publish in the room: members on other nodes get stream-added.
	const stream = "cluster-stream-one"
	a.send(msg{"type": "publish", "stream": stream, "rid": "p1"})
	a.expect("published", nil)
	b.expect("stream-added", func(m msg) bool { return m.str("peer") == a.id && m.str("stream") == stream })
	c.expect("stream-added", func(m msg) bool { return m.str("peer") == a.id && m.str("stream") == stream })

	// A viewer on another node, in no room with the publisher.
	v := dial(t, nodes[1])
	v.send(msg{"type": "play", "stream": stream, "rid": "v1"})
	var playing msg
	require.Eventually(t, func() bool {
		m := v.recv()
		switch m.str("type") {
		case "playing":
			playing = m
			return true
		case "waiting": // its node had not heard of the publish yet
		}
		return false
	}, recvTimeout, time.Millisecond)
	assert.Equal(t, a.id, playing.str("peer"))
	a.expect("viewer", func(m msg) bool { return m.str("peer") == v.id && m.str("stream") == stream })
	// Publisher and viewer signal each other across nodes.
	a.send(msg{"type": "signal", "to": v.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	v.signalFrom(a.id)
	v.send(msg{"type": "signal", "to": a.id, "data": msg{"sdp": msg{"type": "answer", "sdp": offerSDP}}})
	a.signalFrom(v.id)

	// A pending play on one node, published later on another.
	const later = "cluster-stream-later"
	w := dial(t, nodes[2])
	w.send(msg{"type": "play", "stream": later, "rid": "w1"})
	w.expect("waiting", nil)
	time.Sleep(5 * testHeartbeat) // the play reaches the other nodes
	b.send(msg{"type": "publish", "stream": later, "rid": "p2"})
	b.expect("published", nil)
	w.expect("playing", func(m msg) bool { return m.str("peer") == b.id })
	b.expect("viewer", func(m msg) bool { return m.str("peer") == w.id })

	// A stream taken on another node is in use here too.
	x := dial(t, nodes[2])
	x.send(msg{"type": "publish", "stream": stream, "rid": "p3"})
	assert.Equal(t, "stream-in-use", x.expect("error", nil).str("code"))

	// Unpublish: viewers on other nodes get stream-ended.
	a.send(msg{"type": "unpublish", "stream": stream, "rid": "u1"})
	a.expect("unpublished", nil)
	v.expect("stream-ended", func(m msg) bool { return m.str("stream") == stream })
	// The publisher's connection ends: its viewer's stream ends.
	b.close()
	w.expect("stream-ended", func(m msg) bool { return m.str("stream") == later })
	a.expect("peer-left", func(m msg) bool { return m.str("peer") == b.id })
	c.expect("peer-left", func(m msg) bool { return m.str("peer") == b.id })

	// Leave: the others see it.
	c.send(msg{"type": "leave", "room": room, "rid": "l1"})
	c.expect("left", nil)
	a.expect("peer-left", func(m msg) bool { return m.str("peer") == c.id })
	d.expect("peer-left", func(m msg) bool { return m.str("peer") == c.id })
}
