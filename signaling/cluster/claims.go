package cluster

import (
	"crypto/subtle"
	"time"

	"github.com/veilrtc/veil/signaling/hub"
)

// Claims of client-chosen ids (PeerJS ids, fan-out labels). Everyone
// knows every registered peer, so an id held anywhere is refused by the
// hub's directory; what is left is two nodes giving one id at once. A
// node therefore asks every other node it is in sync with before it
// gives such an id (request/reply on their inboxes), and gives it only
// when none holds it. Two concurrent claims of one id are settled the
// same way on both sides: the node with the smaller node id wins. A node
// that does not answer within claimWait (twice the heartbeat) is taken to
// agree: it is on its way to being taken for dead.
//
// What a claim reveals to a client is what one node reveals: the id is
// taken (ID-TAKEN) or it is not.
//
// Takeovers: an id held by a peer of another node is taken over when the
// claiming client proves it is that peer's client reconnecting (PeerJS:
// the same token; hub.Peer.Proof, a hash). The claim goes to the holding
// node alone, which compares the proofs in constant time, closes and
// unregisters its peer (its unregistration is broadcast before the
// answer, so it is applied here first) and answers; the claim then starts
// over as usual.

// claim is one pending claim, owned by the loop.
type claim struct {
	p        *hub.Peer
	reserve  func() error
	ref      uint64
	waitFor  map[string]bool // node ids yet to answer
	deadline time.Time
	done     chan error // the answer, once
	takeover string     // the node asked to let its peer's id go; no reservation made meanwhile
}

var _ hub.Claimer = (*Node)(nil)

// Claim implements hub.Claimer: the loop reserves the id (so nothing it
// applies from other nodes comes between the reservation and the claim)
// and asks the other nodes; Claim waits for their answers, at most about
// three heartbeats.
func (n *Node) Claim(p *hub.Peer, reserve func() error) error {
	c := &claim{p: p, reserve: reserve, done: make(chan error, 1)}
	select {
	case n.claims <- c:
	case <-n.stop:
		return reserve() // shutting down: no one to ask
	}
	// The loop answers every claim it took, at the latest when it stops
	// (grantPending).
	return <-c.done
}

// grantPending answers the claims still pending when the loop stops.
func (n *Node) grantPending() {
	for _, c := range n.pending {
		n.settleClaim(c, true)
	}
}

// claimWait bounds how long a claim waits for the other nodes.
func (n *Node) claimWait() time.Duration { return 2 * n.cfg.Heartbeat }

// startClaim asks every node in sync for c's id. On the loop.
func (n *Node) startClaim(c *claim, now time.Time) {
	if err := c.reserve(); err != nil {
		if node := n.holder(c.p); node != "" && len(c.p.Proof()) > 0 && c.takeover == "" {
			n.claimSeq++
			c.ref, c.deadline, c.takeover = n.claimSeq, now.Add(n.claimWait()), node
			n.pending[c.ref] = c
			n.sendDirect(node, &message{T: tClaim, Seq: c.ref, NS: c.p.Namespace(), Peer: c.p.ID(), Proof: c.p.Proof()})
			return
		}
		c.done <- err // held here, or by a peer of another node
		return
	}
	c.takeover = ""
	c.waitFor = make(map[string]bool)
	for id, r := range n.nodes {
		if r.synced {
			c.waitFor[id] = true
		}
	}
	if len(c.waitFor) == 0 {
		c.done <- nil
		return
	}
	n.claimSeq++
	c.ref, c.deadline = n.claimSeq, now.Add(n.claimWait())
	n.pending[c.ref] = c
	for id := range c.waitFor {
		n.sendDirect(id, &message{T: tClaim, Seq: c.ref, NS: c.p.Namespace(), Peer: c.p.ID()})
	}
}

