package native

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Resume: a peer whose WebSocket drops keeps its id, rooms, streams and
// pending plays for a grace window (Config.ResumeGrace). Its session is
// parked: it stays a member in the hub, so others still Route to it, and
// what they send it is held (bounded like a send queue) until it comes
// back with the resume token of its last welcome (GET /ws?resume=TOKEN),
// or the window ends and it leaves everything as if it had disconnected
// then. docs/PROTOCOL.md "Resume" is the contract.

// DefaultResumeGrace is how long a dropped peer may take to resume.
const DefaultResumeGrace = 30 * time.Second

const (
	// resumeTokenBytes is a resume token's entropy: 256 random bits.
	resumeTokenBytes = 32
	// resumeTokenLen is its length in unpadded base64url; any other length
	// is refused before a lookup.
	resumeTokenLen = (resumeTokenBytes*8 + 5) / 6
	// takeoverWait bounds how long a resume waits for the connection it
	// replaces (one veil still takes for open, a half-open socket) to park.
	takeoverWait = 3 * time.Second
	// heldReserve is kept free of held frames in a session's byte cap, so
	// the welcome that precedes them on resume always fits the new queue.
	heldReserve = 8 << 10
	// heldBytesNoCap is the held byte cap when SendQueueBytes sets none.
	heldBytesNoCap = 1 << 20
)

// CloseReplaced is the close code of a connection whose session another
// connection resumed (its token was used elsewhere).
const CloseReplaced = 4001

// Resume errors a client may see.
var (
	// errResumeFailed answers an unknown, used or expired token alike, so
	// the reply tells nothing about which.
	errResumeFailed = edge.NewError(hub.CodeResumeFailed, "session cannot be resumed; this is a new session")
	// errPeerAway refuses a signal for a parked peer that holds all it may.
	errPeerAway = edge.NewError(hub.CodePeerAway, "peer is reconnecting and cannot take more now; retry later")
)

// Session states.
const (
	stateLive   = iota // a connection serves it
	stateParked        // its connection dropped; held for a resume
	stateEnded         // gone from the hub
	stateMoving        // handed to another node (Yield); still holds frames
	stateMoved         // on another node now: nothing reaches it here
)

// resumeTable finds sessions by the hash of their current resume token
// (the token itself is never kept) and tracks the parked ones. Safe for
// concurrent use. Lock order: a session's rmu before the table's mu.
type resumeTable struct {
	mu     sync.Mutex // guards the following fields
	byKey  map[[sha256.Size]byte]*session
	parked map[*session]struct{}
	closed bool // Shutdown ran: nothing parks
}

// resumable is a session's resume state, guarded by rmu. The connection
// (session.c) is read under rmu by everyone but the session's reader.
type resumable struct {
	rmu       sync.Mutex // guards the following fields and session.c
	state     int
	key       [sha256.Size]byte // hash of the current token; zero: none
	held      [][]byte          // frames for the client while parked
	heldBytes int64
	timer     *time.Timer // ends a parked session
	unpark    func()
	parkedCh  chan struct{} // closed once parked or ended; made only when a takeover waits

	asked   bool         // the connection asked ?relay=1 (kept across resumes)
	parkKey edge.ParkKey // the client address's parking account
}

func tokenKey(tok string) [sha256.Size]byte { return sha256.Sum256([]byte(tok)) }

