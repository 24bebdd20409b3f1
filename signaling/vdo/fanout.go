package vdo

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// FanoutNamespace is the hub namespace of the fan-out dialect and its
// metrics label. The app never mixes the two dialects in one session, so
// they share no room or stream, and labels cannot shadow server-assigned
// ids.
const FanoutNamespace = "vdofan"

// DefaultFanoutPath is Config.FanoutPath's default.
const DefaultFanoutPath = "/vdo-fanout"

// Label bounds. The app's labels are 20 characters; 16 keeps a label from
// being short enough to guess.
const (
	minFanLabel = 16
	maxFanLabel = 64
)

// validLabel reports whether l may be a fan-out label.
func validLabel(l string) bool {
	if len(l) < minFanLabel || len(l) > maxFanLabel {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fanIn is a fan-out message: the official fields plus the fan-out ones.
type fanIn struct {
	in
	IsScene json.RawMessage `json:"isScene"`
	// "director" and "roomid" on direct messages are read by nobody: the
	// first is re-derived from the hub, the second dropped.
}

// fanDirect is a direct message as delivered in the fan-out dialect.
type fanDirect struct {
	directMsg                 // UUID: the recipient's label
	From      string          `json:"from"`
	Director  bool            `json:"director,omitempty"`
	IsScene   json.RawMessage `json:"isScene,omitempty"`
}

// fanReq is a request veil sends in the fan-out dialect on a peer's behalf.
type fanReq struct {
	Request  string `json:"request"`
	Stream   string `json:"streamID,omitempty"`
	Room     string `json:"roomid,omitempty"`
	Target   string `json:"target,omitempty"`
	From     string `json:"from"`
	Director bool   `json:"director,omitempty"`
}

// fanSession speaks the fan-out dialect on one connection. It reuses the
// official session's requests and privacy filter (session) over a hub
// peer whose id is the client's label. The hub calls Notify from any
// goroutine; everything else runs on the connection's reader.
type fanSession struct {
	*session
	bound bool // the label is bound: peer is registered in the hub
}

// serveFanout runs one fan-out dialect connection.
func (d *Dialect) serveFanout(w http.ResponseWriter, r *http.Request) {
	d.srv.Serve(w, r, FanoutNamespace, func(c *edge.Conn) edge.Session {
		fs := &fanSession{session: newSession(d, c, r)}
		fs.peer = nil // the hub peer exists once the first message names it
		return fs
	})
}

// Closed leaves the hub if the label was bound.
func (s *fanSession) Closed() {
	if s.bound {
		s.srv.Hub.Unregister(s.peer)
	}
}

// Notify implements Client: hub events become the messages a fan-out
// server would have relayed from the peer concerned.
func (s *fanSession) Notify(ev hub.Event) {
	switch e := ev.(type) {
	case hub.Frame:
		s.c.Send(e)
	case hub.EvViewer:
		// e.Peer plays our stream: relay its play, which the app answers
		// with an offer (a re-seed brings a new EvViewer, and a new offer).
		v := s.srv.Hub.Lookup(FanoutNamespace, e.Peer)
		s.relay(fanReq{Request: "play", Stream: e.Stream, From: e.Peer, Director: s.srv.Hub.DirectsRoomOf(v, s.peer)})
	case hub.EvPeerJoined:
		// Each member plays the newcomer's stream and offers it its own.
		s.relay(fanReq{Request: "joinroom", Stream: e.Peer.Stream, From: e.Peer.ID, Director: e.Director})
	case hub.EvStreamAdded:
		// A member seeded after joining (the app does not, in this dialect).
		s.relay(fanReq{Request: "seed", Stream: e.Stream, From: e.Peer})
	case hub.EvJoined:
		// No listing in this dialect (it would make the app seed twice);
		// a refused claim is the only thing the joiner must learn.
		if e.ClaimAsked && !e.Claimed && !e.Transferred {
			s.alert(alertClaimTaken)
		}
	case hub.EvDirectorLost:
		s.alert(alertDirectorLost)
	}
	// Departures and stream ends: the app learns them from its connections.
}

// relay queues a request composed from another peer's names. Names are
// checked names, labels hold no dot or colon; under forced relay the frame
// is still checked once more, as every forwarded frame is.
func (s *fanSession) relay(m fanReq) {
	b, err := edge.Marshal(m)
	if err != nil {
		return
	}
	if s.ForceRelay && !s.srv.LeakFree(b) {
		return
	}
	s.c.Send(b)
}

// fail answers the client with an error, the alert the app shows when the
// user can act on it, and a strike.
func (s *fanSession) fail(err error) {
	code, msg := edge.ToWire(err)
	s.srv.Metrics.Error(code)
	s.write(notice{Request: "error", Code: code, Message: msg})
	if a := s.alertFor(err, true); a != "" {
		s.alert(a)
	}
	s.c.Strike()
}

// Refuse answers frames the connection layer rejected.
func (s *fanSession) Refuse(err error) {
	if errors.Is(err, edge.ErrTooLarge) {
		s.fail(edge.NewError(hub.CodeTooLarge, "message exceeds %d bytes", s.srv.Config.MaxMessageBytes))
		return
	}
	s.fail(edge.NewError(hub.CodeBadMessage, "only JSON text frames are accepted"))
}

// errLabel refuses a first message whose "from" cannot be bound. The same
// text for a malformed and a taken label.
var errLabel = &hub.Error{Code: hub.CodeBadMessage, Message: `"from" must be 16-64 letters, digits, - or _, not used by another connection`}

// Handle decodes one client message and acts on it.
func (s *fanSession) Handle(b []byte) {
	var m fanIn
	if _, err := edge.Decode(b, &m); err != nil {
		s.fail(err)
		return
	}
	typ := m.Request
	if typ == "" {
		typ = "direct"
	}
	if err := s.srv.AdmitMessage(s.limiter, &s.inLen, typ, len(b)); err != nil {
		s.fail(err)
		return
	}
	if err := s.bind(m.From); err != nil {
		s.fail(err)
		return
	}
	if err := s.dispatch(&m); err != nil {
		s.fail(err)
	}
}

// bind checks "from": the first message binds it, every later one must
// repeat it.
func (s *fanSession) bind(from *string) error {
	if from == nil {
		return edge.NewError(hub.CodeBadMessage, `every message of this dialect carries "from"`)
	}
	if s.bound {
		if *from != s.peer.ID() {
			return edge.NewError(hub.CodeBadMessage, `"from" cannot change on a connection`)
		}
		return nil
	}
	if !validLabel(*from) {
		return errLabel
	}
	p := hub.NewPeerWithID(FanoutNamespace, *from, s)
	if err := s.srv.Hub.Register(p); err != nil {
		// Taken (most likely by this page's own previous socket, not yet
		// reaped): refuse, and close so the app reconnects and retries.
		s.write(notice{Request: "error", Code: errLabel.Code, Message: errLabel.Message})
		s.c.Close(edge.CloseTryAgainLater, "try again")
		return nil
	}
	s.peer, s.bound = p, true
	return nil
}

func (s *fanSession) dispatch(m *fanIn) error {
	if !s.bound {
		return nil // closing: bind refused the label
	}
	switch m.Request {
	case "seed":
		return s.seed(&m.in)
	case "play":
		return s.play(&m.in)
	case "joinroom":
		return s.joinRoom(m)
	case "migrate":
		return s.migrate(m)
	case "ping":
		s.write(notice{Request: "pong"})
		return nil
	case "leave":
		s.leaveRooms()
		return nil
	case "bye", "hangup":
		s.hangup()
		return nil
	case "":
		if m.UUID != "" {
			return s.direct(m)
		}
		if m.Auth != "" {
			s.setAuth(m.Auth)
			return nil
		}
		return edge.NewError(hub.CodeBadMessage, "message has neither request nor UUID")
	default:
		return edge.NewError(hub.CodeUnknownType, "unknown request")
	}
}

// joinRoom publishes the stream the app names in its joinroom (there is
// no seed in a fan-out room) before joining, so the members hear of the
// newcomer with its stream; a failed join takes the publish back.
func (s *fanSession) joinRoom(m *fanIn) error {
	published := false
	if m.Stream != nil && s.stream != *m.Stream {
		if err := s.seed(&m.in); err != nil {
			return err
		}
		published = true
	}
	if err := s.session.joinRoom(&m.in); err != nil {
		if published {
			_ = s.srv.Hub.Unpublish(s.peer, s.stream, "")
			s.stream = ""
		}
		return err
	}
	return nil
}

// migrate moves a member of the director's room; the target learns it
// from the director's migrate, as the app expects (it then re-joins).
func (s *fanSession) migrate(m *fanIn) error {
	if err := s.session.migrate(&m.in); err != nil {
		return err
	}
	// By id: the target left the director's room with the move. On
	// another node of a cluster, the handle carries the director along.
	if t := s.srv.Hub.LookupFrom(s.peer, m.Target); t != nil {
		b, err := edge.Marshal(fanReq{Request: "migrate", Room: m.Room, Target: m.Target, From: s.peer.ID(), Director: true})
		if err == nil && (!s.ForceRelay || s.srv.LeakFree(b)) {
			t.Notify(hub.Frame(b))
		}
	}
	return nil
}

// direct routes a message to the related peer its UUID labels, through
// the official dialect's filter and the final leak check.
func (s *fanSession) direct(m *fanIn) error {
	to, err := s.srv.Hub.Route(s.peer, m.UUID)
	if err != nil {
		return err
	}
	d, forward, err := s.filterDirect(&m.in)
	if err != nil || !forward {
		alertAddressee(to, err)
		return err
	}
	out := fanDirect{directMsg: d, From: s.peer.ID(), Director: s.srv.Hub.DirectsRoomOf(s.peer, to)}
	out.UUID = to.ID()
	if present(m.IsScene) {
		if out.IsScene, err = flag(m.IsScene, "isScene"); err != nil {
			return err
		}
		if s.ForceRelay || s.StripSysinfo {
			out.IsScene = scrubFlag(out.IsScene)
		}
	}
	b, err := edge.Marshal(out)
	if err != nil {
		return edge.NewError(hub.CodeBadMessage, "message cannot be encoded")
	}
	if err := edge.CheckGrowth(s.inLen, len(b)); err != nil {
		return err
	}
	if s.ForceRelay && !s.srv.LeakFree(b) {
		return edge.ErrAddressLeak
	}
	s.srv.Metrics.Relayed()
	to.Notify(hub.Frame(b))
	return nil
}
