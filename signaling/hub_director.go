package signaling

// Rooms with a director, for dialects that have one (VDO.Ninja's "claim"
// and "migrate"). Kept apart from hub.go: the native protocol does not use
// any of this, and nothing here changes how Join, Leave or Route behave.

// ErrNotDirector refuses a director-only action (migrate) from a peer that
// directs no room holding the target.
var ErrNotDirector = &Error{CodeUnauthorized, "only the room's director may do that"}

// The director-aware events.
type (
	// EvRoomListing answers JoinClaim, or tells a peer moved by Migrate
	// (Transferred) where it now is: the other members in join order and
	// the room's director. Director is empty when the room has none or when
	// the receiver is the director itself. ClaimAsked says the join asked
	// to become director and Claimed whether the receiver is the director.
	EvRoomListing struct {
		Room        string
		Peers       []Member
		Director    string
		ClaimAsked  bool
		Claimed     bool
		Transferred bool
		Rid         string
	}
	// EvMemberJoined tells a member that a peer joined (or was moved into)
	// its room through JoinClaim or Migrate; Director says the newcomer
	// became the room's director by joining.
	EvMemberJoined struct {
		Room     string
		Peer     Member
		Director bool
	}
)

func (EvRoomListing) isEvent()  {}
func (EvMemberJoined) isEvent() {}

// JoinClaim is Join for rooms with a director. With claim, p becomes the
// room's director when it has none; a later claimer gets Claimed=false and
// the current director. p gets EvRoomListing (rid), the other members
// EvMemberJoined. Joining a room p is in answers again without telling
// anyone (and may still claim a director-less room).
func (h *Hub) JoinClaim(p *Peer, name, rid string, claim bool) error {
	return h.joinDirected(p, name, rid, claim, false)
}

// joinDirected adds p to room name. A migration (moved) is not bounded by
// MaxPeerRooms: the peer leaves its old room right after.
func (h *Hub) joinDirected(p *Peer, name, rid string, claim, moved bool) error {
	r, err := h.openRoom(p, name, moved)
	if err != nil {
		return err
	}
	// addLocked first, before claiming: a refused joiner directs nothing.
	added, err := h.addLocked(r, p)
	if err != nil {
		r.mu.Unlock()
		h.dropRoomIfEmpty(r)
		return err
	}
	defer r.mu.Unlock()
	became := false
	if claim && r.director == nil {
		r.director = p
		became = true
	}
	if added {
		me := p.member()
		for _, m := range r.members {
			if m.peer != p {
				m.peer.Notify(EvMemberJoined{Room: name, Peer: me, Director: became})
			}
		}
	}
	ev := EvRoomListing{
		Room: name, Peers: r.listLocked(p), ClaimAsked: claim,
		Claimed: r.director == p, Transferred: moved, Rid: rid,
	}
	if r.director != nil && r.director != p {
		ev.Director = r.director.id
	}
	p.Notify(ev)
	return nil
}

// Migrate moves the peer with id target out of a room that d directs and
// into room dest (d's namespace). The target gets EvRoomListing with
// Transferred set (rid is not echoed to it: the request was not its own),
// the members of dest EvMemberJoined, the members of the old room
// EvPeerLeft. ErrNotDirector when d directs no room, ErrUnknownPeer when no
// room d directs holds target (or target is d), ErrRoomFull when dest is
// full; on error nothing moved.
func (h *Hub) Migrate(d *Peer, target, dest string) error {
	if target == d.id {
		return ErrUnknownPeer
	}
	d.mu.Lock()
	rooms := make([]*room, 0, len(d.rooms))
	for _, r := range d.rooms {
		rooms = append(rooms, r)
	}
	d.mu.Unlock()

	directs := false
	var src *room
	var tp *Peer
	for _, r := range rooms {
		r.mu.Lock()
		if r.director == d {
			directs = true
			if m, ok := r.members[target]; ok && src == nil {
				src, tp = r, m.peer
			}
		}
		r.mu.Unlock()
	}
	switch {
	case !directs:
		return ErrNotDirector
	case tp == nil:
		return ErrUnknownPeer
	}
	if err := h.joinDirected(tp, dest, "", false, true); err != nil {
		return err
	}
	if src.key != key(tp.ns, dest) {
		h.leave(tp, src.key)
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
	}
}

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
