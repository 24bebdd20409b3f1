package cluster

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/veilrtc/veil/signaling/hub"
)

// remoteNode is another node as this one knows it. Owned by the loop.
type remoteNode struct {
	id      string
	seen    time.Time // last message from it
	lastAt  int64     // its last heartbeat's clock: older ones are replays
	synced  bool      // its snapshot is applied and no change went missing since
	applied uint64    // the last of its changes applied
	askedAt time.Time // when a snapshot was last asked for
	direct  window    // its direct counters seen
	relays  []netip.Addr
	peers   map[string]*remotePeer // by peerKey

	snapSeq   uint64 // a snapshot arriving in parts
	snapParts [][]snapPeer
}

// remotePeer is a peer of another node, as that node says it is (which
// the local hub follows as far as it can: a publish it lost to a
// concurrent one stays in pubs).
type remotePeer struct {
	p     *hub.Peer
	rooms map[string]struct{}
	pubs  []string
	plays map[string]struct{}
	dirs  map[string]struct{} // rooms it directs, as its node says
	gen   uint64              // its move generation (move.go)
}

func peerKey(ns, id string) string { return ns + "\x00" + id }

// proxy is the Client of every remote peer of one node: hub events are
// computed for the peer on its own node, so all but signals are ignored
// here; a signal goes, sealed, to that node, which checks the routing
// rule again before delivering it.
type proxy struct {
	n    *Node
	node string
}

// Notify implements hub.Client. A Frame without its sender (a Lookup, not
// a Route) cannot be checked on the far side and is dropped.
func (c proxy) Notify(ev hub.Event) {
	if _, ok := ev.(hub.Frame); ok {
		c.n.m.dropped("no-sender")
	}
}

// Forward implements hub.Forwarder.
func (c proxy) Forward(from, to *hub.Peer, ev hub.Event) {
	f, ok := ev.(hub.Frame)
	if !ok {
		return
	}
	c.n.sendDirect(c.node, &message{T: tSignal, NS: to.Namespace(), Peer: from.ID(), To: to.ID(), Frame: f})
}

// ForwardByID implements hub.ByIDForwarder: the far node delivers only
// in a namespace that allows sends by id there too.
func (c proxy) ForwardByID(from, to *hub.Peer, ev hub.Event) {
	f, ok := ev.(hub.Frame)
	if !ok {
		return
	}
	c.n.sendDirect(c.node, &message{T: tSignal, ByID: true, NS: to.Namespace(), Peer: from.ID(), To: to.ID(), Frame: f})
}

// ForwardMigrate implements hub.MigrateForwarder: the target's node
// moves it if the director directs a room holding it there too.
func (c proxy) ForwardMigrate(d, target *hub.Peer, dest string) {
	c.n.sendDirect(c.node, &message{T: tMigrate, NS: d.Namespace(), Peer: d.ID(), To: target.ID(), Name: dest})
}

// broadcastIn handles a broadcast from node m.Node.
func (n *Node) broadcastIn(m *message) {
	now := time.Now()
	r := n.nodes[m.Node]
	switch m.T {
	case tHeartbeat:
		if now.Sub(time.UnixMilli(m.At)) > maxClockSkew {
			n.m.dropped("stale")
			return
		}
		if r == nil {
			if at, ok := n.tombs[m.Node]; ok && m.At <= at {
				n.m.dropped("replay")
				return
			}
			delete(n.tombs, m.Node)
			r = &remoteNode{id: m.Node, peers: make(map[string]*remotePeer)}
			n.nodes[m.Node] = r
			// Say hello at once so it need not wait a heartbeat to find us.
			n.heartbeat()
		}
		if m.At <= r.lastAt {
			n.m.dropped("replay")
			return
		}
		r.lastAt, r.seen = m.At, now
		if !slices.Equal(r.relays, m.Relays) {
			r.relays = m.Relays
			n.rebuildRelays()
		}
		if r.synced && m.Seq != r.applied {
			// A change of its went missing (NATS was away, or our queue
			// overflowed): start over from a snapshot.
			r.synced = false
		}
		if !r.synced {
			n.askSnapshot(r, now)
		}
		return
	case tBye:
		if r != nil && m.At > r.lastAt {
			n.dropNode(r, "bye")
		}
		return
	case tResumeReq:
		// Not a change: answered whether r is in sync or not.
		if r != nil {
			r.seen = now
			n.resumeReq(r, m)
		}
		return
	}
	if r == nil || !r.synced {
		return // its snapshot, once applied, holds this change
	}
	if m.Seq <= r.applied {
		n.m.dropped("replay")
		return
	}
	if m.Seq != r.applied+1 {
		r.synced = false
		n.askSnapshot(r, now)
		return
	}
	r.applied, r.seen = m.Seq, now
	n.apply(r, m)
}

