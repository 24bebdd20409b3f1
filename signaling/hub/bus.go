package hub

import (
	"maps"
	"slices"
	"sync"
)

// The extension point a cluster plugs into (package signaling/cluster).
// A hub alone serves the peers of one process. Federated, it tells a Bus
// what its local peers do, and the cluster inserts the peers of other
// nodes as remote peers (NewRemotePeer) whose changes it applies through
// the same Join, Publish, Play, ... calls; the hub then tells its local
// peers about remote ones exactly as about local ones. Nothing here knows
// a transport or a wire format.

// Bus learns what the hub's local peers do, so a cluster can tell the
// other nodes. The hub calls it only for local peers (never for remote
// ones, which is how a change a cluster applies does not echo back), after
// the change took effect, outside the hub's locks, on the goroutine that
// made the change: a peer's own calls arrive in the order they happened.
// A Bus must not block for long: a join waits for it.
type Bus interface {
	// Registered: p got its id (Register).
	Registered(p *Peer)
	// Joined: p joined room (Join, JoinClaim, or moved there by Migrate).
	Joined(p *Peer, room string)
	// Left: p left room (Leave, or moved out by Migrate).
	Left(p *Peer, room string)
	// Published: p publishes stream.
	Published(p *Peer, stream string)
	// Unpublished: p stopped publishing stream.
	Unpublished(p *Peer, stream string)
	// Played: p plays stream, live or pending.
	Played(p *Peer, stream string)
	// StoppedPlaying: p no longer plays stream.
	StoppedPlaying(p *Peer, stream string)
	// Unregistered: p is gone (Unregister): it left its rooms, ended its
	// streams and plays, and freed its id; no separate Left, Unpublished
	// or StoppedPlaying is told for those.
	Unregistered(p *Peer)
}

// Forwarder is the Client of a remote peer when the cluster wants to know
// who sends it what: Route, which found the remote peer for sender from,
// returns a handle whose Notify calls Forward(from, to, ev), so the node
// that holds the peer can check the routing rule again before delivering.
type Forwarder interface {
	Client
	Forward(from, to *Peer, ev Event)
}

// NewRemotePeer returns a peer of another node, with its id there, for a
// cluster to register and to apply that node's changes to. The hub never
// tells a Bus about it and does not apply its own per-peer limits to it
// (the node that holds the connection checked them); its Client gets the
// events the hub computes for it, which the node that holds it computes
// for itself, so a cluster's Client usually ignores all but Frame.
func NewRemotePeer(ns, id string, c Client) *Peer {
	return &Peer{id: id, ns: ns, client: c, remote: true}
}

// Remote reports whether p is a peer of another node (NewRemotePeer).
func (p *Peer) Remote() bool { return p.remote }

// Federate makes the hub tell b what its local peers do. Call it once,
// before the hub serves any peer; nil (the default) tells no one.
func (h *Hub) Federate(b Bus) { h.bus = b }

// busFor returns the Bus to tell about p's change, or nil: remote peers'
// changes are the cluster's own doing.
func (h *Hub) busFor(p *Peer) Bus {
	if p.remote {
		return nil
	}
	return h.bus
}

// Publisher returns the peer publishing stream name in namespace ns, or
// nil. A cluster resolves two nodes' concurrent publishes of one stream
// with it.
func (h *Hub) Publisher(ns, name string) *Peer {
	k := key(ns, name)
	sh := h.streams.get(k)
	sh.mu.Lock()
	s := sh.m[k]
	sh.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publisher
}

// routeHandle is what Route returns for a remote peer whose Client is a
// Forwarder: the peer's id and namespace, delivering through Forward.
func routeHandle(from, to *Peer) *Peer {
	f, ok := to.client.(Forwarder)
	if !ok {
		return to
	}
	return &Peer{id: to.id, ns: to.ns, remote: true, client: forwardFrom{from: from, to: to, f: f}}
}

type forwardFrom struct {
	from, to *Peer
	f        Forwarder
	byID     bool
}

func (c forwardFrom) Notify(ev Event) {
	if c.byID {
		if b, ok := c.f.(ByIDForwarder); ok {
			b.ForwardByID(c.from, c.to, ev)
		}
		return
	}
	c.f.Forward(c.from, c.to, ev)
}

