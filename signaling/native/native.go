package native

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Namespace is the hub namespace of the native protocol and its metrics
// label, as "peerjs" and "vdo" are for the dialects.
const Namespace = "native"

// ProtocolVersion is the native protocol's version, sent in welcome.
const ProtocolVersion = 1

// maxRidLen bounds the request id a client may attach.
const maxRidLen = 64

// ICEServer is one entry of welcome.iceServers, shaped like the browser's
// RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEServerFunc returns the ICE servers (typically TURN with short-lived
// credentials) for a peer that connected with request r and got id peerID.
// It must be safe for concurrent use.
type ICEServerFunc func(r *http.Request, peerID string) []ICEServer

// Config configures the native protocol; the rest comes from the shared
// layer (edge.Config). A zero field means its default.
type Config struct {
	// ICEServers hands each new peer its ICE servers. Default: none.
	ICEServers ICEServerFunc
	// OnPeerGone is called with a peer's id once its connection has
	// closed and it has left everything. It must not block. Default: nil.
	OnPeerGone func(peerID string)
	// ResumeGrace is how long a peer whose connection dropped stays, for
	// a resume with its token (resume.go). Default 0: no resume, a drop
	// leaves everything at once (signaling.Config defaults it to
	// DefaultResumeGrace).
	ResumeGrace time.Duration
}

// Dialect serves the native protocol on one signaling server. Safe for
// concurrent use.
type Dialect struct {
	srv    *edge.Server
	cfg    Config
	resume resumeTable
}

// New returns the native protocol over srv.
func New(srv *edge.Server, cfg Config) *Dialect {
	if cfg.ICEServers == nil {
		cfg.ICEServers = func(*http.Request, string) []ICEServer { return nil }
	}
	d := &Dialect{srv: srv, cfg: cfg}
	d.resume.byKey = make(map[[32]byte]*session)
	d.resume.parked = make(map[*session]struct{})
	if cfg.ResumeGrace > 0 {
		srv.Hub.OnYield(Namespace, d.yield)
	}
	return d
}

// ServeHTTP runs one native protocol connection (GET /ws).
func (d *Dialect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.srv.Serve(w, r, Namespace, func(c *edge.Conn) edge.Session {
		tok := r.URL.Query().Get("resume")
		if tok != "" && d.cfg.ResumeGrace > 0 {
			if sess := d.resumeSession(tok, c, r); sess != nil {
				return sess
			}
		}
		sess := newSession(d, c, r)
		if err := d.srv.Hub.Register(sess.peer); err != nil {
			// 144 random bits collided: treat as internal and hang up.
			c.Close(edge.CloseTryAgainLater, "try again")
			return nil
		}
		sess.welcome(r)
		if tok != "" {
			// Unknown, used and expired tokens get the same answer.
			d.srv.ResumeResult(edge.ResumeFailed)
			sess.fail(errResumeFailed, "resume", "")
		}
		return sess
	})
}

// in is every field a native client message may carry. Unknown
// fields are dropped by construction: forwarded messages are rebuilt from
// these.
type in struct {
	Type   string          `json:"type"`
	Rid    string          `json:"rid"`
	Room   string          `json:"room"`
	Stream string          `json:"stream"`
	Token  string          `json:"token"`
	To     string          `json:"to"`
	Data   json.RawMessage `json:"data"`
}

// signalData is the payload of a signal: exactly one field is set.
type signalData struct {
	SDP        *edge.SessionDesc `json:"sdp,omitempty"`
	Candidate  json.RawMessage   `json:"candidate,omitempty"`
	Candidates []edge.Candidate  `json:"candidates,omitempty"`
	Sealed     *string           `json:"sealed,omitempty"`
}

