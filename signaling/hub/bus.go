package hub

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
}

func (c forwardFrom) Notify(ev Event) { c.f.Forward(c.from, c.to, ev) }
