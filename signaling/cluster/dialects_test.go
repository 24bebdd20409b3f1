package cluster

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/peerjs"
	"github.com/veilrtc/veil/signaling/vdo"
)

type tmsg = testutil.Msg

// alertClaimTaken is the VDO.Ninja app's text for a refused claim (the
// vdo package's own, which only its tests export).
const alertClaimTaken = "Room is already claimed by someone else."

// knows waits until every node in nodes has peer id of namespace ns in its
// hub (local or remote).
func knows(t *testing.T, nodes []*testNode, ns, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.node.hub.Lookup(ns, id) == nil {
				return false
			}
		}
		return true
	}, recvTimeout, 5*time.Millisecond, "every node knows the peer")
}

// localID waits until tn holds exactly one local peer of namespace ns
// outside known, and returns its id: how a test learns the UUID the
// server gave a VDO.Ninja client it just connected.
func localID(t *testing.T, tn *testNode, ns string, known ...string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		tn.node.lmu.Lock()
		defer tn.node.lmu.Unlock()
		var ids []string
		for p := range tn.node.local {
			if p.Namespace() == ns && !slices.Contains(known, p.ID()) {
				ids = append(ids, p.ID())
			}
		}
		if len(ids) != 1 {
			return false
		}
		id = ids[0]
		return true
	}, recvTimeout, 5*time.Millisecond, "one new local peer")
	return id
}

// settled waits until every node has each of members in room (namespace
// ns) and, unless director is "", director directing it.
func settled(t *testing.T, nodes []*testNode, ns, room, director string, members ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			h := n.node.hub
			for _, id := range append([]string{director}, members...) {
				if id == "" {
					continue
				}
				p := h.Lookup(ns, id)
				if p == nil || !slices.Contains(p.RoomNames(), room) {
					return false
				}
			}
			if director != "" && !h.Directs(h.Lookup(ns, director), room) {
				return false
			}
		}
		return true
	}, recvTimeout, 5*time.Millisecond, "every node knows the room")
}

// dropped returns the node's count of cluster messages dropped for reason.
func (tn *testNode) dropped(reason string) uint64 {
	tn.node.m.mu.Lock()
	defer tn.node.m.mu.Unlock()
	return tn.node.m.drops[reason]
}

func pjOffer() tmsg {
	return tmsg{"sdp": tmsg{"type": "offer", "sdp": offerSDP}, "type": "data", "connectionId": "dc_1", "label": "dc_1", "reliable": true, "serialization": "json"}
}