// Sends by id. Some dialects address a peer by id alone, without a room or
// stream in common: PeerJS (any PeerJS id), and a VDO.Ninja fan-out
// director telling a peer it moved it. On one node that is Lookup; across
// nodes the node that holds the recipient must know the sender and that
// the namespace allows it, so it can check again before delivering.

// ByIDForwarder is a Forwarder that also carries sends by id
// (LookupFrom): the node holding to delivers only within a namespace
// opened with AllowByID there too.
type ByIDForwarder interface {
	Forwarder
	ForwardByID(from, to *Peer, ev Event)
}

// AllowByID declares that peers of namespace ns may address each other by
// id (LookupFrom). A dialect calls it once, when it is set up; a cluster
// delivers sends by id only in such namespaces (ByID). Safe for concurrent
// use.
func (h *Hub) AllowByID(ns string) {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	if h.ext.byID == nil {
		h.ext.byID = make(map[string]bool)
	}
	h.ext.byID[ns] = true
}

// ByID reports whether namespace ns was opened with AllowByID.
func (h *Hub) ByID(ns string) bool {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	return h.ext.byID[ns]
}

// LookupFrom is Lookup for a frame from sends to the peer id of its own
// namespace: a remote peer comes back as a handle whose Notify carries
// from along (ByIDForwarder), so the node holding the peer can check the
// sender and the namespace before delivering.
func (h *Hub) LookupFrom(from *Peer, id string) *Peer {
	p := h.dir.Lookup(from.ns, id)
	if p == nil || !p.remote {
		return p
	}
	f, ok := p.client.(Forwarder)
	if !ok {
		return p
	}
	return &Peer{id: p.id, ns: p.ns, remote: true, client: forwardFrom{from: from, to: p, f: f, byID: true}}
}

// OnRemoteRegister makes the hub call f with each remote peer registered
// in namespace ns from then on (a dialect delivering what it held for an
// id that connected on another node). f runs on the cluster's goroutine
// after the registration and must not block. Safe for concurrent use.
func (h *Hub) OnRemoteRegister(ns string, f func(p *Peer)) {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	if h.ext.onRemote == nil {
		h.ext.onRemote = make(map[string]func(*Peer))
	}
	h.ext.onRemote[ns] = f
}

// remoteRegistered tells the namespace's watcher about remote peer p.
func (h *Hub) remoteRegistered(p *Peer) {
	h.ext.mu.Lock()
	f := h.ext.onRemote[p.ns]
	h.ext.mu.Unlock()
	if f != nil {
		f(p)
	}
}

// hubExt is what dialects declare to a federated hub. Read on the
// cluster's paths only, so its mutex is off the single-node message path.
type hubExt struct {
	mu       sync.Mutex // guards the following fields
	byID     map[string]bool
	onRemote map[string]func(*Peer)
	chosen   map[string]bool
	takeover map[string]func(*Peer)
	yield    map[string]YieldFunc
}

// Client-chosen ids. Native and VDO.Ninja UUIDs are 128 random bits the
// server draws; PeerJS ids and fan-out labels are the client's choice, so
// two nodes may be asked for one id at once.

// Claimer is a Bus that settles an id cluster-wide before a local peer
// gets it, for namespaces with client-chosen ids (ChosenIDs). Claim calls
// reserve (which puts p in this hub's directory, or fails with
// ErrIDTaken) exactly once, in its own order with what it applies from
// other nodes, and returns its error; or ErrIDTaken, having taken the
// reservation back (Withdraw), when another node holds the id or won a
// concurrent claim of it. It may wait for the other nodes, within a bound.
type Claimer interface {
	Bus
	Claim(p *Peer, reserve func() error) error
}

// ChosenIDs declares that the ids of namespace ns are the clients' choice:
// in a cluster (Claimer), Register asks the other nodes before an id is
// given. Safe for concurrent use.
func (h *Hub) ChosenIDs(ns string) {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	if h.ext.chosen == nil {
		h.ext.chosen = make(map[string]bool)
	}
	h.ext.chosen[ns] = true
}