// askSnapshot asks r for its peers, at most once a heartbeat.
func (n *Node) askSnapshot(r *remoteNode, now time.Time) {
	if now.Sub(r.askedAt) < n.cfg.Heartbeat {
		return
	}
	r.askedAt = now
	n.sendDirect(r.id, &message{T: tSnapshotReq})
}

// apply applies one change of r's to the local hub.
func (n *Node) apply(r *remoteNode, m *message) {
	switch m.T {
	case tRegister:
		n.addPeer(r, snapPeer{NS: m.NS, ID: m.Peer})
		return
	case tAdopt:
		n.adopt(r, m)
		return
	}
	k := peerKey(m.NS, m.Peer)
	rp := r.peers[k]
	if rp == nil {
		return // its registration was refused here (id taken)
	}
	h := n.hub
	switch m.T {
	case tUnregister:
		h.Unregister(rp.p)
		delete(r.peers, k)
		n.m.remotePeers.Add(-1)
	case tJoin:
		rp.rooms[m.Name] = struct{}{}
		_ = h.Join(rp.p, m.Name, "")
	case tDirect:
		rp.rooms[m.Name] = struct{}{}
		rp.dirs[m.Name] = struct{}{}
		n.claim(rp.p, m.Name)
	case tLeave:
		delete(rp.rooms, m.Name)
		delete(rp.dirs, m.Name)
		_ = h.Leave(rp.p, m.Name, "")
	case tPublish:
		if !slices.Contains(rp.pubs, m.Name) {
			rp.pubs = append(rp.pubs, m.Name)
		}
		n.publish(rp.p, m.Name)
	case tUnpublish:
		rp.pubs = slices.DeleteFunc(rp.pubs, func(s string) bool { return s == m.Name })
		_ = h.Unpublish(rp.p, m.Name, "")
	case tPlay:
		rp.plays[m.Name] = struct{}{}
		_ = h.Play(rp.p, m.Name, "")
	case tStop:
		delete(rp.plays, m.Name)
		h.StopPlay(rp.p, m.Name)
	case tMoved:
		n.moved(r, m)
	}
}

// publish makes the remote peer p the publisher of stream name. Two nodes
// may accept a publish of one stream within a round trip of each other;
// every node then settles on the same one, the publisher with the
// smaller id. A local loser is unpublished (its client gets unpublished,
// its viewers stream-ended, and the cluster hears of it).
func (n *Node) publish(p *hub.Peer, name string) {
	h := n.hub
	err := h.Publish(p, name, "")
	if !errors.Is(err, hub.ErrStreamInUse) {
		return
	}
	cur := h.Publisher(p.Namespace(), name)
	if cur == nil || cur == p || cur.ID() < p.ID() {
		return
	}
	_ = h.Unpublish(cur, name, "")
	n.m.conflicts.Add(1)
	_ = h.Publish(p, name, "")
}

