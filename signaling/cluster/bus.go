package cluster

import (
	"slices"

	"github.com/veilrtc/veil/signaling/hub"
)

// The Node is its hub's Bus: each change of a local peer is numbered and
// broadcast, under n.lmu, in the order the hub made it, and kept in
// n.local for the snapshots other nodes ask for.

var _ hub.DirectorBus = (*Node)(nil)

// changeLocked records what the change did to the local model, numbers it
// and broadcasts it. n.lmu must be held.
func (n *Node) changeLocked(t string, p *hub.Peer, name string) {
	n.seq++
	n.send(n.all, &message{T: t, Seq: n.seq, NS: p.Namespace(), Peer: p.ID(), Name: name})
}

// change applies f to p's model and broadcasts the change, unless p is
// not registered (any more): a late change of a peer already gone.
func (n *Node) change(t string, p *hub.Peer, name string, f func(*localPeer)) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	lp := n.local[p]
	if lp == nil {
		return
	}
	f(lp)
	n.changeLocked(t, p, name)
}

// Registered implements hub.Bus.
func (n *Node) Registered(p *hub.Peer) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	n.local[p] = newLocalPeer()
	n.changeLocked(tRegister, p, "")
}

// Unregistered implements hub.Bus.
func (n *Node) Unregistered(p *hub.Peer) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	if _, ok := n.local[p]; !ok {
		return
	}
	delete(n.local, p)
	n.changeLocked(tUnregister, p, "")
}

// Joined implements hub.Bus.
func (n *Node) Joined(p *hub.Peer, room string) {
	n.change(tJoin, p, room, func(lp *localPeer) { lp.rooms[room] = struct{}{} })
}

// Left implements hub.Bus.
func (n *Node) Left(p *hub.Peer, room string) {
	n.change(tLeave, p, room, func(lp *localPeer) {
		delete(lp.rooms, room)
		delete(lp.dirs, room) // the hub ends the role with the membership
	})
}

// Directs implements hub.DirectorBus: p is in room (joined now or
// before) and directs it.
func (n *Node) Directs(p *hub.Peer, room string, _ bool) {
	n.change(tDirect, p, room, func(lp *localPeer) {
		lp.rooms[room] = struct{}{}
		lp.dirs[room] = struct{}{}
	})
}

// Published implements hub.Bus.
func (n *Node) Published(p *hub.Peer, stream string) {
	n.change(tPublish, p, stream, func(lp *localPeer) {
		if !slices.Contains(lp.pubs, stream) {
			lp.pubs = append(lp.pubs, stream)
		}
	})
}

// Unpublished implements hub.Bus.
func (n *Node) Unpublished(p *hub.Peer, stream string) {
	n.change(tUnpublish, p, stream, func(lp *localPeer) {
		lp.pubs = slices.DeleteFunc(lp.pubs, func(s string) bool { return s == stream })
	})
}

// Played implements hub.Bus.
func (n *Node) Played(p *hub.Peer, stream string) {
	n.change(tPlay, p, stream, func(lp *localPeer) { lp.plays[stream] = struct{}{} })
}

// StoppedPlaying implements hub.Bus.
func (n *Node) StoppedPlaying(p *hub.Peer, stream string) {
	n.change(tStop, p, stream, func(lp *localPeer) { delete(lp.plays, stream) })
}