// holder returns the node whose peer holds p's id, or "".
func (n *Node) holder(p *hub.Peer) string {
	h := n.hub.Lookup(p.Namespace(), p.ID())
	if h == nil || !h.Remote() {
		return ""
	}
	k := peerKey(p.Namespace(), p.ID())
	for id, r := range n.nodes {
		if rp := r.peers[k]; rp != nil && rp.p == h {
			return id
		}
	}
	return ""
}

// settleClaim answers c and forgets it.
func (n *Node) settleClaim(c *claim, ok bool) {
	delete(n.pending, c.ref)
	if c.takeover != "" {
		c.done <- hub.ErrIDTaken // no reservation was made
		return
	}
	if !ok {
		// Free the id here at once, so the winner's registration, which
		// may arrive before the waiting connection hears of its loss,
		// finds it free.
		n.hub.Withdraw(c.p)
		c.done <- hub.ErrIDTaken
		return
	}
	c.done <- nil
}

// claimIn answers node r's claim of an id.
func (n *Node) claimIn(r *remoteNode, m *message) {
	if len(m.Proof) > 0 {
		n.sendDirect(r.id, &message{T: tClaimAck, Seq: m.Seq, Taken: !n.letGo(m)})
		return
	}
	taken := false
	if p := n.hub.Lookup(m.NS, m.Peer); p != nil {
		taken = true
		for _, c := range n.pending {
			if c.p == p {
				// Both claim it now: the smaller node id wins, on both sides.
				if r.id < n.id {
					taken = false
					n.settleClaim(c, false)
				}
				break
			}
		}
	}
	n.sendDirect(r.id, &message{T: tClaimAck, Seq: m.Seq, Taken: taken})
}

// letGo closes and unregisters the local peer holding m's id if m's
// proof is that peer's: its client reconnected on the claiming node.
func (n *Node) letGo(m *message) bool {
	p := n.hub.Lookup(m.NS, m.Peer)
	if p == nil || p.Remote() || subtle.ConstantTimeCompare(p.Proof(), m.Proof) != 1 {
		return false
	}
	n.lmu.Lock()
	_, registered := n.local[p]
	n.lmu.Unlock()
	if !registered {
		return false // still being claimed here
	}
	return n.hub.TakeOver(p) // its unregistration is broadcast before our answer
}

// claimAck takes node r's answer to one of this node's claims.
func (n *Node) claimAck(r *remoteNode, m *message) {
	c := n.pending[m.Seq]
	if c != nil && c.takeover == r.id {
		delete(n.pending, c.ref)
		if m.Taken {
			c.done <- hub.ErrIDTaken
			return
		}
		n.startClaim(c, time.Now()) // the id is free here now: claim it as usual
		return
	}
	if c == nil || !c.waitFor[r.id] {
		return // settled already
	}
	if m.Taken {
		n.settleClaim(c, false)
		return
	}
	delete(c.waitFor, r.id)
	if len(c.waitFor) == 0 {
		n.settleClaim(c, true)
	}
}

// expireClaims grants claims whose silent nodes did not answer in time,
// and stops waiting for nodes taken for dead.
func (n *Node) expireClaims(now time.Time) {
	for _, c := range n.pending {
		if c.takeover != "" {
			if now.After(c.deadline) || n.nodes[c.takeover] == nil {
				n.settleClaim(c, false) // no answer: the id stays taken
			}
			continue
		}
		for id := range c.waitFor {
			if n.nodes[id] == nil {
				delete(c.waitFor, id)
			}
		}
		if len(c.waitFor) == 0 || now.After(c.deadline) {
			n.settleClaim(c, true)
		}
	}
}

// loseClaim settles this node's pending claim of id in ns, if any, as
// lost; false when there is none.
func (n *Node) loseClaim(ns, id string) bool {
	for _, c := range n.pending {
		if c.takeover == "" && c.p.Namespace() == ns && c.p.ID() == id {
			n.settleClaim(c, false)
			return true
		}
	}
	return false
}