// claim makes the remote peer p a member and the director of room. Two
// nodes may each let a local peer claim one room within a round trip of
// each other; every node then settles on the same director, the one with
// the smaller id (counted as a conflict where it was not the first).
func (n *Node) claim(p *hub.Peer, room string) {
	if err := n.hub.JoinClaim(p, room, "", true); err == nil && !n.hub.Directs(p, room) {
		n.m.dropped("director-conflict")
		n.hub.SettleDirector(p, room)
	}
}

// addPeer registers a remote peer of r's and applies its state.
func (n *Node) addPeer(r *remoteNode, sp snapPeer) *remotePeer {
	k := peerKey(sp.NS, sp.ID)
	if rp := r.peers[k]; rp != nil {
		return rp
	}
	if sp.G > 0 {
		// A peer that moved: perhaps still known here at its old node.
		if held := n.hub.Lookup(sp.NS, sp.ID); held != nil && held.Remote() {
			return n.place(r, sp)
		}
	}
	p := hub.NewRemotePeer(sp.NS, sp.ID, proxy{n: n, node: r.id})
	if err := n.hub.Register(p); err != nil {
		// An id given on another node beats a claim still pending here
		// (this node answered that claim, or had not claimed yet then).
		if !n.loseClaim(sp.NS, sp.ID) || n.hub.Register(p) != nil {
			n.m.dropped("id-taken")
			return nil
		}
	}
	rp := &remotePeer{p: p, rooms: make(map[string]struct{}), plays: make(map[string]struct{}), dirs: make(map[string]struct{}), gen: sp.G}
	r.peers[k] = rp
	n.m.remotePeers.Add(1)
	return rp
}

// direct handles a message sent to this node alone.
func (n *Node) direct(m *message) {
	r := n.nodes[m.Node]
	if r == nil {
		n.m.dropped("unknown-node")
		return
	}
	if !r.direct.accept(m.DSeq) {
		n.m.dropped("replay")
		return
	}
	r.seen = time.Now()
	switch m.T {
	case tSnapshotReq:
		n.sendSnapshot(r.id)
	case tSnapshot:
		n.snapshotIn(r, m)
	case tSignal:
		n.signal(r, m)
	case tMigrate:
		n.migrate(r, m)
	case tClaim:
		n.claimIn(r, m)
	case tClaimAck:
		n.claimAck(r, m)
	case tResumeNo:
		n.resumeNo(m)
	case tHandoff:
		n.handoff(r, m)
	case tRefused:
		n.refused(m)
	}
}

// migrate moves a local peer on behalf of a director of r's, if the
// local hub, too, has that director directing a room the peer is in.
func (n *Node) migrate(r *remoteNode, m *message) {
	if !r.synced {
		n.m.dropped("unsynced")
		return
	}
	rp := r.peers[peerKey(m.NS, m.Peer)]
	if rp == nil {
		n.m.dropped("unknown-peer")
		return
	}
	if t := n.hub.Lookup(m.NS, m.To); t == nil || t.Remote() {
		n.m.dropped("unknown-peer")
		return
	}
	if err := n.hub.Migrate(rp.p, m.To, m.Name); err != nil {
		n.m.dropped("migrate-refused")
	}
}