// Outgoing messages, one struct per shape so the wire format is exact.
type (
	outWelcome struct {
		Type               string         `json:"type"`
		Version            int            `json:"version"`
		ID                 string         `json:"id"`
		ICEServers         []ICEServer    `json:"iceServers"`
		ICETransportPolicy string         `json:"iceTransportPolicy"`
		Policy             privacy.Policy `json:"policy"`
		Resume             string         `json:"resume,omitempty"`
		Resumed            bool           `json:"resumed,omitempty"`
		Moved              bool           `json:"moved,omitempty"` // resumed here from another node of the cluster
	}
	outPeer struct {
		ID     string `json:"id"`
		Stream string `json:"stream,omitempty"`
	}
	outJoined struct {
		Type  string    `json:"type"`
		Room  string    `json:"room"`
		Peers []outPeer `json:"peers"`
		Rid   string    `json:"rid,omitempty"`
	}
	outPeerJoined struct {
		Type string  `json:"type"`
		Room string  `json:"room"`
		Peer outPeer `json:"peer"`
	}
	outRoomPeer struct {
		Type   string `json:"type"`
		Room   string `json:"room,omitempty"`
		Peer   string `json:"peer,omitempty"`
		Stream string `json:"stream,omitempty"`
		Rid    string `json:"rid,omitempty"`
	}
	outSignal struct {
		Type string          `json:"type"`
		From string          `json:"from"`
		Data json.RawMessage `json:"data"`
	}
	outICEServers struct {
		Type       string      `json:"type"`
		ICEServers []ICEServer `json:"iceServers"`
	}
	outError struct {
		Type    string   `json:"type"`
		Code    hub.Code `json:"code"`
		Message string   `json:"message"`
		Ref     string   `json:"ref,omitempty"`
		Rid     string   `json:"rid,omitempty"`
	}
)

// session speaks protocol v1 on one connection. The hub calls Notify
// from any goroutine; Handle runs on the connection's reader.
type session struct {
	d    *Dialect
	srv  *edge.Server
	c    *edge.Conn
	peer *hub.Peer
	edge.SenderPolicy
	limiter *edge.Limiter
	ice     iceGate
	iceOK   bool // moved here from a node where it was authorized: no gate
	movedIn bool // this resume moved it here from another node (welcome.moved)
	inLen   int  // size of the message being handled; reader goroutine only
	resumable
}

func newSession(d *Dialect, c *edge.Conn, r *http.Request) *session {
	return newSessionID(d, c, r, hub.NewID())
}

// newSessionID is newSession for a peer with id (a session moved here
// from another node keeps its id).
func newSessionID(d *Dialect, c *edge.Conn, r *http.Request, id string) *session {
	asked := r.URL.Query().Get("relay") == "1"
	s := &session{
		d:            d,
		srv:          d.srv,
		c:            c,
		SenderPolicy: d.srv.SenderPolicy(asked),
		limiter:      d.srv.NewLimiter(),
	}
	s.peer = hub.NewPeerWithID(Namespace, id, s)
	s.asked = asked
	if d.cfg.ResumeGrace > 0 {
		s.parkKey = d.srv.ParkKeyOf(r)
	}
	return s
}

func (s *session) welcome(r *http.Request) {
	tok := ""
	if s.d.cfg.ResumeGrace > 0 {
		tok = s.d.mintLocked(s) // no one else knows s yet
	}
	s.write(s.welcomeMsg(r, tok, false))
}

// welcomeMsg is the welcome for connection r with resume token tok.
func (s *session) welcomeMsg(r *http.Request, tok string, resumed bool) outWelcome {
	policy := "all"
	if s.ForceRelay {
		policy = "relay"
	}
	var ice []ICEServer
	if s.iceOK {
		// Moved from another node, where it showed a valid token.
		if ice = s.d.cfg.ICEServers(r, s.peer.ID()); ice == nil {
			ice = []ICEServer{}
		}
	} else {
		ice = s.ice.welcomeICE(s.d, r, s.peer.ID())
	}
	return outWelcome{
		Type: "welcome", Version: ProtocolVersion, ID: s.peer.ID(),
		ICEServers: ice, ICETransportPolicy: policy, Policy: s.srv.Config.Policy,
		Resume: tok, Resumed: resumed, Moved: resumed && s.movedIn,
	}
}

// write encodes v and queues it. Encoding our own structs cannot fail.
func (s *session) write(v any) {
	b, err := edge.Marshal(v)
	if err != nil {
		s.srv.Log.Error("encode native message", "err", err)
		return
	}
	s.send(b)
}

