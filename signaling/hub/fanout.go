package hub

// DirectsRoomOf reports whether d is the director of a room that p is a
// member of. The VDO.Ninja fan-out dialect marks a message as coming from
// the director ("director":true) only when this holds, since the app
// gives whoever it believes is the director control over its page.
func (h *Hub) DirectsRoomOf(d, p *Peer) bool {
	if d == nil || p == nil || d == p {
		return false
	}
	d.mu.Lock()
	rooms := make([]*room, 0, len(d.rooms))
	for _, r := range d.rooms {
		rooms = append(rooms, r)
	}
	d.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		_, member := r.members[p.id]
		directs := r.director == d
		r.mu.Unlock()
		if directs && member {
			return true
		}
	}
	return false
}
