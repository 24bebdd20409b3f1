package cluster

import (
	"time"

	"github.com/veilrtc/veil/signaling/hub"
)

// Resume across nodes (docs/CLUSTER.md "Resume across nodes"). A native
// session parked on node A is resumed by its client on node B:
//
//  1. B hashes the token (the token never leaves B) and broadcasts
//     tResumeReq{Ref, Key}. Every node answers: tResumeNo, or, the one
//     holding a session parked under Key, the handoff. B gives up when
//     every node it knew said no, or after resumeWait.
//  2. A takes the session out of its table (single use: a second request
//     finds nothing), puts a remote peer of B in its place in its hub
//     (hub.Replace: no leave, no join), and sends B tHandoff (the peer's
//     id, rooms, streams, plays, a move generation, the frames held for
//     it), then broadcasts tMoved{To: B, Gen}.
//  3. B puts the new local peer in place of its remote one (Replace),
//     counts it as its own and broadcasts tAdopt with its state and Gen.
//  4. Every other node re-points its remote peer to B on whichever of
//     tMoved and tAdopt comes first (the other then changes nothing):
//     a place of a higher generation always wins, so the order in which
//     nodes' messages arrive does not matter.
//
// Signals for the peer that reach A after the move are forwarded to B
// once (Fwd); B checks the routing rule again. A handoff B can no longer
// use (its client gave up waiting, or the session could not travel) is
// adopted and ended at once: the peer is announced as left everywhere.

// resumeWait bounds how long a resume waits for the other nodes: above
// native's takeover wait (the holder may first close a half-open socket).
const resumeWait = 5 * time.Second

// handoffSlack is kept free below NATS's maximum payload for the
// handoff's sealing, encoding and headers.
const handoffSlack = 8 << 10

// fetch is a resume waiting for the cluster on this node.
type fetch struct {
	ref   uint64
	ns    string
	key   []byte
	adopt func(ho *hub.Handoff) *hub.Peer
	ch    chan fetchResult // buffered: the loop never waits for the asker
	want  int              // loop only: how many nodes were asked
	nos   int              // loop only: how many said no
}

type fetchResult struct {
	p  *hub.Peer
	ho *hub.Handoff
}

// yielded is a session this node hands over, back on the loop.
type yielded struct {
	node string
	ref  uint64
	ho   hub.Handoff
	take func(moved bool) [][]byte
}

var _ hub.Mover = (*Node)(nil)

// Fetch implements hub.Mover.
func (n *Node) Fetch(ns string, key []byte, adopt func(ho *hub.Handoff) *hub.Peer) (*hub.Peer, *hub.Handoff, bool) {
	if !n.attached.Load() {
		return nil, nil, false
	}
	f := &fetch{ref: n.fetchSeq.Add(1), ns: ns, key: key, adopt: adopt, ch: make(chan fetchResult, 1)}
	n.fmu.Lock()
	n.fetches[f.ref] = f
	n.fmu.Unlock()
	t := time.NewTimer(resumeWait)
	defer t.Stop()
	select {
	case n.fetchq <- f:
		select {
		case r := <-f.ch:
			return r.p, r.ho, r.p != nil
		case <-t.C:
		case <-n.stop:
		}
	case <-t.C:
	case <-n.stop:
	}
	if n.dropFetch(f.ref) != nil {
		return nil, nil, false
	}
	r := <-f.ch // the loop took it: its answer is on the way
	return r.p, r.ho, r.p != nil
}

// dropFetch takes the fetch of ref out of the table: whoever gets it
// answers it.
func (n *Node) dropFetch(ref uint64) *fetch {
	n.fmu.Lock()
	defer n.fmu.Unlock()
	f := n.fetches[ref]
	delete(n.fetches, ref)
	return f
}

// fetchOut asks every node for f's session (loop).
func (n *Node) fetchOut(f *fetch) {
	f.want = len(n.nodes)
	if f.want == 0 {
		if n.dropFetch(f.ref) != nil {
			f.ch <- fetchResult{}
		}
		return
	}
	n.broadcast(&message{T: tResumeReq, Ref: f.ref, NS: f.ns, Key: f.key})
}

// resumeNo counts a node's no to fetch m.Ref (loop).
func (n *Node) resumeNo(m *message) {
	n.fmu.Lock()
	f := n.fetches[m.Ref]
	if f != nil {
		if f.nos++; f.nos >= f.want {
			delete(n.fetches, m.Ref)
		} else {
			f = nil
		}
	}
	n.fmu.Unlock()
	if f != nil {
		f.ch <- fetchResult{}
	}
}