// Notify implements Client.
func (s *session) Notify(ev hub.Event) {
	switch e := ev.(type) {
	case hub.Frame:
		s.send(e)
	case hub.EvJoined:
		peers := make([]outPeer, len(e.Peers))
		for i, m := range e.Peers {
			peers[i] = outPeer{ID: m.ID, Stream: m.Stream}
		}
		s.write(outJoined{Type: "joined", Room: e.Room, Peers: peers, Rid: e.Rid})
	case hub.EvLeft:
		s.write(outRoomPeer{Type: "left", Room: e.Room, Rid: e.Rid})
	case hub.EvPeerJoined:
		s.write(outPeerJoined{Type: "peer-joined", Room: e.Room, Peer: outPeer{ID: e.Peer.ID, Stream: e.Peer.Stream}})
	case hub.EvPeerLeft:
		s.write(outRoomPeer{Type: "peer-left", Room: e.Room, Peer: e.Peer})
	case hub.EvPublished:
		s.write(outRoomPeer{Type: "published", Stream: e.Stream, Rid: e.Rid})
	case hub.EvUnpublished:
		s.write(outRoomPeer{Type: "unpublished", Stream: e.Stream, Rid: e.Rid})
	case hub.EvStreamAdded:
		s.write(outRoomPeer{Type: "stream-added", Room: e.Room, Peer: e.Peer, Stream: e.Stream})
	case hub.EvPlaying:
		s.write(outRoomPeer{Type: "playing", Stream: e.Stream, Peer: e.Peer, Rid: e.Rid})
	case hub.EvWaiting:
		s.write(outRoomPeer{Type: "waiting", Stream: e.Stream, Rid: e.Rid})
	case hub.EvViewer:
		s.write(outRoomPeer{Type: "viewer", Peer: e.Peer, Stream: e.Stream})
	case hub.EvStreamEnded:
		s.write(outRoomPeer{Type: "stream-ended", Stream: e.Stream})
	case hub.EvRefused:
		// A signal of ours refused on the node holding its recipient.
		if e.Code == hub.CodePeerAway {
			s.fail(errPeerAway, "signal", "")
		}
	}
}

// fail answers the client with an error and counts a strike; too many
// strikes in a short time close the connection with 1008.
func (s *session) fail(err error, ref, rid string) {
	code, msg := edge.ToWire(err)
	s.srv.Metrics.Error(code)
	s.write(outError{Type: "error", Code: code, Message: msg, Ref: ref, Rid: rid})
	if err != errPeerAway { // the recipient's state, not the sender's fault
		s.c.Strike()
	}
}

// Closed parks the session for a resume (resume.go) or, when it may not
// park, leaves the hub and ends the peer's TURN allocations.
func (s *session) Closed() {
	if s.park() {
		return
	}
	s.rmu.Lock()
	s.state = stateEnded
	key := s.key
	s.signalParkedLocked() // a takeover waiting for it to park stops waiting
	s.rmu.Unlock()
	s.d.forget(s, key)
	s.leave()
}

// leave removes the peer from the hub and ends its TURN allocations.
func (s *session) leave() {
	s.srv.Hub.Unregister(s.peer)
	if s.d.cfg.OnPeerGone != nil {
		s.d.cfg.OnPeerGone(s.peer.ID())
	}
}

// Refuse answers frames the connection layer rejected.
func (s *session) Refuse(err error) {
	switch {
	case errors.Is(err, edge.ErrTooLarge):
		s.fail(edge.NewError(hub.CodeTooLarge, "message exceeds %d bytes", s.srv.Config.MaxMessageBytes), "", "")
	default:
		s.fail(edge.NewError(hub.CodeBadMessage, "only JSON text frames are accepted"), "", "")
	}
}

// inKeys are the fields of in, in the order decodeFast reads them.
var inKeys = []string{"type", "rid", "room", "stream", "token", "to", "data"}

// decodeFast decodes a message into m as edge.Decode would, without
// encoding/json, when every field is plain (edge.FieldsOf); false means
// the fast path does not decide and edge.Decode must. m.Data is a
// subslice of b, valid only while the message is handled.
func decodeFast(b []byte, m *in) bool {
	var v [7][]byte
	if !edge.DecodeFields(b, inKeys, v[:]) {
		return false
	}
	var out in
	for i, dst := range []*string{&out.Type, &out.Rid, &out.Room, &out.Stream, &out.Token, &out.To} {
		if !edge.StringField(v[i], dst) {
			return false
		}
	}
	out.Data = v[6]
	*m = out
	return true
}

// Handle decodes one client message and acts on it.
func (s *session) Handle(b []byte) {
	var m in
	if decodeFast(b, &m) {
		// decoded: the checks below are the same for both paths
	} else if partial, err := edge.Decode(b, &m); err != nil {
		if !partial {
			s.fail(err, "", "")
			return
		}
		rid := m.Rid
		if len(rid) > maxRidLen {
			rid = ""
		}
		s.fail(err, m.Type, rid)
		return
	}
	if len(m.Rid) > maxRidLen {
		s.fail(edge.NewError(hub.CodeBadMessage, "rid is longer than %d characters", maxRidLen), m.Type, "")
		return
	}
	if err := s.srv.AdmitMessage(s.limiter, &s.inLen, m.Type, len(b)); err != nil {
		s.fail(err, m.Type, m.Rid)
		return
	}
	if err := s.dispatch(&m); err != nil {
		s.fail(err, m.Type, m.Rid)
	}
}

