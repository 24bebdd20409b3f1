package hub

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
)

// Event is something the hub tells a peer. Each wire protocol encodes the
// events it knows and ignores the rest. Events that answer a request carry
// the request's Rid.
type Event interface{ isEvent() }

// Member describes a room member as other members see it.
type Member struct {
	ID     string
	Stream string // the first stream the member publishes, if any
}

// The hub's events.
type (
	// EvJoined answers Join and JoinClaim, or tells a peer moved by
	// Migrate (Transferred) where it now is: the other members in join
	// order. The director fields are set only in rooms with a director
	// (JoinClaim, Migrate): Director is the room's director unless that
	// is the receiver itself, ClaimAsked says the join asked to become
	// director and Claimed whether the receiver is the director.
	EvJoined struct {
		Room        string
		Peers       []Member
		Director    string
		ClaimAsked  bool
		Claimed     bool
		Transferred bool
		Rid         string
	}
	// EvLeft answers a leave.
	EvLeft struct{ Room, Rid string }
	// EvDirectorLost tells a room's director that it no longer directs the
	// room: another node of a cluster let a peer with a smaller id claim
	// it within a round trip of this peer's claim (SettleDirector).
	// Director is the room's director now.
	EvDirectorLost struct{ Room, Director string }
	// EvPeerJoined tells a member that another peer joined (or was moved
	// into) its room; Director says the newcomer became the room's
	// director by joining (JoinClaim).
	EvPeerJoined struct {
		Room     string
		Peer     Member
		Director bool
	}
	// EvPeerLeft tells a member that a peer left its room.
	EvPeerLeft struct{ Room, Peer string }
	// EvPublished answers a publish.
	EvPublished struct{ Stream, Rid string }
	// EvUnpublished answers an unpublish.
	EvUnpublished struct{ Stream, Rid string }
	// EvStreamAdded tells a member that a peer in its room published a stream.
	EvStreamAdded struct{ Room, Peer, Stream string }
	// EvPlaying tells a viewer who publishes the stream it plays; Rid is set
	// when it answers the play directly.
	EvPlaying struct{ Stream, Peer, Rid string }
	// EvWaiting answers a play of a stream nobody publishes yet.
	EvWaiting struct{ Stream, Rid string }
	// EvViewer tells a publisher that a peer plays its stream.
	EvViewer struct{ Stream, Peer string }
	// EvStreamEnded tells a viewer that its stream's publisher went away;
	// the play stays pending.
	EvStreamEnded struct{ Stream string }
	// Frame is an already encoded message for the peer's own protocol.
	Frame []byte
)

func (EvJoined) isEvent()       {}
func (EvLeft) isEvent()         {}
func (EvDirectorLost) isEvent() {}
func (EvPeerJoined) isEvent()   {}
func (EvPeerLeft) isEvent()     {}
func (EvPublished) isEvent()    {}
func (EvUnpublished) isEvent()  {}
func (EvStreamAdded) isEvent()  {}
func (EvPlaying) isEvent()      {}
func (EvWaiting) isEvent()      {}
func (EvViewer) isEvent()       {}
func (EvStreamEnded) isEvent()  {}
func (Frame) isEvent()          {}

// Client is the hub's view of a connection. Notify must not block: it
// queues the event or, when the peer cannot keep up, drops the peer.
type Client interface {
	Notify(ev Event)
}

// Peer is one connection known to the hub. Safe for concurrent use.
type Peer struct {
	id     string
	ns     string // protocol namespace: rooms and streams are per protocol
	client Client
	remote bool   // a peer of another node (NewRemotePeer)
	proof  []byte // SetProof: the client's right to take its id over (bus.go)

	mu    sync.Mutex // guards the following fields
	rooms map[string]*room
	pubs  []*stream
	plays map[string]*stream
	gone  bool
}

// NewPeer returns a peer with a fresh unguessable id in protocol namespace
// ns, delivering events to c.
func NewPeer(ns string, c Client) *Peer { return NewPeerWithID(ns, NewID(), c) }

// NewPeerWithID is NewPeer with a caller-chosen id (PeerJS clients pick theirs).
func NewPeerWithID(ns, id string, c Client) *Peer {
	return &Peer{id: id, ns: ns, client: c}
}

// ID returns the peer's id.
func (p *Peer) ID() string { return p.id }

// Namespace returns the protocol namespace the peer lives in.
func (p *Peer) Namespace() string { return p.ns }

// Client returns the connection the peer delivers its events to.
func (p *Peer) Client() Client { return p.client }

