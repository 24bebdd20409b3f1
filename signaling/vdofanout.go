package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/veilrtc/veil/signaling/hub"
)

// The VDO.Ninja fan-out dialect: what the VDO.Ninja app speaks when it is
// given a server with &wss= (or session.customWSS in a self-hosted copy's
// index.html), and what VDO.Ninja's self-host server (websocket_server)
// relays. There is no server-assigned id: every message carries "from",
// the page's own random id (20 characters, about 116 bits), and a page
// drops every message whose "UUID" is not its own id. The self-host
// server broadcasts; veil does not. It keeps its relation rule (a message
// reaches only room members and publisher/viewer pairs) and the privacy
// filter of the official dialect, and answers in the forms the app reacts
// to, all carrying the sender's label as "from":
//
// Client -> server (every message also has "from":LABEL, and in a room
// "roomid"; a director page adds "director":true, which veil ignores):
//
//	{"request":"seed","streamID":S}              publish S
//	{"request":"play","streamID":S}              view S, now or once seeded
//	{"request":"joinroom","roomid":R,"streamID"?:S,"claim"?:true}
//	{"request":"migrate","roomid":R2,"target":LABEL}   director only
//	{"auth":TOKEN}                               operator token (&auth=)
//	{"UUID":LABEL, description|candidates|..., session, streamID, type, vector, isScene}
//
// Server -> client:
//
//	{"request":"play","streamID":S,"from":V,"director"?:true}
//	        to S's publisher, once per viewer V (the app then offers to V)
//	{"request":"joinroom","streamID"?:S,"from":G,"director"?:true}
//	        to each member when G joins (each plays S and offers to G)
//	{"request":"migrate","roomid":R2,"target":T,"from":D,"director":true}
//	        to T, moved by its director D into R2 (T then re-joins R2)
//	{"request":"alert","message":...}            a refusal, shown to the user
//	{"request":"error","code":C,"message":...}   every refusal (logged by the app)
//	direct messages with "UUID" = the recipient's label, "from" = the sender's
//
// Labels: the first message binds its "from" to the socket, first come
// (the hub's directory, as PeerJS ids), until the socket closes. A label
// is 16-64 letters, digits, '-' or '_'; it is never another socket's: a
// label that is in use is refused generically and the socket closed with
// 1013, so the app's reconnect (every 5 s, same label) gets it once the
// old socket is gone. Every later message must carry the same "from".
// Labels are chosen by clients, not handed out by veil; the refusal says
// only that a string the client already knows is in use (see README).

// vdoFanNS is the hub namespace of the fan-out dialect. The app never mixes
// the two dialects in one session, so they share no room or stream, and
// labels cannot shadow server-assigned ids.
const vdoFanNS = "vdofan"

// DefaultVDOFanoutPath is VDOConfig.FanoutPath's default.
const DefaultVDOFanoutPath = "/vdo-fanout"

// Label bounds. The app's labels are 20 characters; 16 keeps a label from
// being short enough to guess.
const (
	minFanLabel = 16
	maxFanLabel = 64
)

// validateFanout checks FanoutPath after withDefaults.
func (c VDOConfig) validateFanout() error {
	p := c.FanoutPath
	if p == c.Path {
		return fmt.Errorf("%w: VDO.FanoutPath must differ from VDO.Path", errInvalidConfig)
	}
	if err := (VDOConfig{Path: p}).validatePathOnly(); err != nil {
		return fmt.Errorf("%w: VDO.FanoutPath: %v", errInvalidConfig, err)
	}
	return nil
}

// validatePathOnly checks Path with validate's rules, without recursing
// into the fan-out path.
func (c VDOConfig) validatePathOnly() error {
	if len(c.Path) < 2 || c.Path[0] != '/' {
		return errors.New("must start with / and name a path")
	}
	for _, r := range c.Path {
		ok := r == '/' || r == '-' || r == '_' || r == '.' || r == '~' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !ok {
			return errors.New("holds a character that is not a URL path character")
		}
	}
	switch c.Path {
	case "/ws", "/healthz", "/privacy":
		return errors.New("collides with a veil endpoint")
	}
	return nil
}

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
	vdoIn
	IsScene json.RawMessage `json:"isScene"`
	// "director" and "roomid" on direct messages are read by nobody: the
	// first is re-derived from the hub, the second dropped.
}