// resumeReq looks for the session node r asks for, off the loop: taking
// it over may wait for a half-open connection to close.
func (n *Node) resumeReq(r *remoteNode, m *message) {
	node, ref, ns, key := r.id, m.Ref, m.NS, m.Key
	go func() {
		ho, take, ok := n.hub.Yield(ns, key)
		if !ok {
			n.sendDirect(node, &message{T: tResumeNo, Ref: ref})
			return
		}
		select {
		case n.yieldq <- yielded{node: node, ref: ref, ho: ho, take: take}:
		case <-n.stop:
			take(false)
		}
	}()
}

// yield hands a session over to y.node (loop).
func (n *Node) yield(y yielded) {
	h := n.hub
	no := func() {
		y.take(false)
		n.sendDirect(y.node, &message{T: tResumeNo, Ref: y.ref})
	}
	r := n.nodes[y.node]
	old := h.Lookup(y.ho.NS, y.ho.ID)
	if r == nil || old == nil || old.Remote() {
		no()
		return
	}
	n.lmu.Lock()
	lp := n.local[old]
	np := hub.NewRemotePeer(y.ho.NS, y.ho.ID, proxy{n: n, node: r.id})
	if lp == nil || h.Replace(old, np) != nil {
		n.lmu.Unlock()
		no()
		return
	}
	delete(n.local, old)
	gen := lp.gen + 1
	sp := lp.snap(y.ho.NS, y.ho.ID)
	sp.G = gen
	rp := &remotePeer{p: np, rooms: make(map[string]struct{}), plays: make(map[string]struct{}), dirs: make(map[string]struct{}), gen: gen}
	rp.set(sp)
	r.peers[peerKey(sp.NS, sp.ID)] = rp
	n.m.remotePeers.Add(1)
	held := y.take(true)
	m := &message{T: tHandoff, Ref: y.ref, NS: sp.NS, Peer: sp.ID, Peers: []snapPeer{sp}, Held: held, Rel: y.ho.Relay, Auth: y.ho.Authorized}
	if len(encode(m)) > int(n.nc.MaxPayload())-handoffSlack {
		// Too much held to travel: the session ends (B adopts it and
		// announces it as left), the client gets a fresh one.
		m.Held, m.Lost = nil, true
		n.m.dropped("handoff-too-large")
	}
	// The handoff first, then the broadcast: B adopts before it reads
	// tMoved, which tells it nothing new then.
	m.DSeq = n.dseq.Add(1)
	n.send(n.inbox(r.id), m)
	n.seq++
	n.send(n.all, &message{T: tMoved, Seq: n.seq, NS: sp.NS, Peer: sp.ID, To: r.id, Gen: gen})
	n.lmu.Unlock()
}

// handoff adopts a session another node handed over (loop).
func (n *Node) handoff(from *remoteNode, m *message) {
	if len(m.Peers) != 1 {
		n.m.dropped("malformed")
		return
	}
	sp := m.Peers[0]
	f := n.dropFetch(m.Ref)
	h := n.hub
	old := h.Lookup(sp.NS, sp.ID)
	if old != nil && !old.Remote() {
		n.m.dropped("id-taken") // cannot happen: ids are drawn at random
		if f != nil {
			f.ch <- fetchResult{}
		}
		return
	}
	// Usable: the client still waits, the session traveled whole, and
	// this node knew the peer (it tells no one here of a join).
	ok := f != nil && !m.Lost && old != nil
	ho := &hub.Handoff{NS: sp.NS, ID: sp.ID, Relay: m.Rel, Authorized: m.Auth, Held: m.Held}
	var np *hub.Peer
	if ok {
		np = f.adopt(ho)
	} else {
		np = hub.NewPeerWithID(sp.NS, sp.ID, discard{})
	}
	if err := h.Replace(old, np); err != nil {
		n.m.dropped("replace-failed")
		if f != nil {
			f.ch <- fetchResult{}
		}
		return
	}
	if old != nil {
		n.forgetRemote(old)
	}
	n.lmu.Lock()
	lp := newLocalPeer()
	lp.set(sp)
	n.local[np] = lp
	n.seq++
	n.send(n.all, &message{T: tAdopt, Seq: n.seq, Peers: []snapPeer{sp}})
	n.lmu.Unlock()
	if ok {
		f.ch <- fetchResult{p: np, ho: ho}
		return
	}
	if f != nil {
		f.ch <- fetchResult{}
	}
	h.Unregister(np) // every node announces it as left
}

// forgetRemote drops remote peer p from its node's peers (it is local
// now, or replaced).
func (n *Node) forgetRemote(p *hub.Peer) {
	c, ok := p.Client().(proxy)
	if !ok {
		return
	}
	r := n.nodes[c.node]
	if r == nil {
		return
	}
	k := peerKey(p.Namespace(), p.ID())
	if rp := r.peers[k]; rp != nil && rp.p == p {
		delete(r.peers, k)
		n.m.remotePeers.Add(-1)
	}
}