// RoomNames returns the names of the rooms p is in.
func (p *Peer) RoomNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.rooms))
	for _, r := range p.rooms {
		out = append(out, r.name)
	}
	return out
}

// Notify delivers ev to the peer's connection without blocking.
func (p *Peer) Notify(ev Event) { p.client.Notify(ev) }

// firstStreamLocked returns the first stream p publishes; p.mu must be held.
func (p *Peer) firstStreamLocked() string {
	if len(p.pubs) == 0 {
		return ""
	}
	return p.pubs[0].name
}

func (p *Peer) member() Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Member{ID: p.id, Stream: p.firstStreamLocked()}
}

type room struct {
	key, name string

	mu       sync.Mutex // guards the following fields
	members  map[string]roomMember
	director *Peer // set by Claim (VDO.Ninja dialect)
}

type roomMember struct {
	peer *Peer
	seq  uint64
}

type stream struct {
	key, name string

	mu        sync.Mutex // guards the following fields
	publisher *Peer
	viewers   map[string]*Peer // by id: Route finds one without a scan
}

// Limits bound what one peer and one room may hold.
type Limits struct {
	MaxRoomPeers   int // peers per room
	MaxPeerRooms   int // rooms per peer
	MaxPeerStreams int // streams one peer publishes
	MaxPeerPlays   int // streams one peer plays or waits for
}

// Hub knows peers, rooms, streams and who may reach whom. It is protocol
// agnostic: codecs at the edge turn wire messages into hub calls and hub
// events into wire messages. Safe for concurrent use; there is no global
// lock on the message path.
type Hub struct {
	limits  Limits
	dir     Directory
	bus     Bus // set once by Federate; nil: no cluster
	ext     hubExt
	rooms   shards[*room]
	streams shards[*stream]
	joinSeq atomic.Uint64

	roomCount   atomic.Int64
	streamCount atomic.Int64
}

// New returns an empty hub with the given limits, looking peers up in dir
// (a local in-memory directory when nil).
func New(l Limits, dir Directory) *Hub {
	if dir == nil {
		dir = NewLocalDirectory()
	}
	h := &Hub{limits: l, dir: dir}
	h.rooms.init()
	h.streams.init()
	return h
}

// Rooms returns the number of rooms with members.
func (h *Hub) Rooms() int64 { return h.roomCount.Load() }

// Peers returns the number of registered peers.
func (h *Hub) Peers() int { return h.dir.Len() }

// Streams returns the number of streams published or awaited by a viewer.
func (h *Hub) Streams() int64 { return h.streamCount.Load() }

// Register makes p reachable by id in its namespace. It fails when the id
// is taken there; an id of another namespace never conflicts.
func (h *Hub) Register(p *Peer) error {
	if err := h.add(p); err != nil {
		return err
	}
	if b := h.busFor(p); b != nil {
		b.Registered(p)
	}
	if p.remote {
		h.remoteRegistered(p)
	}
	return nil
}

// Lookup returns the peer registered with that id in namespace ns, or nil.
func (h *Hub) Lookup(ns, id string) *Peer { return h.dir.Lookup(ns, id) }

func key(ns, name string) string { return ns + "\x00" + name }

// Join adds p to room name, answering p with EvJoined (rid) and telling
// every other member EvPeerJoined. Joining a room twice answers again
// without telling anyone.
func (h *Hub) Join(p *Peer, name, rid string) error {
	r, err := h.openRoom(p, name, false)
	if err != nil {
		return err
	}
	added, err := h.addLocked(r, p)
	if err != nil {
		r.mu.Unlock()
		h.dropRoomIfEmpty(r)
		return err
	}
	if added {
		me := p.member()
		for _, m := range r.members {
			if m.peer != p {
				m.peer.Notify(EvPeerJoined{Room: name, Peer: me})
			}
		}
	}
	p.Notify(EvJoined{Room: name, Peers: r.listLocked(p), Rid: rid})
	r.mu.Unlock()
	if b := h.busFor(p); b != nil && added {
		b.Joined(p, name)
	}
	return nil
}