// add puts p in the directory; for a local peer of a namespace with
// chosen ids in a cluster, through the cluster's claim.
func (h *Hub) add(p *Peer) error {
	reserve := func() error { return h.dir.Add(p) }
	if p.remote {
		return reserve() // its node claimed it
	}
	c, ok := h.bus.(Claimer)
	if !ok {
		return reserve()
	}
	h.ext.mu.Lock()
	chosen := h.ext.chosen[p.ns]
	h.ext.mu.Unlock()
	if !chosen {
		return reserve()
	}
	return c.Claim(p, reserve)
}

// Takeovers. A client that reconnects (PeerJS reconnect(), with its
// token) takes its id over from its previous connection; in a cluster
// that connection may be on another node.

// SetProof sets what proves that p's client may take its id over from a
// previous connection of the same client (PeerJS: a hash of the id and
// its token). Call it before Register; never logged, compared in
// constant time by the node holding the id.
func (p *Peer) SetProof(b []byte) { p.proof = b }

// Proof returns what SetProof set.
func (p *Peer) Proof() []byte { return p.proof }

// OnTakeover makes the hub call f to close local peer p's connection and
// unregister it, when a client proved (Proof) on another node that it is
// p's client reconnecting. Safe for concurrent use.
func (h *Hub) OnTakeover(ns string, f func(p *Peer)) {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	if h.ext.takeover == nil {
		h.ext.takeover = make(map[string]func(*Peer))
	}
	h.ext.takeover[ns] = f
}

// TakeOver closes and unregisters local peer p for a client reconnecting
// elsewhere (OnTakeover); false when its namespace allows no takeover.
func (h *Hub) TakeOver(p *Peer) bool {
	h.ext.mu.Lock()
	f := h.ext.takeover[p.ns]
	h.ext.mu.Unlock()
	if f == nil || p.remote {
		return false
	}
	f(p)
	return true
}

// Withdraw takes back the id of local peer p while its claim is pending:
// the cluster calls it when another node's concurrent claim wins, so that
// node's peer can be registered here.
func (h *Hub) Withdraw(p *Peer) { h.dir.Remove(p) }

// Directors and migrations across nodes.

// DirectorBus is a Bus that also learns when a local peer becomes a
// room's director (JoinClaim), so every node agrees who directs it. The
// role ends when the director leaves the room (Left, Unregistered).
type DirectorBus interface {
	Bus
	// Directs: p became the director of room; joined says it joined the
	// room with that claim (and no Joined is told for it).
	Directs(p *Peer, room string, joined bool)
}

// MigrateForwarder is a remote peer's Client that can ask the peer's node
// to move it (Migrate by a local director): that node checks again that
// d directs a room holding the peer, and moves it there.
type MigrateForwarder interface {
	Client
	ForwardMigrate(d, target *Peer, dest string)
}

// Moves. A native session whose connection dropped is parked on its node
// (signaling/native); its client may resume it on another node of the
// cluster. The node it resumes on asks the cluster for it (Mover.Fetch);
// the node holding it hands it over (Yield), and every node swaps the
// peer's object for one of its new kind (Replace): the peer keeps its id,
// rooms, streams and plays, and no member is told it left or joined.

// Handoff is a parked session as its node hands it to the node its client
// resumed on.
type Handoff struct {
	NS, ID     string
	Relay      bool     // the client asked for forced relay (kept across resumes)
	Authorized bool     // the client showed a valid token (its ICE servers are not held back)
	Held       [][]byte // frames held for the client, oldest first, encoded for its protocol
}

// YieldFunc hands over the session parked under key (the hash of its
// resume token), for a node its client resumed on: ok=false when no
// session is parked under key here (the same for an unknown, used or
// expired key). Once ok, the caller must call take exactly once: with
// moved=true after the peer was replaced (Replace) by a remote peer of the
// new node, to get the frames held since; with false to give up, which
// ends the session (the peer leaves everything).
type YieldFunc func(key []byte) (ho Handoff, take func(moved bool) [][]byte, ok bool)

// Mover is a Bus that can move a parked session here from another node.
type Mover interface {
	Bus
	// Fetch finds the session parked under key on another node and moves
	// it here, within a bound: adopt makes the local peer for what the
	// other node handed over (not registered: Fetch puts it in place of
	// the remote peer, with its memberships), and Fetch returns it with
	// that handoff; ok=false when no node had it, or the move failed.
	Fetch(ns string, key []byte, adopt func(ho *Handoff) *Peer) (p *Peer, ho *Handoff, ok bool)
}