// fanDirect is a direct message as delivered in the fan-out dialect.
type fanDirect struct {
	vdoDirect                 // UUID: the recipient's label
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
// official session's requests and privacy filter (vdoSession) over a hub
// peer whose id is the client's label. The hub calls Notify from any
// goroutine; everything else runs on the connection's reader.
type fanSession struct {
	*vdoSession
	bound bool // the label is bound: peer is registered in the hub
}

// serveVDOFanout runs one fan-out dialect connection.
func (s *Server) serveVDOFanout(w http.ResponseWriter, r *http.Request) {
	s.serveConn(w, r, vdoFanNS, func(c *conn) session {
		fs := &fanSession{vdoSession: newVDOSession(s, c, r)}
		fs.peer = nil // the hub peer exists once the first message names it
		return fs
	})
}

// closed leaves the hub if the label was bound.
func (s *fanSession) closed() {
	if s.bound {
		s.srv.hub.Unregister(s.peer)
	}
}

// Notify implements Client: hub events become the messages a fan-out
// server would have relayed from the peer concerned.
func (s *fanSession) Notify(ev hub.Event) {
	switch e := ev.(type) {
	case hub.Frame:
		s.c.send(e)
	case hub.EvViewer:
		// e.Peer plays our stream: relay its play, which the app answers
		// with an offer (a re-seed brings a new EvViewer, and a new offer).
		v := s.srv.hub.Lookup(vdoFanNS, e.Peer)
		s.relay(fanReq{Request: "play", Stream: e.Stream, From: e.Peer, Director: s.srv.hub.DirectsRoomOf(v, s.peer)})
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
	}
	// Departures and stream ends: the app learns them from its connections.
}

// relay queues a request composed from another peer's names. Names are
// checked names, labels hold no dot or colon; under forced relay the frame
// is still checked once more, as every forwarded frame is.
func (s *fanSession) relay(m fanReq) {
	b, err := marshal(m)
	if err != nil {
		return
	}
	if s.forceRelay && !s.srv.leakFree(b) {
		return
	}
	s.c.send(b)
}

// fail answers the client with an error, the alert the app shows when the
// user can act on it, and a strike.
func (s *fanSession) fail(err error) {
	code, msg := toWire(err)
	s.srv.metrics.errors(code)
	s.write(vdoNotice{Request: "error", Code: code, Message: msg})
	if a := s.alertFor(err, true); a != "" {
		s.alert(a)
	}
	s.c.strike()
}

func (s *fanSession) refuse(err error) {
	if errors.Is(err, errTooLarge) {
		s.fail(newError(CodeTooLarge, "message exceeds %d bytes", s.srv.cfg.MaxMessageBytes))
		return
	}
	s.fail(newError(CodeBadMessage, "only JSON text frames are accepted"))
}

// errLabel refuses a first message whose "from" cannot be bound. The same
// text for a malformed and a taken label.
var errLabel = &Error{Code: CodeBadMessage, Message: `"from" must be 16-64 letters, digits, - or _, not used by another connection`}

func (s *fanSession) handle(b []byte) {
	var m fanIn
	if _, err := decodeMessage(b, &m); err != nil {
		s.fail(err)
		return
	}
	typ := m.Request
	if typ == "" {
		typ = "direct"
	}
	if err := s.srv.admitMessage(s.limiter, &s.inLen, typ, len(b)); err != nil {
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
		return newError(CodeBadMessage, `every message of this dialect carries "from"`)
	}
	if s.bound {
		if *from != s.peer.ID() {
			return newError(CodeBadMessage, `"from" cannot change on a connection`)
		}
		return nil
	}
	if !validLabel(*from) {
		return errLabel
	}
	p := hub.NewPeerWithID(vdoFanNS, *from, s)
	if err := s.srv.hub.Register(p); err != nil {
		// Taken (most likely by this page's own previous socket, not yet
		// reaped): refuse, and close so the app reconnects and retries.
		s.write(vdoNotice{Request: "error", Code: errLabel.Code, Message: errLabel.Message})
		s.c.close(closeTryAgainLater, "try again")
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
		return s.seed(&m.vdoIn)
	case "play":
		return s.play(&m.vdoIn)
	case "joinroom":
		return s.joinRoom(m)
	case "migrate":
		return s.migrate(m)
	case "ping":
		s.write(vdoNotice{Request: "pong"})
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
		return newError(CodeBadMessage, "message has neither request nor UUID")
	default:
		return newError(CodeUnknownType, "unknown request")
	}
}

// joinRoom publishes the stream the app names in its joinroom (there is
// no seed in a fan-out room) before joining, so the members hear of the
// newcomer with its stream; a failed join takes the publish back.
func (s *fanSession) joinRoom(m *fanIn) error {
	published := false
	if m.Stream != nil && s.stream != *m.Stream {
		if err := s.seed(&m.vdoIn); err != nil {
			return err
		}
		published = true
	}
	if err := s.vdoSession.joinRoom(&m.vdoIn); err != nil {
		if published {
			_ = s.srv.hub.Unpublish(s.peer, s.stream, "")
			s.stream = ""
		}
		return err
	}
	return nil
}

// migrate moves a member of the director's room; the target learns it
// from the director's migrate, as the app expects (it then re-joins).
func (s *fanSession) migrate(m *fanIn) error {
	if err := s.vdoSession.migrate(&m.vdoIn); err != nil {
		return err
	}
	if t := s.srv.hub.Lookup(vdoFanNS, m.Target); t != nil {
		b, err := marshal(fanReq{Request: "migrate", Room: m.Room, Target: m.Target, From: s.peer.ID(), Director: true})
		if err == nil && (!s.forceRelay || s.srv.leakFree(b)) {
			t.Notify(hub.Frame(b))
		}
	}
	return nil
}

// direct routes a message to the related peer its UUID labels, through
// the official dialect's filter and the final leak check.
func (s *fanSession) direct(m *fanIn) error {
	to, err := s.srv.hub.Route(s.peer, m.UUID)
	if err != nil {
		return err
	}
	d, forward, err := s.filterDirect(&m.vdoIn)
	if err != nil || !forward {
		alertAddressee(to, err)
		return err
	}
	out := fanDirect{vdoDirect: d, From: s.peer.ID(), Director: s.srv.hub.DirectsRoomOf(s.peer, to)}
	out.UUID = to.ID()
	if present(m.IsScene) {
		if out.IsScene, err = flag(m.IsScene, "isScene"); err != nil {
			return err
		}
		if s.forceRelay || s.stripSysinfo {
			out.IsScene = scrubFlag(out.IsScene)
		}
	}
	b, err := marshal(out)
	if err != nil {
		return newError(CodeBadMessage, "message cannot be encoded")
	}
	if err := checkGrowth(s.inLen, len(b)); err != nil {
		return err
	}
	if s.forceRelay && !s.srv.leakFree(b) {
		return errAddressLeak
	}
	s.srv.metrics.relayed()
	to.Notify(hub.Frame(b))
	return nil
}