// openRoom checks that p may join room name and returns the room, created
// when needed, with r.mu held. unbounded skips MaxPeerRooms (a migration:
// the peer leaves its old room right after).
func (h *Hub) openRoom(p *Peer, name string, unbounded bool) (*room, error) {
	k := key(p.ns, name)
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	_, already := p.rooms[k]
	if !already && !unbounded && !p.remote && h.limits.MaxPeerRooms > 0 && len(p.rooms) >= h.limits.MaxPeerRooms {
		p.mu.Unlock()
		return nil, ErrTooManyRooms
	}
	p.mu.Unlock()

	// Lock order: shard, then room, then peer. Holding the shard while
	// taking the room means no Leave can delete it in between.
	sh := h.rooms.get(k)
	sh.mu.Lock()
	r := sh.m[k]
	if r == nil {
		r = &room{key: k, name: name, members: make(map[string]roomMember)}
		sh.m[k] = r
		h.roomCount.Add(1)
	}
	r.mu.Lock()
	sh.mu.Unlock()
	return r, nil
}

// addLocked makes p a member of r; added is false when it was one
// already. r.mu must be held.
func (h *Hub) addLocked(r *room, p *Peer) (added bool, err error) {
	if _, ok := r.members[p.id]; ok {
		return false, nil
	}
	if !p.remote && h.limits.MaxRoomPeers > 0 && len(r.members) >= h.limits.MaxRoomPeers {
		return false, ErrRoomFull
	}
	// The gone check and both sides of the membership under p.mu (and
	// r.mu): Unregister, which sets gone and lists p.rooms under p.mu,
	// either finds this room or makes the add fail. Checked only in
	// openRoom, a Migrate racing the target's disconnect left a dead
	// member behind.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return false, ErrClosed
	}
	if p.rooms == nil {
		p.rooms = make(map[string]*room)
	}
	p.rooms[r.key] = r
	r.members[p.id] = roomMember{peer: p, seq: h.joinSeq.Add(1)}
	return true, nil
}

// listLocked lists r's members other than self in join order. r.mu held.
func (r *room) listLocked(self *Peer) []Member {
	ms := make([]roomMember, 0, len(r.members))
	for _, m := range r.members {
		if m.peer != self {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b roomMember) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = m.peer.member()
	}
	return out
}

// Leave removes p from room name, answering EvLeft (rid) and telling the
// remaining members EvPeerLeft.
func (h *Hub) Leave(p *Peer, name, rid string) error {
	k := key(p.ns, name)
	p.mu.Lock()
	_, ok := p.rooms[k]
	gone := p.gone
	p.mu.Unlock()
	if gone {
		return ErrClosed // Unregistered, or replaced (Replace): its rooms are another's now
	}
	if !ok {
		return ErrNotInRoom
	}
	h.leave(p, k)
	p.Notify(EvLeft{Room: name, Rid: rid})
	if b := h.busFor(p); b != nil {
		b.Left(p, name)
	}
	return nil
}

func (h *Hub) leave(p *Peer, k string) {
	sh := h.rooms.get(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.m[k]
	p.mu.Lock()
	delete(p.rooms, k)
	p.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[p.id]; !ok {
		return
	}
	delete(r.members, p.id)
	if r.director == p {
		r.director = nil
	}
	for _, m := range r.members {
		m.peer.Notify(EvPeerLeft{Room: r.name, Peer: p.id})
	}
	if len(r.members) == 0 {
		delete(sh.m, k)
		h.roomCount.Add(-1)
	}
}

// Publish makes p the publisher of stream name. Pending viewers get
// EvPlaying and p gets EvViewer for each; members of p's rooms get
// EvStreamAdded.
func (h *Hub) Publish(p *Peer, name, rid string) error {
	k := key(p.ns, name)
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return ErrClosed
	}
	for _, s := range p.pubs {
		if s.key == k {
			p.mu.Unlock()
			p.Notify(EvPublished{Stream: name, Rid: rid})
			return nil
		}
	}
	if !p.remote && h.limits.MaxPeerStreams > 0 && len(p.pubs) >= h.limits.MaxPeerStreams {
		p.mu.Unlock()
		return ErrStreamInUse
	}
	p.mu.Unlock()

	s := h.openStream(k, name)
	if s.publisher != nil {
		s.mu.Unlock()
		return ErrStreamInUse
	}
	if s.viewers[p.id] == p {
		// It would be told it is its own publisher and viewer.
		s.mu.Unlock()
		return ErrOwnStream
	}
	p.mu.Lock()
	if p.gone {
		// Unregister ran since the check above and will not see s: add
		// nothing, and forget s if it was opened for us.
		p.mu.Unlock()
		s.mu.Unlock()
		h.dropStreamIfUnused(s)
		return ErrClosed
	}
	s.publisher = p
	p.pubs = append(p.pubs, s)
	rooms := make([]*room, 0, len(p.rooms))
	for _, r := range p.rooms {
		rooms = append(rooms, r)
	}
	p.mu.Unlock()
	p.Notify(EvPublished{Stream: name, Rid: rid})
	for _, v := range s.viewers {
		v.Notify(EvPlaying{Stream: name, Peer: p.id})
		p.Notify(EvViewer{Stream: name, Peer: v.id})
	}
	s.mu.Unlock()

	for _, r := range rooms {
		r.mu.Lock()
		for _, m := range r.members {
			if m.peer != p {
				m.peer.Notify(EvStreamAdded{Room: r.name, Peer: p.id, Stream: name})
			}
		}
		r.mu.Unlock()
	}
	if b := h.busFor(p); b != nil {
		b.Published(p, name)
	}
	return nil
}

