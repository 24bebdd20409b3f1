package signaling

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/veilrtc/veil/privacy"
)

// nativeNS is the hub namespace of the native protocol.
const nativeNS = "v1"

// ProtocolVersion is the native protocol's version, sent in welcome.
const ProtocolVersion = 1

// nativeIn is every field a native client message may carry. Unknown
// fields are dropped by construction: forwarded messages are rebuilt from
// these.
type nativeIn struct {
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
	SDP        *sessionDesc    `json:"sdp,omitempty"`
	Candidate  json.RawMessage `json:"candidate,omitempty"`
	Candidates []iceCandidate  `json:"candidates,omitempty"`
	Sealed     *string         `json:"sealed,omitempty"`
}

type sessionDesc struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type iceCandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
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
		Type    string `json:"type"`
		Code    Code   `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
		Rid     string `json:"rid,omitempty"`
	}
)

// nativeSession speaks protocol v1 on one connection. The hub calls Notify
// from any goroutine; handle runs on the connection's reader.
type nativeSession struct {
	srv  *Server
	c    *conn
	peer *Peer
	senderPolicy
	limiter *connLimiter
	ice     iceGate
	inLen   int // size of the message being handled; reader goroutine only
}

func newNativeSession(srv *Server, c *conn, r *http.Request) *nativeSession {
	asked := r.URL.Query().Get("relay") == "1"
	s := &nativeSession{
		srv:          srv,
		c:            c,
		senderPolicy: srv.senderPolicy(asked),
		limiter:      srv.newConnLimiter(),
	}
	s.peer = NewPeer(nativeNS, s)
	return s
}

func (s *nativeSession) welcome(r *http.Request) {
	policy := "all"
	if s.filter {
		policy = "relay"
	}
	ice := s.ice.welcomeICE(s.srv, r, s.peer.id)
	s.write(outWelcome{
		Type: "welcome", Version: ProtocolVersion, ID: s.peer.id,
		ICEServers: ice, ICETransportPolicy: policy, Policy: s.srv.cfg.Policy,
	})
}

// write encodes v and queues it. Encoding our own structs cannot fail.
func (s *nativeSession) write(v any) {
	b, err := marshal(v)
	if err != nil {
		s.srv.log.Error("encode native message", "err", err)
		return
	}
	s.c.send(b)
}

// Notify implements Client.
func (s *nativeSession) Notify(ev Event) {
	switch e := ev.(type) {
	case Frame:
		s.c.send(e)
	case EvJoined:
		peers := make([]outPeer, len(e.Peers))
		for i, m := range e.Peers {
			peers[i] = outPeer{ID: m.ID, Stream: m.Stream}
		}
		s.write(outJoined{Type: "joined", Room: e.Room, Peers: peers, Rid: e.Rid})
	case EvLeft:
		s.write(outRoomPeer{Type: "left", Room: e.Room, Rid: e.Rid})
	case EvPeerJoined:
		s.write(outPeerJoined{Type: "peer-joined", Room: e.Room, Peer: outPeer{ID: e.Peer.ID, Stream: e.Peer.Stream}})
	case EvPeerLeft:
		s.write(outRoomPeer{Type: "peer-left", Room: e.Room, Peer: e.Peer})
	case EvPublished:
		s.write(outRoomPeer{Type: "published", Stream: e.Stream, Rid: e.Rid})
	case EvUnpublished:
		s.write(outRoomPeer{Type: "unpublished", Stream: e.Stream, Rid: e.Rid})
	case EvStreamAdded:
		s.write(outRoomPeer{Type: "stream-added", Room: e.Room, Peer: e.Peer, Stream: e.Stream})
	case EvPlaying:
		s.write(outRoomPeer{Type: "playing", Stream: e.Stream, Peer: e.Peer, Rid: e.Rid})
	case EvWaiting:
		s.write(outRoomPeer{Type: "waiting", Stream: e.Stream, Rid: e.Rid})
	case EvViewer:
		s.write(outRoomPeer{Type: "viewer", Peer: e.Peer, Stream: e.Stream})
	case EvStreamEnded:
		s.write(outRoomPeer{Type: "stream-ended", Stream: e.Stream})
	}
}

// fail answers the client with an error and counts a strike; too many
// strikes in a short time close the connection with 1008.
func (s *nativeSession) fail(err error, ref, rid string) {
	code, msg := toWire(err)
	s.srv.metrics.errors(code)
	s.write(outError{Type: "error", Code: code, Message: msg, Ref: ref, Rid: rid})
	s.c.strike()
}

// refuse answers frames the connection layer rejected.
func (s *nativeSession) refuse(err error) {
	switch {
	case errors.Is(err, errTooLarge):
		s.fail(newError(CodeTooLarge, "message exceeds %d bytes", s.srv.cfg.MaxMessageBytes), "", "")
	default:
		s.fail(newError(CodeBadMessage, "only JSON text frames are accepted"), "", "")
	}
}

// handle decodes one client message and acts on it.
func (s *nativeSession) handle(b []byte) {
	if !utf8.Valid(b) {
		s.fail(newError(CodeBadJSON, "message is not valid UTF-8"), "", "")
		return
	}
	var m nativeIn
	if err := json.Unmarshal(b, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			rid := m.Rid
			if len(rid) > maxRidLen {
				rid = ""
			}
			s.fail(newError(CodeBadMessage, "field %q has the wrong type", te.Field), m.Type, rid)
			return
		}
		s.fail(newError(CodeBadJSON, "message is not a JSON object"), "", "")
		return
	}
	if len(m.Rid) > maxRidLen {
		s.fail(newError(CodeBadMessage, "rid is longer than %d characters", maxRidLen), m.Type, "")
		return
	}
	s.srv.metrics.message(m.Type)
	s.inLen = len(b)
	if !s.limiter.allowMessage(len(b)) {
		s.srv.metrics.rateLimited("messages")
		s.fail(ErrRateLimited, m.Type, m.Rid)
		return
	}
	if err := s.dispatch(&m); err != nil {
		s.fail(err, m.Type, m.Rid)
	}
}

func (s *nativeSession) dispatch(m *nativeIn) error {
	h := s.srv.hub
	switch m.Type {
	case "join":
		if err := s.checkAction(m.Room, m.Token, ActionJoin); err != nil {
			return err
		}
		return h.Join(s.peer, m.Room, m.Rid)
	case "leave":
		if err := s.srv.checkName(m.Room); err != nil {
			return err
		}
		return h.Leave(s.peer, m.Room, m.Rid)
	case "publish":
		if err := s.checkAction(m.Stream, m.Token, ActionPublish); err != nil {
			return err
		}
		return h.Publish(s.peer, m.Stream, m.Rid)
	case "unpublish":
		if err := s.srv.checkName(m.Stream); err != nil {
			return err
		}
		return h.Unpublish(s.peer, m.Stream, m.Rid)
	case "play":
		if err := s.checkAction(m.Stream, m.Token, ActionPlay); err != nil {
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
		return newError(CodeBadMessage, "message has no type")
	default:
		return newError(CodeUnknownType, "unknown message type")
	}
}

// checkAction validates a join, publish or play (see Server.checkAction).
// The first authorized action releases the ICE servers welcome held back
// (doors.go), before its own answer.
func (s *nativeSession) checkAction(name, token string, a Action) error {
	if err := s.srv.checkAction(s.limiter, name, token, a); err != nil {
		return err
	}
	if ice := s.ice.release(s.srv, s.peer.id); len(ice) > 0 {
		s.write(outICEServers{Type: "ice-servers", ICEServers: ice})
	}
	return nil
}

func (s *nativeSession) route(to string) (*Peer, error) {
	if to == "" {
		return nil, newError(CodeBadMessage, "missing \"to\"")
	}
	return s.srv.hub.Route(s.peer, to)
}

func (s *nativeSession) signal(m *nativeIn) error {
	to, err := s.route(m.To)
	if err != nil {
		return err
	}
	data, forward, err := s.filterSignal(m.Data)
	if err != nil || !forward {
		return err
	}
	return s.deliver(to, "signal", data)
}

// deliver encodes {"type":typ,"from":me,"data":data} once and queues it
// for the recipient, unless it would outgrow the client's message by more
// than maxFrameGrowth.
//
// data must be compact JSON from marshal (filterSignal and debug make
// it so): it is spliced in as is, because json.Marshal would re-validate
// and re-compact a json.RawMessage field, a full extra scan of a ~4 KB
// offer. The bytes are the same as marshal(outSignal{...}) gives.
//
// For a relay-filtered sender the frame must pass the forced-relay check
// (leakFree); if it does not, nothing is queued and errAddressLeak is
// returned.
func (s *nativeSession) deliver(to *Peer, typ string, data []byte) error {
	from, err := json.Marshal(s.peer.id)
	if err != nil {
		return err
	}
	const shape = `{"type":"","from":,"data":}`
	b := make([]byte, 0, len(shape)+len(typ)+len(from)+len(data))
	b = append(b, `{"type":"`...)
	b = append(b, typ...) // "signal" or "debug": nothing to escape
	b = append(b, `","from":`...)
	b = append(b, from...)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	if err := checkGrowth(s.inLen, len(b)); err != nil {
		return err
	}
	if s.filter && !s.srv.leakFree(b) {
		return errAddressLeak
	}
	s.srv.metrics.relayed()
	to.Notify(Frame(b))
	return nil
}