// signal delivers a frame a peer of r's sent to a local peer, if the
// local hub, too, lets that peer reach it.
func (n *Node) signal(r *remoteNode, m *message) {
	if !r.synced {
		n.m.dropped("unsynced")
		return
	}
	var from *hub.Peer
	if m.Fwd {
		// Forwarded by the node the recipient moved away from: the sender
		// may live on any node.
		if p := n.hub.Lookup(m.NS, m.Peer); p != nil && p.Remote() {
			from = p
		}
	} else if rp := r.peers[peerKey(m.NS, m.Peer)]; rp != nil {
		from = rp.p
	}
	if from == nil {
		n.m.dropped("unknown-peer")
		return
	}
	var to *hub.Peer
	if m.ByID {
		// Sent by id (PeerJS, a fan-out migrate): allowed only where this
		// node's dialect allows it too, to a peer of that namespace here.
		if !n.hub.ByID(m.NS) {
			n.m.dropped("unknown-peer")
			return
		}
		to = n.hub.Lookup(m.NS, m.To)
	} else {
		var err error
		if to, err = n.hub.Route(from, m.To); err != nil {
			to = nil
		}
	}
	if to != nil && to.Remote() && !m.Fwd {
		// It moved to another node (a session resumed there): once on.
		if p := n.hub.Lookup(m.NS, m.To); p != nil && p.Remote() {
			if c, ok := p.Client().(proxy); ok {
				c.n.sendDirect(c.node, &message{T: tSignal, Fwd: true, ByID: m.ByID, NS: m.NS, Peer: m.Peer, To: m.To, Frame: m.Frame})
				return
			}
		}
	}
	if to == nil || to.Remote() {
		n.m.dropped("unknown-peer")
		return
	}
	n.m.signals.Add(1)
	if o, ok := to.Client().(hub.Offerer); ok {
		if err := o.Offer(hub.Frame(m.Frame)); err != nil {
			// Refused (a parked peer holding all it may): the sender's
			// node tells the sender, as on one node.
			var he *hub.Error
			if c, ok := from.Client().(proxy); ok && errors.As(err, &he) {
				n.sendDirect(c.node, &message{T: tRefused, NS: m.NS, Peer: m.Peer, To: m.To, Name: string(he.Code)})
			}
		}
		return
	}
	to.Notify(hub.Frame(m.Frame))
}

// refused tells a local peer that its signal was refused where its
// recipient lives.
func (n *Node) refused(m *message) {
	p := n.hub.Lookup(m.NS, m.Peer)
	if p == nil || p.Remote() || hub.Code(m.Name) != hub.CodePeerAway {
		n.m.dropped("unknown-peer")
		return
	}
	p.Notify(hub.EvRefused{Peer: m.To, Code: hub.CodePeerAway})
}

// sendSnapshot sends node every local peer, in parts, as of the current
// change sequence: under n.lmu, so no change slips between the snapshot
// and the changes that follow it.
func (n *Node) sendSnapshot(node string) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	var parts [][]snapPeer
	var cur []snapPeer
	size := 0
	for p, lp := range n.local {
		sp := lp.snap(p.Namespace(), p.ID())
		if size+sp.size() > snapshotPartBytes && len(cur) > 0 {
			parts, cur, size = append(parts, cur), nil, 0
		}
		cur = append(cur, sp)
		size += sp.size()
	}
	parts = append(parts, cur)
	for i, ps := range parts {
		n.sendDirect(node, &message{T: tSnapshot, Seq: n.seq, Peers: ps, Part: i + 1, Parts: len(parts)})
	}
}

// snapshotIn collects a snapshot's parts and, once whole, makes r's peers
// in the local hub what it says.
func (n *Node) snapshotIn(r *remoteNode, m *message) {
	if m.Parts < 1 || m.Parts > maxSnapshotParts || m.Part < 1 || m.Part > m.Parts {
		n.m.dropped("malformed")
		return
	}
	if m.Part == 1 {
		r.snapSeq, r.snapParts = m.Seq, make([][]snapPeer, 0, m.Parts)
	}
	if m.Seq != r.snapSeq || len(r.snapParts) != m.Part-1 {
		r.snapParts = nil // a part went missing: the next heartbeat asks again
		return
	}
	r.snapParts = append(r.snapParts, m.Peers)
	if m.Part < m.Parts {
		return
	}
	if r.synced && m.Seq <= r.applied {
		// A snapshot older than changes applied since (two were asked
		// for before the first arrived): applying it would take back
		// those changes, and local peers would see peers leave and join
		// again.
		r.snapParts = nil
		n.m.dropped("stale-snapshot")
		return
	}
	want := make(map[string]snapPeer)
	for _, ps := range r.snapParts {
		for _, sp := range ps {
			want[peerKey(sp.NS, sp.ID)] = sp
		}
	}
	r.snapParts = nil
	n.replace(r, want)
	r.applied, r.synced = m.Seq, true
	n.m.resyncs.Add(1)
	n.countNodes()
}