// Unpublish ends p's stream name: its viewers get EvStreamEnded and their
// plays go back to pending.
func (h *Hub) Unpublish(p *Peer, name, rid string) error {
	k := key(p.ns, name)
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return ErrClosed
	}
	i := slices.IndexFunc(p.pubs, func(s *stream) bool { return s.key == k })
	if i < 0 {
		p.mu.Unlock()
		return ErrNotPublisher
	}
	s := p.pubs[i]
	p.pubs = slices.Delete(p.pubs, i, i+1)
	p.mu.Unlock()
	h.endStream(p, s)
	p.Notify(EvUnpublished{Stream: name, Rid: rid})
	if b := h.busFor(p); b != nil {
		b.Unpublished(p, name)
	}
	return nil
}

func (h *Hub) endStream(p *Peer, s *stream) {
	sh := h.streams.get(s.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher != p {
		return
	}
	s.publisher = nil
	for _, v := range s.viewers {
		v.Notify(EvStreamEnded{Stream: s.name})
	}
	h.dropStreamIfUnusedLocked(sh, s)
}

// openStream returns stream k, created when needed, with s.mu held. As for
// rooms, the shard is held while taking the stream so no cleanup can delete
// it in between.
func (h *Hub) openStream(k, name string) *stream {
	sh := h.streams.get(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.m[k]
	if s == nil {
		s = &stream{key: k, name: name}
		sh.m[k] = s
		h.streamCount.Add(1)
	}
	s.mu.Lock()
	return s
}

// dropStreamIfUnusedLocked forgets s when it has neither publisher nor
// viewers. sh.mu and s.mu must be held.
func (h *Hub) dropStreamIfUnusedLocked(sh *shard[*stream], s *stream) {
	if s.publisher == nil && len(s.viewers) == 0 && sh.m[s.key] == s {
		delete(sh.m, s.key)
		h.streamCount.Add(-1)
	}
}

// dropStreamIfUnused forgets s when it has neither publisher nor viewers.
// Neither the shard's nor s's lock may be held.
func (h *Hub) dropStreamIfUnused(s *stream) {
	sh := h.streams.get(s.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	h.dropStreamIfUnusedLocked(sh, s)
}

// dropRoomIfEmpty forgets r when it has no member (a join that was
// refused after openRoom created it). Neither the shard's nor r's lock
// may be held.
func (h *Hub) dropRoomIfEmpty(r *room) {
	sh := h.rooms.get(r.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) == 0 && sh.m[r.key] == r {
		delete(sh.m, r.key)
		h.roomCount.Add(-1)
	}
}

// Play makes p a viewer of stream name. When it is live p gets EvPlaying
// (rid) and the publisher EvViewer; otherwise p gets EvWaiting (rid) and the
// play stays pending until a publisher appears or p goes away.
func (h *Hub) Play(p *Peer, name, rid string) error {
	k := key(p.ns, name)
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return ErrClosed
	}
	_, again := p.plays[k]
	if !again && !p.remote && h.limits.MaxPeerPlays > 0 && len(p.plays) >= h.limits.MaxPeerPlays {
		p.mu.Unlock()
		return ErrTooManyPlays
	}
	p.mu.Unlock()

	s := h.openStream(k, name)
	if s.publisher == p {
		s.mu.Unlock()
		return ErrOwnStream
	}
	// The peer's side first, under its lock with the gone check, so a
	// concurrent Unregister either sees this play or refuses it.
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		s.mu.Unlock()
		h.dropStreamIfUnused(s)
		return ErrClosed
	}
	if p.plays == nil {
		p.plays = make(map[string]*stream)
	}
	p.plays[k] = s
	p.mu.Unlock()
	if s.viewers == nil {
		s.viewers = make(map[string]*Peer)
	}
	s.viewers[p.id] = p
	if s.publisher == nil {
		p.Notify(EvWaiting{Stream: name, Rid: rid})
	} else {
		p.Notify(EvPlaying{Stream: name, Peer: s.publisher.id, Rid: rid})
		s.publisher.Notify(EvViewer{Stream: name, Peer: p.id})
	}
	s.mu.Unlock()
	if b := h.busFor(p); b != nil {
		b.Played(p, name)
	}
	return nil
}

// StopPlay ends p's play (live or pending) of stream name. It is not an
// error to stop a stream p does not play.
func (h *Hub) StopPlay(p *Peer, name string) {
	k := key(p.ns, name)
	p.mu.Lock()
	s := p.plays[k]
	delete(p.plays, k)
	p.mu.Unlock()
	if s != nil {
		h.stopPlaying(p, s)
		if b := h.busFor(p); b != nil {
			b.StoppedPlaying(p, name)
		}
	}
}

// Route returns the peer with id to if from may reach it: they share a
// room, or one publishes a stream the other plays. Anything else, live or
// not, is ErrUnknownPeer, so a stranger cannot learn whether an id exists.
// For a remote peer whose Client is a Forwarder it returns a handle with
// the peer's id that delivers through Forward (bus.go).
func (h *Hub) Route(from *Peer, to string) (*Peer, error) {
	if to == from.id {
		return nil, ErrUnknownPeer
	}
	var (
		roomsBuf [16]*room
		pubsBuf  [4]*stream
		playsBuf [4]*stream
	)
	from.mu.Lock()
	rooms := roomsBuf[:0]
	for _, r := range from.rooms {
		rooms = append(rooms, r)
	}
	pubs := append(pubsBuf[:0], from.pubs...)
	plays := playsBuf[:0]
	for _, s := range from.plays {
		plays = append(plays, s)
	}
	from.mu.Unlock()

	for _, r := range rooms {
		r.mu.Lock()
		m, ok := r.members[to]
		r.mu.Unlock()
		if ok {
			return reach(from, m.peer), nil
		}
	}
	for _, s := range plays {
		s.mu.Lock()
		pub := s.publisher
		s.mu.Unlock()
		if pub != nil && pub.id == to {
			return reach(from, pub), nil
		}
	}
	for _, s := range pubs {
		s.mu.Lock()
		found := s.viewers[to]
		s.mu.Unlock()
		if found != nil {
			return reach(from, found), nil
		}
	}
	return nil, ErrUnknownPeer
}

// Unregister removes p from everything: it leaves its rooms (members get
// EvPeerLeft), ends its streams (viewers get EvStreamEnded), drops its
// pending plays and frees its id. Idempotent.
func (h *Hub) Unregister(p *Peer) {
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return
	}
	p.gone = true
	roomKeys := make([]string, 0, len(p.rooms))
	for k := range p.rooms {
		roomKeys = append(roomKeys, k)
	}
	pubs := p.pubs
	p.pubs = nil
	plays := p.plays
	p.plays = nil
	p.mu.Unlock()

	for _, k := range roomKeys {
		h.leave(p, k)
	}
	for _, s := range pubs {
		h.endStream(p, s)
	}
	for _, s := range plays {
		h.stopPlaying(p, s)
	}
	h.dir.Remove(p)
	if b := h.busFor(p); b != nil {
		b.Unregistered(p)
	}
}

// reach is what Route returns for to: to itself, or for a remote peer a
// handle that forwards with the sender (routeHandle).
func reach(from, to *Peer) *Peer {
	if to.remote {
		return routeHandle(from, to)
	}
	return to
}

func (h *Hub) stopPlaying(p *Peer, s *stream) {
	sh := h.streams.get(s.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.viewers[p.id] == p {
		delete(s.viewers, p.id)
	}
	h.dropStreamIfUnusedLocked(sh, s)
}

// shards spreads a map over independently locked parts so unrelated rooms
// and streams never contend.
type shards[V any] struct {
	seed maphash.Seed
	s    [shardCount]shard[V]
}

const shardCount = 64

type shard[V any] struct {
	mu sync.Mutex // guards m
	m  map[string]V
}

func (s *shards[V]) init() {
	s.seed = maphash.MakeSeed()
	for i := range s.s {
		s.s[i].m = make(map[string]V)
	}
}

func (s *shards[V]) get(k string) *shard[V] {
	return &s.s[maphash.String(s.seed, k)%shardCount]
}