// filterSignal validates a signal payload and applies the privacy policy.
// It returns the payload to forward, or forward=false when the filter left
// nothing worth sending (a trickle message with only non-relay candidates).
func (s *nativeSession) filterSignal(raw json.RawMessage) (out []byte, forward bool, err error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, newError(CodeBadMessage, "missing \"data\"")
	}
	var d signalData
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, false, newError(CodeBadMessage, "data must be an object with sdp, candidate, candidates or sealed")
	}
	n := 0
	for _, set := range []bool{d.SDP != nil, d.Candidate != nil, d.Candidates != nil, d.Sealed != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, false, newError(CodeBadMessage, "data must hold exactly one of sdp, candidate, candidates, sealed")
	}
	switch {
	case d.SDP != nil:
		switch d.SDP.Type {
		case "offer", "answer", "pranswer":
			clean, err := s.srv.scrubSDP(d.SDP.SDP, s.filter, s.strip)
			if err != nil {
				return nil, false, newError(CodeBadMessage, "sdp is not a session description")
			}
			d.SDP.SDP = clean
		case "rollback":
			d.SDP.SDP = ""
		default:
			return nil, false, newError(CodeBadMessage, "sdp.type must be offer, answer, pranswer or rollback")
		}
	case d.Candidate != nil:
		if bytes.Equal(d.Candidate, []byte("null")) {
			break // end of candidates
		}
		var c iceCandidate
		if err := json.Unmarshal(d.Candidate, &c); err != nil {
			return nil, false, newError(CodeBadMessage, "candidate must be an object or null")
		}
		keep := s.filterCandidate(&c)
		if !keep {
			return nil, false, nil
		}
		d.Candidate, _ = marshal(c)
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
			return nil, false, newError(CodeBadMessage, "sealed must be unpadded base64url")
		}
		if !s.sealedOK {
			return nil, false, ErrSealedDenied
		}
	}
	out, err = marshal(d)
	return out, err == nil, err
}

// filterCandidate applies the relay filter to one trickle candidate.
func (s *nativeSession) filterCandidate(c *iceCandidate) bool {
	return s.srv.filterCandidate(c, s.filter)
}

func (s *nativeSession) debug(m *nativeIn) error {
	to, err := s.route(m.To)
	if err != nil {
		return err
	}
	var v any
	if err := unmarshalAny(m.Data, &v); err != nil {
		return newError(CodeBadMessage, "debug data must be a JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return newError(CodeBadMessage, "debug data must be a JSON object")
	}
	var clean any = obj
	if s.strip {
		clean = privacy.SanitizeStats(obj)
		if clean == nil {
			clean = map[string]any{}
		}
	}
	if s.filter {
		// With sysinfo=pass nothing else removes relatedAddress, ip and
		// the like: under forced relay every address goes, as in the
		// VDO.Ninja dialect's app data.
		clean = privacy.ScrubAddressesDeep(clean)
	}
	data, err := marshal(clean)
	if err != nil {
		return newError(CodeBadMessage, "debug data cannot be encoded")
	}
	return s.deliver(to, "debug", data)
}
