package hub

// Rooms with a director, for dialects that have one (VDO.Ninja's "claim"
// and "migrate"). Kept apart from hub.go: the native protocol does not use
// any of this, and nothing here changes how Join, Leave or Route behave.

// JoinClaim is Join for rooms with a director. With claim, p becomes the
// room's director when it has none; a later claimer gets Claimed=false and
// the current director. p gets EvJoined (rid), the other members
// EvPeerJoined. Joining a room p is in answers again without telling
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
	became := false
	if claim && r.director == nil {
		r.director = p
		became = true
	}
	if added {
		me := p.member()
		for _, m := range r.members {
			if m.peer != p {
				m.peer.Notify(EvPeerJoined{Room: name, Peer: me, Director: became})
			}
		}
	}
	ev := EvJoined{
		Room: name, Peers: r.listLocked(p), ClaimAsked: claim,
		Claimed: r.director == p, Transferred: moved, Rid: rid,
	}
	if r.director != nil && r.director != p {
		ev.Director = r.director.id
	}
	p.Notify(ev)
	r.mu.Unlock()
	if b := h.busFor(p); b != nil {
		db, ok := b.(DirectorBus)
		switch {
		case became && ok:
			db.Directs(p, name, added)
		case added:
			b.Joined(p, name)
		}
	}
	return nil
}

// Migrate moves the peer with id target out of a room that d directs and
// into room dest (d's namespace). The target gets EvJoined with
// Transferred set (rid is not echoed to it: the request was not its own),
// the members of dest EvPeerJoined, the members of the old room
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
	case tp.remote:
		// Its node moves it (and checks again that d directs it there);
		// the rest of the cluster hears of the move from that node.
		mf, ok := tp.client.(MigrateForwarder)
		if !ok {
			return ErrUnknownPeer
		}
		mf.ForwardMigrate(d, tp, dest)
		return nil
	}
	if err := h.joinDirected(tp, dest, "", false, true); err != nil {
		return err
	}
	if src.key != key(tp.ns, dest) {
		h.leave(tp, src.key)
		if b := h.busFor(tp); b != nil {
			b.Left(tp, src.name)
		}
	}
	return nil
}

// Directs reports whether p directs room name of its namespace. A cluster
// checks with it whether another node's claim took effect here.
func (h *Hub) Directs(p *Peer, name string) bool {
	k := key(p.ns, name)
	sh := h.rooms.get(k)
	sh.mu.Lock()
	r := sh.m[k]
	sh.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.director == p
}

// SettleDirector makes p, a member of room name, the room's director when
// it has none or its director has a greater id than p's, and reports
// whether p directs the room then. A cluster settles two nodes'
// concurrent claims of one room with it, for the smaller id on every
// node, as it settles concurrent publishes. A local director that loses
// the role gets EvDirectorLost.
func (h *Hub) SettleDirector(p *Peer, name string) bool {
	k := key(p.ns, name)
	sh := h.rooms.get(k)
	sh.mu.Lock()
	r := sh.m[k]
	sh.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[p.id]; !ok {
		return false
	}
	if old := r.director; old == nil || p.id < old.id {
		r.director = p
		if old != nil && old != p && !old.remote {
			old.Notify(EvDirectorLost{Room: name, Director: p.id})
		}
	}
	return r.director == p
}