// OnYield sets how the parked sessions of namespace ns are handed over
// (Yield). Safe for concurrent use.
func (h *Hub) OnYield(ns string, f YieldFunc) {
	h.ext.mu.Lock()
	defer h.ext.mu.Unlock()
	if h.ext.yield == nil {
		h.ext.yield = make(map[string]YieldFunc)
	}
	h.ext.yield[ns] = f
}

// Yield hands over the session of namespace ns parked under key (OnYield);
// ok=false when there is none.
func (h *Hub) Yield(ns string, key []byte) (ho Handoff, take func(moved bool) [][]byte, ok bool) {
	h.ext.mu.Lock()
	f := h.ext.yield[ns]
	h.ext.mu.Unlock()
	if f == nil {
		return Handoff{}, nil, false
	}
	return f(key)
}

// Fetch asks the cluster (a Mover Bus) for the session of namespace ns
// parked under key on another node; ok=false without a cluster, or when
// no node had it.
func (h *Hub) Fetch(ns string, key []byte, adopt func(ho *Handoff) *Peer) (p *Peer, ho *Handoff, ok bool) {
	m, isMover := h.bus.(Mover)
	if !isMover {
		return nil, nil, false
	}
	return m.Fetch(ns, key, adopt)
}

// Replace puts nw in old's place: the same id, rooms, streams and plays,
// and no event for anyone (no member is told old left or nw joined); old
// is gone after it. nw must be new (never registered) with old's
// namespace and id; a nil old registers nw alone (ErrIDTaken when its id
// is held). The Bus is not told: the cluster, which makes the moves,
// tells the other nodes itself. ErrClosed when old is gone already.
func (h *Hub) Replace(old, nw *Peer) error {
	if old == nil {
		return h.dir.Add(nw)
	}
	if old.ns != nw.ns || old.id != nw.id {
		return ErrUnknownPeer
	}
	old.mu.Lock()
	if old.gone {
		old.mu.Unlock()
		return ErrClosed
	}
	// old keeps its memberships until the swap is done, so a member
	// listing in between still shows its stream; gone refuses any change.
	old.gone = true
	rooms := maps.Clone(old.rooms)
	pubs := slices.Clone(old.pubs)
	plays := maps.Clone(old.plays)
	old.mu.Unlock()

	nw.mu.Lock()
	nw.rooms, nw.pubs, nw.plays = rooms, pubs, plays
	nw.mu.Unlock()
	h.dir.Remove(old)
	if err := h.dir.Add(nw); err != nil {
		return err // cannot happen for ids drawn at random: old held it
	}
	for _, r := range rooms {
		r.mu.Lock()
		if m, ok := r.members[old.id]; ok && m.peer == old {
			r.members[old.id] = roomMember{peer: nw, seq: m.seq}
		}
		if r.director == old {
			r.director = nw
		}
		r.mu.Unlock()
	}
	for _, s := range pubs {
		s.mu.Lock()
		if s.publisher == old {
			s.publisher = nw
		}
		s.mu.Unlock()
	}
	for _, s := range plays {
		s.mu.Lock()
		if s.viewers[old.id] == old {
			s.viewers[old.id] = nw
		}
		s.mu.Unlock()
	}
	old.mu.Lock()
	old.rooms, old.pubs, old.plays = nil, nil, nil
	old.mu.Unlock()
	return nil
}

// State returns the names of the rooms p is in, the streams it publishes
// (in publish order) and the streams it plays, live or pending.
func (p *Peer) State() (rooms, pubs, plays []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rooms {
		rooms = append(rooms, r.name)
	}
	for _, s := range p.pubs {
		pubs = append(pubs, s.name)
	}
	for _, s := range p.plays {
		plays = append(plays, s.name)
	}
	return rooms, pubs, plays
}

// Offerer is a Client that may refuse a signal for now: a native session
// parked for a resume that holds all it may. A cluster delivering a
// signal from another node offers it, and tells the sender's node of a
// refusal (EvRefused), so the sender hears of it as on one node.
type Offerer interface {
	Client
	Offer(f Frame) error
}

// EvRefused tells a peer that its signal for Peer was refused on the node
// holding Peer: Code says why (CodePeerAway).
type EvRefused struct {
	Peer string
	Code Code
}

func (EvRefused) isEvent() {}