// TestPeerJSAcrossNodes: PeerJS clients on different nodes reach each
// other by id as on one node (OFFER, ANSWER, CANDIDATE, LEAVE), an id
// live on one node is taken on every other, and a message held for an id
// that is not connected follows it to the node it then connects to.
func TestPeerJSAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	idA, idB, idC := testutil.PJID(), testutil.PJID(), testutil.PJID()
	a := testutil.PJDial(t, nodes[0].ts, idA, "tok-a")
	b := testutil.PJDial(t, nodes[1].ts, idB, "tok-b")
	knows(t, nodes, peerjs.Namespace, idA)
	knows(t, nodes, peerjs.Namespace, idB)

	// OFFER, ANSWER and CANDIDATE across nodes, src set by the server.
	a.Send(tmsg{"type": "OFFER", "dst": idB, "payload": pjOffer()})
	m := b.Expect("OFFER")
	assert.Equal(t, idA, m.Str("src"))
	assert.Equal(t, idB, m.Str("dst"))
	assert.Contains(t, testutil.PJPayload(t, m)["sdp"].(map[string]any)["sdp"], "a=ice-ufrag:Zq3x")
	b.Send(tmsg{"type": "ANSWER", "dst": idA, "payload": tmsg{"sdp": tmsg{"type": "answer", "sdp": offerSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, idB, a.Expect("ANSWER").Str("src"))
	cand := "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"
	a.Send(tmsg{"type": "CANDIDATE", "dst": idB, "payload": testutil.PJCand(cand)})
	m = b.Expect("CANDIDATE")
	assert.Equal(t, cand, testutil.PJPayload(t, m)["candidate"].(map[string]any)["candidate"])
	a.Send(tmsg{"type": "LEAVE", "dst": idB})
	assert.Equal(t, tmsg{"type": "LEAVE", "src": idA, "dst": idB}, b.Recv())

	// An id live on one node is taken on the others for another token
	// (the same token takes it over: TestPeerJSTakeoverAcrossNodes).
	taken := testutil.DialRaw(t, nodes[2].ts, testutil.PJWS(idA, "tok-other"), nil)
	assert.Equal(t, "ID-TAKEN", taken.Recv().Str("type"))

	// A message for an id not connected anywhere is held on the sender's
	// node, and delivered when the id connects on another node.
	a.Send(tmsg{"type": "OFFER", "dst": idC, "payload": pjOffer()})
	a.Send(tmsg{"type": "CANDIDATE", "dst": idC, "payload": testutil.PJCand(cand)})
	// Both are held before C connects: a HEARTBEAT round trip would say
	// nothing, so wait for the held bytes to show on node 0's metric.
	require.Eventually(t, func() bool {
		return testutil.MetricValueNoLabel(t, nodes[0].srv.MetricsRegistry(), "veil_peerjs_held_bytes") > 0
	}, recvTimeout, 5*time.Millisecond)
	c := testutil.PJDial(t, nodes[2].ts, idC, "tok-c")
	m = c.Expect("OFFER")
	assert.Equal(t, idA, m.Str("src"))
	assert.Equal(t, idA, c.Expect("CANDIDATE").Str("src"), "held messages arrive in order")
	assert.Zero(t, testutil.MetricValueNoLabel(t, nodes[0].srv.MetricsRegistry(), "veil_peerjs_held_bytes"))
	// C answers across nodes.
	c.Send(tmsg{"type": "ANSWER", "dst": idA, "payload": tmsg{"sdp": tmsg{"type": "answer", "sdp": offerSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, idC, a.Expect("ANSWER").Str("src"))

	// A peer gone from its node is gone everywhere: a message to it is
	// held again (and would expire), not sent to a stale proxy.
	b.WS.Close()
	require.Eventually(t, func() bool { return nodes[0].node.hub.Lookup(peerjs.Namespace, idB) == nil }, recvTimeout, 5*time.Millisecond)

	for i, n := range nodes {
		assert.Zero(t, n.dropped("no-sender"), "node %d: no send by id lost its sender", i)
		assert.Zero(t, n.dropped("unknown-peer"), "node %d", i)
	}
}

// TestByIDCheckedAgain: the node that holds the recipient delivers a send
// by id only in a namespace its own dialects open to it (PeerJS, the
// fan-out dialect), never in the native one, whatever another node sends.
func TestByIDCheckedAgain(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a, b := dial(t, nodes[0]), dial(t, nodes[1])
	knows(t, nodes, "native", a.id)
	knows(t, nodes, "native", b.id)
	before := nodes[1].dropped("unknown-peer")
	// Node 0 sends, by id, a frame from a to b, with whom a shares nothing.
	nodes[0].node.sendDirect(nodes[1].node.id, &message{T: tSignal, ByID: true, NS: "native", Peer: a.id, To: b.id, Frame: []byte(`{"type":"signal","from":"x"}`)})
	// And routed, not by id: the routing rule refuses it too.
	nodes[0].node.sendDirect(nodes[1].node.id, &message{T: tSignal, NS: "native", Peer: a.id, To: b.id, Frame: []byte(`{"type":"signal","from":"y"}`)})
	require.Eventually(t, func() bool { return nodes[1].dropped("unknown-peer") == before+2 }, recvTimeout, 5*time.Millisecond)
	b.quiet("signal", 5*testHeartbeat)
}

// TestVDOAcrossNodes: the official VDO.Ninja dialect across nodes: room
// listings and arrivals, the director role (claimed on one node, refused
// on another, named to joiners everywhere), direct messages, a stream
// published on one node and played on another, and a director's migrate
// of a member on another node into a room directed from a third.
func TestVDOAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	const ns = vdo.Namespace
	x := testutil.DialVDO(t, nodes[0].ts, "")
	xID := localID(t, nodes[0], ns)
	d := testutil.DialVDO(t, nodes[1].ts, "")
	dID := localID(t, nodes[1], ns)
	e := testutil.DialVDO(t, nodes[2].ts, "")
	eID := localID(t, nodes[2], ns)

	x.JoinRoom("stage", false)
	settled(t, nodes, ns, "stage", "", xID)
	l := d.JoinRoom("stage", true)
	assert.Equal(t, true, l["claim"])
	assert.Equal(t, []any{map[string]any{"UUID": xID}}, l["list"])
	sj := x.ExpectReq("someonejoined")
	assert.Equal(t, true, sj["director"], "a director on another node is announced as one")
	assert.Equal(t, dID, sj.Str("UUID"))
	settled(t, nodes, ns, "stage", dID, xID)

	// A later claim on a third node fails: the director named, an alert.
	l = e.JoinRoom("stage", true)
	assert.Equal(t, false, l["claim"])
	assert.Equal(t, dID, l.Str("director"))
	assert.Len(t, l["list"], 2)
	assert.Equal(t, alertClaimTaken, e.ExpectReq("alert").Str("message"))
	assert.Equal(t, eID, x.ExpectReq("someonejoined").Str("UUID"))
	assert.Equal(t, eID, d.ExpectReq("someonejoined").Str("UUID"))

	// Direct messages across nodes.
	x.Send(tmsg{"UUID": dID, "bye": true})
	assert.Equal(t, tmsg{"UUID": xID, "bye": true}, d.Recv())
	e.Send(tmsg{"UUID": xID, "hangup": true})
	assert.Equal(t, tmsg{"UUID": eID, "hangup": true}, x.Recv())

	// A breakout room directed from node 2; the director on node 1 moves
	// the member on node 0 there.
	z := testutil.DialVDO(t, nodes[2].ts, "")
	zID := localID(t, nodes[2], ns, eID)
	assert.Equal(t, true, z.JoinRoom("breakout", true)["claim"])
	settled(t, nodes, ns, "breakout", zID)
	zl := testutil.DialVDO(t, nodes[0].ts, "")
	zlID := localID(t, nodes[0], ns, xID)
	assert.Equal(t, zID, zl.JoinRoom("breakout", false).Str("director"), "a joiner on another node learns the director")
	assert.Equal(t, zlID, z.ExpectReq("someonejoined").Str("UUID"))
	settled(t, nodes, ns, "stage", dID, xID, eID)
	settled(t, nodes, ns, "breakout", zID, zlID)

	d.Send(tmsg{"request": "migrate", "roomid": "Breakout", "target": xID})
	tr := x.ExpectReq("transferred")
	assert.Equal(t, zID, tr.Str("director"), "the new room's director is named")
	assert.ElementsMatch(t, []any{map[string]any{"UUID": zID}, map[string]any{"UUID": zlID}}, tr["list"])
	assert.Equal(t, xID, z.ExpectReq("someonejoined").Str("UUID"))
	assert.Equal(t, xID, zl.ExpectReq("someonejoined").Str("UUID"))
	// It reaches the new room, and the old one no longer reaches it.
	x.Send(tmsg{"UUID": zID, "bye": true})
	assert.Equal(t, tmsg{"UUID": xID, "bye": true}, z.Recv())
	settled(t, nodes, ns, "breakout", zID, zlID, xID)
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if slices.Contains(n.node.hub.Lookup(ns, xID).RoomNames(), "stage") {
				return false
			}
		}
		return true
	}, recvTimeout, 5*time.Millisecond, "every node saw it leave the old room")
	d.Send(tmsg{"UUID": xID, "bye": true})
	d.ExpectErr(signaling.CodeUnknownPeer)
	// Only a director migrates, here as on one node.
	e.Send(tmsg{"request": "migrate", "roomid": "breakout", "target": dID})
	e.ExpectErr(signaling.CodeUnauthorized)

	// A stream seeded on one node, played on another: offerSDP and the
	// exchange that follows cross nodes.
	pub := testutil.DialVDO(t, nodes[0].ts, "")
	pub.Send(tmsg{"request": "seed", "streamID": "crossstream1"})
	pub.Sync()
	viewer := testutil.DialVDO(t, nodes[1].ts, "")
	viewer.Send(tmsg{"request": "play", "streamID": "crossstream1"})
	vID := pub.ExpectReq("offerSDP").Str("UUID")
	require.NotEmpty(t, vID)
	pub.Send(tmsg{"UUID": vID, "session": "s1", "iceRestartRequest": true})
	assert.NotEmpty(t, viewer.Recv().Str("UUID"))

	for i, n := range nodes {
		assert.Zero(t, n.dropped("no-sender"), "node %d", i)
		assert.Zero(t, n.dropped("migrate-refused"), "node %d", i)
	}
}

// TestVDOFanoutAcrossNodes: the fan-out dialect across nodes: arrivals,
// the director flag on plays and direct messages, and a director's
// migrate of a member on another node, told to it by the director.
func TestVDOFanoutAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	d := testutil.DialFan(t, nodes[0].ts, testutil.FanLabel("D7"), "")
	g := testutil.DialFan(t, nodes[1].ts, testutil.FanLabel("G7"), "")

	d.Say(tmsg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "dsid", "director": true})
	d.Sync()
	settled(t, nodes, vdo.FanoutNamespace, "room1", d.Label)
	g.Say(tmsg{"request": "joinroom", "roomid": "room1", "streamID": "gsid"})
	assert.Equal(t, tmsg{"request": "joinroom", "streamID": "gsid", "from": g.Label}, d.Recv())
	g.Sync()
	settled(t, nodes, vdo.FanoutNamespace, "room1", d.Label, g.Label)

	// The director's play and direct messages carry director:true on the
	// guest's node too: the role is known there.
	d.Say(tmsg{"request": "play", "streamID": "gsid", "roomid": "room1", "director": true})
	assert.Equal(t, tmsg{"request": "play", "streamID": "gsid", "from": d.Label, "director": true}, g.Recv())
	d.Say(tmsg{"UUID": g.Label, "session": "s", "bye": true, "director": true})
	assert.Equal(t, tmsg{"UUID": g.Label, "from": d.Label, "director": true, "session": "s", "bye": true}, g.Recv())
	g.Say(tmsg{"UUID": d.Label, "session": "s", "bye": true, "director": true})
	assert.Equal(t, tmsg{"UUID": d.Label, "from": g.Label, "session": "s", "bye": true}, d.Recv())

	// A second claimer on a third node joins as a guest and is told.
	h := testutil.DialFan(t, nodes[2].ts, testutil.FanLabel("H7"), "")
	h.Say(tmsg{"request": "joinroom", "roomid": "room1", "claim": true, "streamID": "hsid", "director": true})
	assert.Equal(t, tmsg{"request": "alert", "message": alertClaimTaken}, h.Recv())
	for _, o := range []*testutil.FanClient{d, g} {
		assert.Equal(t, tmsg{"request": "joinroom", "streamID": "hsid", "from": h.Label}, o.Recv())
	}

	// The director on node 0 moves the guest on node 1 into a room on
	// node 2: the room hears it join, the guest hears the director.
	z := testutil.DialFan(t, nodes[2].ts, testutil.FanLabel("Z7"), "")
	z.Say(tmsg{"request": "joinroom", "roomid": "room2", "streamID": "zsid"})
	z.Sync()
	settled(t, nodes, vdo.FanoutNamespace, "room2", "", z.Label)
	settled(t, nodes, vdo.FanoutNamespace, "room1", d.Label, g.Label, h.Label)
	d.Say(tmsg{"request": "migrate", "roomid": "room2", "target": g.Label, "director": true})
	assert.Equal(t, tmsg{"request": "migrate", "roomid": "room2", "target": g.Label, "from": d.Label, "director": true}, g.Recv())
	assert.Equal(t, tmsg{"request": "joinroom", "streamID": "gsid", "from": g.Label}, z.Recv())
	g.Say(tmsg{"request": "joinroom", "roomid": "room2", "streamID": "gsid"})
	g.Sync()
	g.Say(tmsg{"UUID": z.Label, "bye": true})
	assert.Equal(t, tmsg{"UUID": z.Label, "from": g.Label, "bye": true}, z.Recv())
	g.Say(tmsg{"UUID": h.Label, "bye": true}) // its old room: gone
	g.ExpectErr(signaling.CodeUnknownPeer)

	for i, n := range nodes {
		assert.Zero(t, n.dropped("no-sender"), "node %d", i)
	}
}