// mintLocked gives s a fresh resume token, replacing its previous one, and
// returns it. s.rmu must be held (or s not yet shared).
func (d *Dialect) mintLocked(s *session) string {
	var b [resumeTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	k := tokenKey(tok)
	d.resume.mu.Lock()
	if s.key != ([sha256.Size]byte{}) && d.resume.byKey[s.key] == s {
		delete(d.resume.byKey, s.key)
	}
	d.resume.byKey[k] = s
	d.resume.mu.Unlock()
	s.key = k
	return tok
}

// forget removes s's token and parked entry.
func (d *Dialect) forget(s *session, key [sha256.Size]byte) {
	d.resume.mu.Lock()
	if d.resume.byKey[key] == s {
		delete(d.resume.byKey, key)
	}
	delete(d.resume.parked, s)
	d.resume.mu.Unlock()
}

// claim takes the session of token key out of the table (single use,
// whatever happens next) and returns it parked, with s.rmu held; nil when
// there is none, or the connection it replaces did not let go in time.
func (d *Dialect) claim(k [sha256.Size]byte) *session {
	d.resume.mu.Lock()
	s := d.resume.byKey[k]
	if s != nil {
		delete(d.resume.byKey, k)
	}
	d.resume.mu.Unlock()
	if s == nil {
		return nil
	}
	s.rmu.Lock()
	if s.state == stateLive {
		// veil still takes the old connection for open (a half-open
		// socket, or the client reconnected before its old socket's
		// close reached us): the newer connection wins. Close the old
		// one, let it park, then resume.
		if s.parkedCh == nil {
			s.parkedCh = make(chan struct{})
		}
		old, ch := s.c, s.parkedCh
		s.key = [sha256.Size]byte{}
		s.rmu.Unlock()
		old.Close(CloseReplaced, "session resumed on another connection")
		t := time.NewTimer(takeoverWait)
		select {
		case <-ch:
			t.Stop()
		case <-t.C:
			return nil // it parks later, without a token, and expires
		}
		s.rmu.Lock()
	}
	if s.state != stateParked {
		s.rmu.Unlock()
		return nil
	}
	s.timer.Stop() // expire checks the state under rmu: it does nothing now
	s.unpark()
	d.resume.mu.Lock()
	delete(d.resume.parked, s)
	d.resume.mu.Unlock()
	return s
}

// resumeSession moves the session of token tok onto connection c and
// returns it, or returns nil: no such token (unknown, used, expired), or
// the session it names could not be taken over. A token this node does
// not know is asked for across the cluster (hub.Fetch): the session moves
// here from the node it was parked on.
func (d *Dialect) resumeSession(tok string, c *edge.Conn, r *http.Request) *session {
	if len(tok) != resumeTokenLen {
		return nil
	}
	k := tokenKey(tok)
	s := d.claim(k)
	if s == nil {
		return d.fetch(k, c, r)
	}
	defer s.rmu.Unlock()
	s.movedIn = false
	s.liveLocked(c, r)
	return s
}

// liveLocked puts parked session s on connection c: a welcome with a fresh
// token, then what was held for the client (for a session moved here,
// first what the other node held). s.rmu must be held.
func (s *session) liveLocked(c *edge.Conn, r *http.Request) {
	d := s.d
	s.c = c
	s.asked = s.asked || r.URL.Query().Get("relay") == "1"
	s.SenderPolicy = d.srv.SenderPolicy(s.asked)
	s.parkKey = d.srv.ParkKeyOf(r)
	s.state = stateLive
	tok := d.mintLocked(s)
	if b, err := edge.Marshal(s.welcomeMsg(r, tok, true)); err == nil {
		c.Send(b)
	}
	for _, b := range s.held {
		c.Send(b)
	}
	s.srv.ReleaseHeld(s.heldBytes)
	s.held, s.heldBytes = nil, 0
	d.srv.ResumeResult(edge.ResumeOK)
}

// fetch resumes the session of token key k parked on another node of the
// cluster, or returns nil (no cluster, no node has it, or the move
// failed). The new session is made parked, holding what the other node
// held for the client and then what the hub sends it during the move,
// under the same caps as any parked session; then it is put on c.
func (d *Dialect) fetch(k [sha256.Size]byte, c *edge.Conn, r *http.Request) *session {
	var s *session
	adopt := func(ho *hub.Handoff) *hub.Peer {
		s = newSessionID(d, c, r, ho.ID)
		s.rmu.Lock()
		defer s.rmu.Unlock()
		s.state = stateParked
		s.unpark = func() {}
		s.timer = time.AfterFunc(d.cfg.ResumeGrace, s.expire) // a move that never completes ends
		for _, b := range ho.Held {
			_ = s.holdLocked(b, false) // over the caps (another node's): it ends, announced as left
		}
		return s.peer
	}
	p, ho, ok := d.srv.Hub.Fetch(Namespace, k[:], adopt)
	if !ok || s == nil || p != s.peer {
		return nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.state != stateParked {
		return nil
	}
	s.timer.Stop()
	s.asked = ho.Relay
	s.iceOK, s.movedIn = ho.Authorized, true
	s.liveLocked(c, r)
	return s
}

// yield hands the session parked under key over to another node
// (hub.YieldFunc).
func (d *Dialect) yield(key []byte) (hub.Handoff, func(bool) [][]byte, bool) {
	if len(key) != sha256.Size {
		return hub.Handoff{}, nil, false
	}
	s := d.claim([sha256.Size]byte(key))
	if s == nil {
		return hub.Handoff{}, nil, false
	}
	defer s.rmu.Unlock()
	s.state = stateMoving // frames still held: they go with the handoff
	s.key = [sha256.Size]byte{}
	ho := hub.Handoff{NS: Namespace, ID: s.peer.ID(), Relay: s.asked, Authorized: s.ice.req == nil}
	var once sync.Once
	take := func(moved bool) (held [][]byte) {
		once.Do(func() { held = s.moved(moved) })
		return held
	}
	return ho, take, true
}

// moved ends a yielded session here: with moved, it returns the frames
// held for the client and its TURN allocations on this node end one grace
// window later (time for the client, resumed elsewhere, to restart ICE
// through the other node's TURN); without, the session ends now.
func (s *session) moved(moved bool) [][]byte {
	s.rmu.Lock()
	held, n := s.held, s.heldBytes
	s.held, s.heldBytes = nil, 0
	if moved {
		s.state = stateMoved
	} else {
		s.state = stateEnded
	}
	s.rmu.Unlock()
	s.srv.ReleaseHeld(n)
	if !moved {
		s.srv.ResumeResult(edge.ResumeExpired)
		s.leave()
		return nil
	}
	s.srv.ResumeResult(edge.ResumeMoved)
	if s.d.cfg.OnPeerGone != nil {
		id, h := s.peer.ID(), s.srv.Hub
		time.AfterFunc(s.d.cfg.ResumeGrace, func() {
			if p := h.Lookup(Namespace, id); p != nil && !p.Remote() {
				return // it came back here: its allocations are its own again
			}
			s.d.cfg.OnPeerGone(id)
		})
	}
	return held
}

// park keeps s in the hub after its connection dropped, for a resume
// within the grace window. It reports false when s must leave now: resume
// is off, the server is shutting down, the client closed on purpose (1000
// or 1001), veil closed it for abuse or for not reading (1008, 1009: a
// resume would hand it back what it was cut off for), or a parking cap is
// reached.
func (s *session) park() bool {
	d := s.d
	if d.cfg.ResumeGrace <= 0 || s.srv.Closing() {
		return false
	}
	switch s.c.PeerCloseCode() {
	case edge.CloseNormal, edge.CloseGoingAway:
		return false
	}
	switch s.c.ServerCloseCode() {
	case edge.ClosePolicy, edge.CloseTooBig:
		return false
	}
	unpark, ok := s.srv.Park(s.parkKey)
	if !ok {
		return false
	}
	d.resume.mu.Lock()
	if d.resume.closed {
		d.resume.mu.Unlock()
		unpark()
		return false
	}
	d.resume.parked[s] = struct{}{}
	d.resume.mu.Unlock()

	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.state = stateParked
	s.unpark = unpark
	s.timer = time.AfterFunc(d.cfg.ResumeGrace, s.expire)
	// What the old connection had queued but not written goes to the
	// client on resume, before anything newer.
	for _, b := range s.c.TakeQueued() {
		if b != nil {
			_ = s.holdLocked(b, false)
		}
	}
	s.signalParkedLocked()
	return true
}

// signalParkedLocked wakes a takeover waiting for the connection to park
// or end. s.rmu must be held.
func (s *session) signalParkedLocked() {
	if s.parkedCh != nil {
		close(s.parkedCh)
		s.parkedCh = nil
	}
}

// expire ends a parked session that was not resumed in time, or that was
// sent more than it may hold: it leaves everything, as a disconnect did
// before resume existed, and its TURN allocations end.
func (s *session) expire() {
	s.rmu.Lock()
	if s.state != stateParked {
		s.rmu.Unlock()
		return
	}
	s.state = stateEnded
	n, key, unpark := s.heldBytes, s.key, s.unpark
	s.held, s.heldBytes, s.key = nil, 0, [sha256.Size]byte{}
	s.rmu.Unlock()
	s.timer.Stop()
	s.srv.ReleaseHeld(n)
	s.d.forget(s, key)
	unpark()
	s.srv.ResumeResult(edge.ResumeExpired)
	s.leave()
}

// holdLocked keeps b for the parked client. Over the session's caps (the
// send queue's frames and bytes, less room for the welcome) or the
// server's queue budget, a signal is refused (errPeerAway: its sender
// hears so) and anything else ends the session now: an event the client
// would never see must not be dropped quietly. s.rmu must be held.
func (s *session) holdLocked(b []byte, signal bool) error {
	n := int64(len(b))
	maxBytes := int64(s.srv.Config.SendQueueBytes) - heldReserve
	if s.srv.Config.SendQueueBytes <= 0 {
		maxBytes = heldBytesNoCap
	}
	if len(s.held) < s.srv.Config.SendQueue-1 && s.heldBytes+n <= maxBytes && s.srv.ReserveHeld(n) {
		s.held = append(s.held, b)
		s.heldBytes += n
		return nil
	}
	if signal {
		return errPeerAway
	}
	s.timer.Reset(0) // expire, on the timer's goroutine: the hub may hold locks here
	return nil
}

// send queues b for the client, or holds it while the session is parked.
func (s *session) send(b []byte) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	switch s.state {
	case stateParked, stateMoving:
		_ = s.holdLocked(b, false)
		return
	case stateMoved:
		return // its node now computes its events
	}
	s.c.Send(b) // never blocks: fine under rmu, which keeps the order with park
}

// offer is send for a signal or debug frame from another peer: refused
// with errPeerAway, for its sender, when a parked session holds too much.
func (s *session) offer(b []byte) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	switch s.state {
	case stateParked, stateMoving:
		return s.holdLocked(b, true)
	case stateMoved:
		return errPeerAway // sent as it moved to another node: the sender may retry
	}
	s.c.Send(b)
	return nil
}

// Offer implements hub.Offerer: a signal from a peer on another node,
// refused like a local one (errPeerAway) while parked and full.
func (s *session) Offer(f hub.Frame) error { return s.offer(f) }

// handTo delivers a signal frame to peer to: through offer for a native
// session (so a parked one can refuse it), else through its Client.
func handTo(to *hub.Peer, b []byte) error {
	if rs, ok := to.Client().(*session); ok {
		return rs.offer(b)
	}
	to.Notify(hub.Frame(b))
	return nil
}

// Shutdown ends every parked session at once (a process that stops keeps
// nothing) and parks none after. Call it once the connections are closed.
func (d *Dialect) Shutdown() {
	d.resume.mu.Lock()
	d.resume.closed = true
	parked := make([]*session, 0, len(d.resume.parked))
	for s := range d.resume.parked {
		parked = append(parked, s)
	}
	d.resume.mu.Unlock()
	for _, s := range parked {
		s.expire()
	}
}