// moved applies r's tMoved: its peer now lives on node m.To.
func (n *Node) moved(r *remoteNode, m *message) {
	k := peerKey(m.NS, m.Peer)
	rp := r.peers[k]
	if rp == nil || rp.gen >= m.Gen {
		return // re-pointed already (tAdopt came first), or stale
	}
	if m.To == n.id {
		// Handed to this node, which never adopted it (the handoff was
		// lost): it is gone. Tell everyone.
		n.hub.Unregister(rp.p)
		delete(r.peers, k)
		n.m.remotePeers.Add(-1)
		n.lmu.Lock()
		n.changeLocked(tUnregister, rp.p, "")
		n.lmu.Unlock()
		return
	}
	to := n.nodes[m.To]
	if to == nil {
		// A node not known here yet: its snapshot will bring the peer.
		n.hub.Unregister(rp.p)
		delete(r.peers, k)
		n.m.remotePeers.Add(-1)
		return
	}
	n.repoint(r, rp, to, m.Gen)
}

// adopt applies r's tAdopt: the peer lives on r now, with this state.
func (n *Node) adopt(r *remoteNode, m *message) {
	if len(m.Peers) != 1 {
		n.m.dropped("malformed")
		return
	}
	sp := m.Peers[0]
	if rp := n.place(r, sp); rp != nil {
		n.syncPeer(rp, sp)
	}
}

// place returns the remote peer sp of r's, moving it to r from the node
// it lived on here when sp's generation is newer, or registering it; nil
// when it is held elsewhere at a newer generation (or here).
func (n *Node) place(r *remoteNode, sp snapPeer) *remotePeer {
	k := peerKey(sp.NS, sp.ID)
	if rp := r.peers[k]; rp != nil {
		rp.gen = max(rp.gen, sp.G)
		return rp
	}
	p := n.hub.Lookup(sp.NS, sp.ID)
	if p == nil {
		rp := n.addPeer(r, sp)
		if rp != nil {
			rp.gen = sp.G
		}
		return rp
	}
	c, ok := p.Client().(proxy)
	if !ok || !p.Remote() {
		return nil // a local peer, or a pending claim: addPeer settles claims
	}
	from := n.nodes[c.node]
	if from == nil {
		return nil
	}
	rp := from.peers[k]
	if rp == nil || rp.p != p || rp.gen >= sp.G {
		return nil
	}
	n.repoint(from, rp, r, sp.G)
	return rp
}

// repoint moves remote peer rp from node from to node to, with no event
// for the local peers.
func (n *Node) repoint(from *remoteNode, rp *remotePeer, to *remoteNode, gen uint64) {
	np := hub.NewRemotePeer(rp.p.Namespace(), rp.p.ID(), proxy{n: n, node: to.id})
	if err := n.hub.Replace(rp.p, np); err != nil {
		return
	}
	k := peerKey(np.Namespace(), np.ID())
	delete(from.peers, k)
	rp.p, rp.gen = np, gen
	to.peers[k] = rp
	n.m.moves.Add(1)
}

// discard is the Client of a handed-over peer no connection took: it is
// unregistered right away.
type discard struct{}

func (discard) Notify(hub.Event) {}

func newLocalPeer() *localPeer {
	return &localPeer{rooms: make(map[string]struct{}), plays: make(map[string]struct{}), dirs: make(map[string]struct{})}
}

// set makes lp what sp says.
func (lp *localPeer) set(sp snapPeer) {
	clear(lp.rooms)
	clear(lp.plays)
	clear(lp.dirs)
	for _, r := range sp.Rooms {
		lp.rooms[r] = struct{}{}
	}
	for _, r := range sp.Dirs {
		lp.dirs[r] = struct{}{}
	}
	for _, s := range sp.Plays {
		lp.plays[s] = struct{}{}
	}
	lp.pubs = append([]string(nil), sp.Pubs...)
	lp.gen = sp.G
}

// snap is lp as a snapshot entry.
func (lp *localPeer) snap(ns, id string) snapPeer {
	sp := snapPeer{NS: ns, ID: id, Pubs: append([]string(nil), lp.pubs...), G: lp.gen}
	for r := range lp.rooms {
		sp.Rooms = append(sp.Rooms, r)
	}
	for s := range lp.plays {
		sp.Plays = append(sp.Plays, s)
	}
	for r := range lp.dirs {
		sp.Dirs = append(sp.Dirs, r)
	}
	return sp
}

// set makes rp's record (not the hub) what sp says: for a peer whose
// memberships the hub already has (a peer handed over from this node).
func (rp *remotePeer) set(sp snapPeer) {
	for _, r := range sp.Rooms {
		rp.rooms[r] = struct{}{}
	}
	for _, r := range sp.Dirs {
		rp.dirs[r] = struct{}{}
	}
	for _, s := range sp.Plays {
		rp.plays[s] = struct{}{}
	}
	rp.pubs = append([]string(nil), sp.Pubs...)
}