// TestPeerJSConcurrentClaims: two nodes asked for one PeerJS id at the
// same instant give it to exactly one client; the other gets ID-TAKEN,
// and both nodes then agree who holds it.
func TestPeerJSConcurrentClaims(t *testing.T) {
	_, nodes := startCluster(t, 2)
	const rounds = 20
	for i := range rounds {
		id := testutil.PJID()
		types := make([]string, 2)
		var wg sync.WaitGroup
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(nodes[k].ts, testutil.PJWS(id, fmt.Sprintf("tok-%d", k))), nil)
				if err != nil {
					return
				}
				_ = resp.Body.Close()
				t.Cleanup(func() { _ = ws.Close() })
				_ = ws.SetReadDeadline(time.Now().Add(recvTimeout))
				var m tmsg
				if ws.ReadJSON(&m) == nil {
					types[k] = m.Str("type")
				}
			}()
		}
		wg.Wait()
		assert.ElementsMatch(t, []string{"OPEN", "ID-TAKEN"}, types, "round %d", i)
		winner := slices.Index(types, "OPEN")
		if winner < 0 {
			continue
		}
		require.Eventually(t, func() bool {
			p0, p1 := nodes[0].node.hub.Lookup(peerjs.Namespace, id), nodes[1].node.hub.Lookup(peerjs.Namespace, id)
			return p0 != nil && p1 != nil && p0.Remote() == (winner == 1) && p1.Remote() == (winner == 0)
		}, recvTimeout, 5*time.Millisecond, "round %d: both nodes know the winner", i)
	}
}