func (s *session) dispatch(m *in) error {
	h := s.srv.Hub
	switch m.Type {
	case "join":
		if err := s.checkAction(m.Room, m.Token, auth.ActionJoin); err != nil {
			return err
		}
		return h.Join(s.peer, m.Room, m.Rid)
	case "leave":
		if err := s.srv.CheckName(m.Room); err != nil {
			return err
		}
		return h.Leave(s.peer, m.Room, m.Rid)
	case "publish":
		if err := s.checkAction(m.Stream, m.Token, auth.ActionPublish); err != nil {
			return err
		}
		return h.Publish(s.peer, m.Stream, m.Rid)
	case "unpublish":
		if err := s.srv.CheckName(m.Stream); err != nil {
			return err
		}
		return h.Unpublish(s.peer, m.Stream, m.Rid)
	case "play":
		if err := s.checkAction(m.Stream, m.Token, auth.ActionPlay); err != nil {
			return err
		}
		return h.Play(s.peer, m.Stream, m.Rid)
	case "signal":
		return s.signal(m)
	case "debug":
		return s.debug(m)
	case "ping":
		s.write(outRoomPeer{Type: "pong", Rid: m.Rid})
		return nil
	case "":
		return edge.NewError(hub.CodeBadMessage, "message has no type")
	default:
		return edge.NewError(hub.CodeUnknownType, "unknown message type")
	}
}

// checkAction validates a join, publish or play (see edge.Server.CheckAction).
// The first authorized action releases the ICE servers welcome held back
// (icegate.go), before its own answer.
func (s *session) checkAction(name, token string, a auth.Action) error {
	if err := s.srv.CheckAction(s.limiter, name, token, a); err != nil {
		return err
	}
	if ice := s.ice.release(s.d, s.peer.ID()); len(ice) > 0 {
		s.write(outICEServers{Type: "ice-servers", ICEServers: ice})
	}
	return nil
}

func (s *session) route(to string) (*hub.Peer, error) {
	if to == "" {
		return nil, edge.NewError(hub.CodeBadMessage, "missing \"to\"")
	}
	return s.srv.Hub.Route(s.peer, to)
}

func (s *session) signal(m *in) error {
	to, err := s.route(m.To)
	if err != nil {
		return err
	}
	if f, forward, ok := s.signalFrameFast(m.Data); ok {
		if !forward {
			return nil // a candidate the relay filter removed
		}
		return s.relay(to, f)
	}
	data, forward, err := s.filterSignal(m.Data)
	if err != nil || !forward {
		return err
	}
	return s.deliver(to, "signal", data)
}

// deliver encodes {"type":typ,"from":me,"data":data} once and queues it
// for the recipient, unless it would outgrow the client's message by more
// than edge.MaxFrameGrowth.
//
// data must be compact JSON from marshal (filterSignal and debug make
// it so): it is spliced in as is, because json.Marshal would re-validate
// and re-compact a json.RawMessage field, a full extra scan of a ~4 KB
// offer. The bytes are the same as edge.Marshal(outSignal{...}) gives.
//
// For a relay-filtered sender the frame must pass the forced-relay check
// (LeakFree); if it does not, nothing is queued and ErrAddressLeak is
// returned.
func (s *session) deliver(to *hub.Peer, typ string, data []byte) error {
	b := s.appendHead(make([]byte, 0, 64+len(data)), typ)
	b = append(b, data...)
	return s.relay(to, append(b, '}'))
}

// appendHead appends the relayed frame's head, `{"type":typ,"from":me,"data":`.
func (s *session) appendHead(b []byte, typ string) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...) // "signal" or "debug": nothing to escape
	b = append(b, `","from":`...)
	b = edge.AppendQuoted(b, s.peer.ID())
	return append(b, `,"data":`...)
}

// relay queues the relayed frame b for the recipient after the growth and
// forced-relay checks (see deliver).
func (s *session) relay(to *hub.Peer, b []byte) error {
	if err := edge.CheckGrowth(s.inLen, len(b)); err != nil {
		return err
	}
	if s.ForceRelay && !s.srv.LeakFree(b) {
		return edge.ErrAddressLeak
	}
	if err := handTo(to, b); err != nil {
		return err
	}
	s.srv.Metrics.Relayed()
	return nil
}