// replace makes r's peers in the local hub those of want, changing only
// what differs: a repaired gap costs the local peers no leave and rejoin.
func (n *Node) replace(r *remoteNode, want map[string]snapPeer) {
	h := n.hub
	for k, rp := range r.peers {
		if _, ok := want[k]; !ok {
			h.Unregister(rp.p)
			delete(r.peers, k)
			n.m.remotePeers.Add(-1)
		}
	}
	for _, sp := range want {
		if rp := n.addPeer(r, sp); rp != nil {
			n.syncPeer(rp, sp)
		}
	}
}

// syncPeer makes remote peer rp in the local hub what sp says, changing
// only what differs.
func (n *Node) syncPeer(rp *remotePeer, sp snapPeer) {
	h := n.hub
	for room := range rp.rooms {
		if !slices.Contains(sp.Rooms, room) {
			delete(rp.rooms, room)
			_ = h.Leave(rp.p, room, "")
		}
	}
	for room := range rp.dirs {
		if !slices.Contains(sp.Dirs, room) {
			delete(rp.dirs, room) // it left the room too: below
		}
	}
	for _, room := range sp.Rooms {
		_, in := rp.rooms[room]
		_, directs := rp.dirs[room]
		switch {
		case slices.Contains(sp.Dirs, room) && !directs:
			rp.rooms[room], rp.dirs[room] = struct{}{}, struct{}{}
			n.claim(rp.p, room)
		case !in:
			rp.rooms[room] = struct{}{}
			_ = h.Join(rp.p, room, "")
		}
	}
	for _, s := range slices.Clone(rp.pubs) {
		if !slices.Contains(sp.Pubs, s) {
			rp.pubs = slices.DeleteFunc(rp.pubs, func(x string) bool { return x == s })
			_ = h.Unpublish(rp.p, s, "")
		}
	}
	for _, s := range sp.Pubs {
		if !slices.Contains(rp.pubs, s) {
			rp.pubs = append(rp.pubs, s)
			n.publish(rp.p, s)
		}
	}
	for s := range rp.plays {
		if !slices.Contains(sp.Plays, s) {
			delete(rp.plays, s)
			h.StopPlay(rp.p, s)
		}
	}
	for _, s := range sp.Plays {
		if _, ok := rp.plays[s]; !ok {
			rp.plays[s] = struct{}{}
			_ = h.Play(rp.p, s, "")
		}
	}
}

// reap takes nodes silent for DeadAfter for dead.
func (n *Node) reap(now time.Time) {
	for _, r := range n.nodes {
		if now.Sub(r.seen) > n.cfg.DeadAfter {
			n.dropNode(r, "silent")
		}
	}
}

// dropNode forgets r: its peers leave everything here, so local peers see
// them leave.
func (n *Node) dropNode(r *remoteNode, why string) {
	for _, rp := range r.peers {
		n.hub.Unregister(rp.p)
	}
	n.m.remotePeers.Add(-int64(len(r.peers)))
	delete(n.nodes, r.id)
	if len(n.tombs) >= maxTombstones {
		clear(n.tombs) // forgetting only lets an old heartbeat's replay cost a snapshot request
	}
	n.tombs[r.id] = r.lastAt
	n.m.lost(why)
	n.rebuildRelays()
	n.countNodes()
}

func (n *Node) countNodes() {
	c := 0
	for _, r := range n.nodes {
		if r.synced {
			c++
		}
	}
	n.m.nodes.Store(int64(c))
}

func (n *Node) rebuildRelays() {
	m := make(map[netip.Addr]struct{})
	for _, r := range n.nodes {
		for _, a := range r.relays {
			m[a.Unmap()] = struct{}{}
		}
	}
	n.rmu.Lock()
	n.relays = m
	n.rmu.Unlock()
}