// TestPeerJSTakeoverAcrossNodes: a PeerJS client that reconnects with its
// id and token on another node (PeerJS reconnect() through a balancer)
// takes the id over: its old connection is closed, the new one opens, and
// messages for the id reach the new one. Another token is refused.
func TestPeerJSTakeoverAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	id, peer := testutil.PJID(), testutil.PJID()
	old := testutil.PJDial(t, nodes[0].ts, id, "tok-mine")
	sender := testutil.PJDial(t, nodes[2].ts, peer, "tok-peer")
	knows(t, nodes, peerjs.Namespace, id)

	other := testutil.DialRaw(t, nodes[1].ts, testutil.PJWS(id, "tok-not-mine"), nil)
	assert.Equal(t, "ID-TAKEN", other.Recv().Str("type"))

	fresh := testutil.PJDial(t, nodes[1].ts, id, "tok-mine")
	_ = old.WS.SetReadDeadline(time.Now().Add(recvTimeout))
	for {
		if _, _, err := old.WS.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce, "the old connection is closed")
			assert.Equal(t, websocket.CloseNormalClosure, ce.Code)
			break
		}
	}
	require.Eventually(t, func() bool {
		p := nodes[2].node.hub.Lookup(peerjs.Namespace, id)
		return p != nil && p.Remote() && nodes[0].node.hub.Lookup(peerjs.Namespace, id) != nil &&
			nodes[0].node.hub.Lookup(peerjs.Namespace, id).Remote()
	}, recvTimeout, 5*time.Millisecond, "every node knows the id on node 1 now")
	sender.Send(tmsg{"type": "OFFER", "dst": id, "payload": pjOffer()})
	assert.Equal(t, peer, fresh.Expect("OFFER").Str("src"))
}