// filterSignal validates a signal payload and applies the privacy policy.
// It returns the payload to forward, or forward=false when the filter left
// nothing worth sending (a trickle message with only non-relay candidates).
func (s *session) filterSignal(raw json.RawMessage) (out []byte, forward bool, err error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, edge.NewError(hub.CodeBadMessage, "missing \"data\"")
	}
	var d signalData
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, false, edge.NewError(hub.CodeBadMessage, "data must be an object with sdp, candidate, candidates or sealed")
	}
	n := 0
	for _, set := range []bool{d.SDP != nil, d.Candidate != nil, d.Candidates != nil, d.Sealed != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, false, edge.NewError(hub.CodeBadMessage, "data must hold exactly one of sdp, candidate, candidates, sealed")
	}
	switch {
	case d.SDP != nil:
		switch d.SDP.Type {
		case "offer", "answer", "pranswer":
			clean, err := s.srv.ScrubSDP(d.SDP.SDP, s.ForceRelay, s.StripSysinfo)
			if err != nil {
				return nil, false, edge.NewError(hub.CodeBadMessage, "sdp is not a session description")
			}
			d.SDP.SDP = clean
		case "rollback":
			d.SDP.SDP = ""
		default:
			return nil, false, edge.NewError(hub.CodeBadMessage, "sdp.type must be offer, answer, pranswer or rollback")
		}
	case d.Candidate != nil:
		if bytes.Equal(d.Candidate, []byte("null")) {
			break // end of candidates
		}
		var c edge.Candidate
		if err := json.Unmarshal(d.Candidate, &c); err != nil {
			return nil, false, edge.NewError(hub.CodeBadMessage, "candidate must be an object or null")
		}
		keep := s.filterCandidate(&c)
		if !keep {
			return nil, false, nil
		}
		d.Candidate, _ = edge.Marshal(c)
	case d.Candidates != nil:
		kept := d.Candidates[:0]
		for i := range d.Candidates {
			if s.filterCandidate(&d.Candidates[i]) {
				kept = append(kept, d.Candidates[i])
			}
		}
		if len(kept) == 0 {
			return nil, false, nil
		}
		d.Candidates = kept
	case d.Sealed != nil:
		if _, err := base64.RawURLEncoding.DecodeString(*d.Sealed); err != nil || *d.Sealed == "" {
			return nil, false, edge.NewError(hub.CodeBadMessage, "sealed must be unpadded base64url")
		}
		if !s.SealedOK {
			return nil, false, edge.ErrSealedDenied
		}
	}
	out, err = edge.Marshal(d)
	return out, err == nil, err
}

// signalKeys and sdpKeys are the fields of signalData and
// edge.SessionDesc, in the order filterSDPFast reads them.
var (
	signalKeys = []string{"sdp", "candidate", "candidates", "sealed"}
	sdpKeys    = []string{"type", "sdp"}
)

