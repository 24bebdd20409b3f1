package cluster

import (
	"encoding/json"
	"net/netip"
)

// Message types between nodes. Broadcasts go to every node on one subject,
// in the order the sender's changes happened (Seq); direct messages go to
// one node's inbox subject.
const (
	// Broadcasts.
	tHeartbeat  = "hb"    // alive: Seq, At, Relays
	tBye        = "bye"   // shutting down: forget my peers now
	tRegister   = "reg"   // a peer got its id
	tUnregister = "unreg" // a peer is gone
	tJoin       = "join"
	tLeave      = "leave"
	tPublish    = "pub"
	tUnpublish  = "unpub"
	tPlay       = "play"
	tStop       = "stop"
	tDirect     = "dir" // a peer is in a room and directs it (VDO.Ninja claim)
	// Direct messages.
	tSnapshotReq = "snapreq" // send me your peers
	tSnapshot    = "snap"    // my peers as of Seq (Part of Parts)
	tSignal      = "sig"     // Frame from Peer for To, to deliver through the hub (ByID: by id alone)
	tMigrate     = "mig"     // director Peer moves its member To into room Name
	tClaim       = "claim"   // may I give id Peer of NS? (Seq: the claim's reference)
	tClaimAck    = "claimok" // the answer to claim Seq (Taken: no)
	// Moves of parked sessions (move.go).
	tResumeReq = "rsreq"  // broadcast, not a change: who holds the session parked under Key? (Ref)
	tResumeNo  = "rsno"   // direct: not here (Ref)
	tHandoff   = "rsgive" // direct: the session for Ref: Peers[0] its state (G), Held, Relay, Auth; Lost: refused
	tMoved     = "moved"  // broadcast change: Peer of NS now lives on node To (generation Gen)
	tAdopt     = "adopt"  // broadcast change: Peers[0] now lives here (generation in it)
	tRefused   = "refuse" // direct: the signal of Peer (a peer of yours) for To was refused (Name: the code)
)

// message is the sealed body of every message between nodes.
type message struct {
	T    string `json:"t"`
	Node string `json:"n"`            // the sender's node id
	Seq  uint64 `json:"s,omitempty"`  // broadcasts and snapshots: the sender's change sequence
	DSeq uint64 `json:"d,omitempty"`  // direct messages: the sender's direct counter
	At   int64  `json:"at,omitempty"` // heartbeat and bye: the sender's clock, Unix ms

	NS    string `json:"ns,omitempty"` // a peer's protocol namespace
	Peer  string `json:"p,omitempty"`  // a peer id (a signal's sender)
	Name  string `json:"k,omitempty"`  // a room or stream name
	To    string `json:"to,omitempty"` // a signal's recipient
	Frame []byte `json:"f,omitempty"`  // a signal: the frame, encoded and filtered by the ingress node
	ByID  bool   `json:"b,omitempty"`  // a signal sent by id (hub.LookupFrom), not routed
	Taken bool   `json:"x,omitempty"`  // claim answer: the id is held here
	Proof []byte `json:"pr,omitempty"` // takeover claim: the client's proof (hub.Peer.Proof), for the node holding the id
	Fwd   bool   `json:"fw,omitempty"` // a signal forwarded by a node the recipient moved away from: once only

	Ref  uint64   `json:"rf,omitempty"` // resume: the asking node's request reference
	Key  []byte   `json:"ky,omitempty"` // resume request: the hash of the resume token (never the token)
	Gen  uint64   `json:"g,omitempty"`  // moved: the peer's move generation
	Held [][]byte `json:"hd,omitempty"` // handoff: frames held for the client
	Rel  bool     `json:"rl,omitempty"` // handoff: the client asked for forced relay
	Auth bool     `json:"au,omitempty"` // handoff: the client showed a valid token
	Lost bool     `json:"ls,omitempty"` // handoff: the session could not travel (too large): it ends

	Relays []netip.Addr `json:"r,omitempty"`  // heartbeat: the sender's TURN relay addresses
	Peers  []snapPeer   `json:"ps,omitempty"` // snapshot part
	Part   int          `json:"pt,omitempty"` // snapshot: this part, 1-based
	Parts  int          `json:"pn,omitempty"` // snapshot: how many parts
}

// snapPeer is one local peer in a snapshot.
type snapPeer struct {
	NS    string   `json:"ns"`
	ID    string   `json:"id"`
	Rooms []string `json:"r,omitempty"`
	Pubs  []string `json:"p,omitempty"` // in publish order: the first names the peer's stream
	Plays []string `json:"v,omitempty"`
	Dirs  []string `json:"d,omitempty"` // rooms (of Rooms) it directs
	G     uint64   `json:"g,omitempty"` // how many times it moved between nodes: the newest place wins
}

// size estimates snapPeer's encoded size, to cut snapshots into parts.
func (p snapPeer) size() int {
	n := 40 + len(p.NS) + len(p.ID)
	for _, l := range [][]string{p.Rooms, p.Pubs, p.Plays, p.Dirs} {
		for _, s := range l {
			n += len(s) + 8 // quotes, comma and escapes in most names
		}
	}
	return n
}

func encode(m *message) []byte {
	b, _ := json.Marshal(m) // cannot fail: strings, numbers, bytes and addresses
	return b
}

func decode(b []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// window accepts each direct-message counter once: a NATS operator who
// replays a sealed signal gets it refused. Counters may arrive a little
// out of order (a node's senders race to publish), within windowBits of
// the highest seen.
type window struct {
	top  uint64
	bits [windowBits / 64]uint64
}

const windowBits = 1024

func (w *window) accept(s uint64) bool {
	if s == 0 {
		return false
	}
	if s > w.top {
		if s-w.top >= windowBits {
			clear(w.bits[:])
		} else {
			for i := w.top + 1; i <= s; i++ {
				w.bits[(i%windowBits)/64] &^= 1 << (i % 64)
			}
		}
		w.top = s
	} else if w.top-s >= windowBits {
		return false
	}
	i, bit := (s%windowBits)/64, uint64(1)<<(s%64)
	if w.bits[i]&bit != 0 {
		return false
	}
	w.bits[i] |= bit
	return true
}