// candKeys are the fields of edge.Candidate, in the order
// candidateFast reads them.
var candKeys = []string{"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}

// signalFrameFast is filterSignal and deliver for the hot cases, in one
// pass: an offer, answer or pranswer that scrubs cleanly, or one trickle
// candidate with plain fields. The fields are located without
// encoding/json (edge.FieldsOf), the SDP unescaped once into a pooled
// buffer, scrubbed, and escaped once into the relayed frame, which is byte
// for byte what filterSignal and deliver give
// (FuzzFastPathMatchesEncodingJSON). ok=false when the fast path does not
// decide: filterSignal then handles, or refuses, the payload. forward=false
// (with ok): the relay filter removed the candidate, nothing to send.
func (s *session) signalFrameFast(raw []byte) (f []byte, forward, ok bool) {
	var v [4][]byte
	if !edge.FieldsOf(raw, signalKeys, v[:]) || v[2] != nil || v[3] != nil {
		return nil, false, false
	}
	switch {
	case v[0] != nil && v[1] == nil && v[0][0] == '{':
		f, ok = s.sdpFrameFast(v[0])
		return f, ok, ok
	case v[1] != nil && v[0] == nil && v[1][0] == '{':
		return s.candidateFrameFast(v[1])
	}
	return nil, false, false
}

// sdpFrameFast is signalFrameFast for data.sdp.
func (s *session) sdpFrameFast(sdp []byte) (f []byte, ok bool) {
	var d [2][]byte
	if !edge.FieldsOf(sdp, sdpKeys, d[:]) || d[1] == nil || d[1][0] != '"' {
		return nil, false
	}
	var typ string
	if !edge.StringField(d[0], &typ) {
		return nil, false
	}
	switch typ {
	case "offer", "answer", "pranswer":
	default:
		return nil, false
	}
	f = s.appendHead(make([]byte, 0, len(sdp)+len(sdp)/16+128), "signal")
	f = append(f, `{"sdp":{"type":"`...)
	f = append(f, typ...)
	f = append(f, `","sdp":`...)
	if f, ok = s.srv.AppendScrubbedSDP(f, d[1], s.ForceRelay, s.StripSysinfo); !ok {
		return nil, false
	}
	return append(f, "}}}"...), true
}

// candidateFrameFast is signalFrameFast for data.candidate: string fields
// plain or absent, sdpMLineIndex a plain integer in range; null, escapes
// and anything else go to filterSignal. Once it has run the relay filter
// (which counts what it drops) it always decides.
func (s *session) candidateFrameFast(raw []byte) (f []byte, forward, ok bool) {
	var v [4][]byte
	if !edge.FieldsOf(raw, candKeys, v[:]) || v[0] == nil {
		return nil, false, false
	}
	var c edge.Candidate
	if !edge.StringField(v[0], &c.Candidate) {
		return nil, false, false
	}
	for _, p := range []struct {
		raw []byte
		dst **string
	}{{v[1], &c.SDPMid}, {v[3], &c.UsernameFragment}} {
		if p.raw == nil {
			continue
		}
		var t string
		if !edge.StringField(p.raw, &t) {
			return nil, false, false
		}
		*p.dst = &t
	}
	if v[2] != nil {
		n, ok := parseUint16(v[2])
		if !ok {
			return nil, false, false
		}
		c.SDPMLineIndex = &n
	}
	if !s.filterCandidate(&c) {
		return nil, false, true
	}
	// As edge.Marshal(signalData{Candidate: edge.Marshal(c)}) writes it.
	f = s.appendHead(make([]byte, 0, len(raw)+128), "signal")
	f = append(f, `{"candidate":{"candidate":`...)
	f = edge.AppendQuoted(f, c.Candidate)
	if c.SDPMid != nil {
		f = append(f, `,"sdpMid":`...)
		f = edge.AppendQuoted(f, *c.SDPMid)
	}
	if c.SDPMLineIndex != nil {
		f = append(f, `,"sdpMLineIndex":`...)
		f = strconv.AppendUint(f, uint64(*c.SDPMLineIndex), 10)
	}
	if c.UsernameFragment != nil {
		f = append(f, `,"usernameFragment":`...)
		f = edge.AppendQuoted(f, *c.UsernameFragment)
	}
	return append(f, "}}}"...), true, true
}

// parseUint16 reads a JSON number that encoding/json decodes into a
// uint16 as the same digits: decimal digits only, at most 65535.
func parseUint16(raw []byte) (uint16, bool) {
	if len(raw) == 0 || len(raw) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 || (raw[0] == '0' && len(raw) > 1) {
		return 0, false
	}
	return uint16(n), true
}

// filterCandidate applies the relay filter to one trickle candidate.
func (s *session) filterCandidate(c *edge.Candidate) bool {
	return s.srv.FilterCandidate(c, s.ForceRelay)
}

func (s *session) debug(m *in) error {
	to, err := s.route(m.To)
	if err != nil {
		return err
	}
	var v any
	if err := edge.UnmarshalAny(m.Data, &v); err != nil {
		return edge.NewError(hub.CodeBadMessage, "debug data must be a JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return edge.NewError(hub.CodeBadMessage, "debug data must be a JSON object")
	}
	var clean any = obj
	if s.StripSysinfo {
		clean = privacy.SanitizeStats(obj)
		if clean == nil {
			clean = map[string]any{}
		}
	}
	if s.ForceRelay {
		// With sysinfo=pass nothing else removes relatedAddress, ip and
		// the like: under forced relay every address goes, as in the
		// VDO.Ninja dialect's app data.
		clean = privacy.ScrubAddressesDeep(clean)
	}
	data, err := edge.Marshal(clean)
	if err != nil {
		return edge.NewError(hub.CodeBadMessage, "debug data cannot be encoded")
	}
	return s.deliver(to, "debug", data)
}
