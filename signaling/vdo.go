package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/veilrtc/veil/privacy"

	"github.com/veilrtc/veil/signaling/hub"

	"github.com/veilrtc/veil/signaling/auth"
)

// The VDO.Ninja dialect: the handshake protocol of VDO.Ninja's apps and of
// its SDK (vdoninja-sdk.js), which take the server as a full ws(s):// URL
// (the "wss" URL parameter, the SDK's "host" option). JSON text frames; a
// message with "request" asks the server for something, a message without
// one is direct: "UUID" names the peer it is for.
//
// Client -> server:
//
//	{"request":"seed","streamID":S}            publish S (one stream per socket)
//	{"request":"play","streamID":S}            view S, now or when it is seeded
//	{"request":"joinroom","roomid":R,"claim"?:true}
//	{"request":"migrate","roomid":R,"target":UUID}   director only
//	{"request":"ping"}                          -> {"request":"pong"}
//	{"request":"leave"} or {"leave":true}       leave the room
//	{"request":"bye"|"hangup"} or {"bye"|"hangup":true} without UUID:
//	                                            leave, unseed, stop every play
//	{"UUID":U, description|candidate|candidates|..., session, streamID, type, vector}
//
// Server -> client:
//
//	{"request":"offerSDP","UUID":VIEWER}        to a publisher: send VIEWER an offer
//	{"request":"listing","list":[{"UUID":..,"streamID"?:..}],"director"?:UUID,"claim"?:bool}
//	{"request":"transferred","list":[...],"director"?:UUID}
//	{"request":"someonejoined","UUID":..,"streamID"?:..,"director"?:true}
//	{"request":"videoaddedtoroom","UUID":..,"streamID":S}
//	{"request":"alert","message":..}
//	{"request":"error","code":C,"message":..}   C: STREAMID_IN_USE or a veil code
//	direct messages, with "UUID" rewritten to the sender's
//
// Room IDs and stream IDs arrive hashed by the client; veil still treats
// them as secrets and never logs them.

// vdoNS is the hub namespace of the VDO.Ninja dialect: its rooms and
// streams never meet the native protocol's.
const vdoNS = "vdo"

// Defaults of VDOConfig.
const (
	DefaultVDOPath     = "/vdo"
	DefaultVDOMaxPlays = 16 // streams one socket plays or waits for
	// maxVDOSession bounds the "session" tag of direct messages (the SDK
	// uses 8 characters).
	maxVDOSession = 64
	// maxVDOFlag bounds a string carried by a control flag (approved,
	// rejected, ...).
	maxVDOFlag = 256
)

// codeStreamIDInUse is the dialect's own code for a taken stream ID (the SDK
// and VDO.Ninja know it); every other error carries a veil Code.
const codeStreamIDInUse Code = "STREAMID_IN_USE"

// Alert texts the SDK and the VDO.Ninja app match on (exactly).
const (
	alertStreamInUse = "Stream ID is already in use."
	alertClaimTaken  = "Room is already claimed by someone else."
)

// VDOConfig configures the VDO.Ninja dialect. A zero field means its default.
type VDOConfig struct {
	// Path is where the dialect's WebSocket is served. Default
	// DefaultVDOPath ("/vdo"). Must start with "/" and hold only URL path
	// characters (letters, digits, "/", "-", "_", ".", "~").
	Path string
	// Disabled turns the dialect off. Default: served.
	Disabled bool
	// MaxPlays bounds the streams one socket plays or waits for at once,
	// so pending plays cannot grow without bound. Default DefaultVDOMaxPlays.
	MaxPlays int
	// FanoutPath is where the fan-out dialect (VDO.Ninja's &wss= and
	// self-host websocket_server, vdofanout.go) is served; Disabled turns it
	// off too. Default DefaultVDOFanoutPath ("/vdo-fanout"); same character
	// rules as Path, and distinct from it.
	FanoutPath string
}

func (c VDOConfig) withDefaults() VDOConfig {
	if c.Path == "" {
		c.Path = DefaultVDOPath
	}
	if c.MaxPlays == 0 {
		c.MaxPlays = DefaultVDOMaxPlays
	}
	if c.FanoutPath == "" {
		c.FanoutPath = DefaultVDOFanoutPath
	}
	return c
}

// validate checks a VDOConfig after withDefaults.
func (c VDOConfig) validate() error {
	if c.Disabled {
		return nil
	}
	if c.MaxPlays < 0 {
		return fmt.Errorf("%w: VDO.MaxPlays must not be negative", errInvalidConfig)
	}
	if len(c.Path) < 2 || c.Path[0] != '/' {
		return fmt.Errorf("%w: VDO.Path must start with / and name a path", errInvalidConfig)
	}
	for _, r := range c.Path {
		ok := r == '/' || r == '-' || r == '_' || r == '.' || r == '~' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !ok {
			return fmt.Errorf("%w: VDO.Path holds a character that is not a URL path character", errInvalidConfig)
		}
	}
	switch c.Path {
	case "/ws", "/healthz", "/privacy":
		return fmt.Errorf("%w: VDO.Path collides with a veil endpoint", errInvalidConfig)
	}
	return c.validateFanout()
}

// mountVDO registers the VDO.Ninja endpoint on s.mux. New has refused an
// invalid VDOConfig already (Config.validate).
func (s *Server) mountVDO() {
	cfg := s.cfg.VDO.withDefaults() // validated by Config.validate
	if cfg.Disabled {
		return
	}
	s.cfg.VDO = cfg
	s.mux.HandleFunc("GET "+cfg.Path, s.serveVDO)
	s.mux.HandleFunc("GET "+cfg.FanoutPath, s.serveVDOFanout)
}

// serveVDO runs one VDO.Ninja dialect connection.
func (s *Server) serveVDO(w http.ResponseWriter, r *http.Request) {
	s.serveConn(w, r, vdoNS, func(c *conn) session {
		sess := newVDOSession(s, c, r)
		if err := s.hub.Register(sess.peer); err != nil {
			c.close(closeTryAgainLater, "try again")
			c.finish()
			return nil
		}
		// The dialect has no greeting: the server assigns the UUID and
		// rewrites it into every direct message, so a client never needs
		// to know its own.
		return sess
	})
}

// vdoIn is every field a VDO.Ninja client message may carry that veil
// reads. Forwarded messages are rebuilt from these; anything else is dropped.
type vdoIn struct {
	Request string  `json:"request"`
	UUID    string  `json:"UUID"`
	Stream  *string `json:"streamID"`
	Room    string  `json:"roomid"`
	Claim   bool    `json:"claim"`
	Target  string  `json:"target"`
	Token   string  `json:"token"`
	Auth    string  `json:"auth"` // the app's &auth=: a token for the connection
	From    *string `json:"from"` // set only by fan-out dialect clients

	Description json.RawMessage `json:"description"`
	Candidate   json.RawMessage `json:"candidate"`
	Candidates  json.RawMessage `json:"candidates"`
	Vector      *string         `json:"vector"`
	Session     *string         `json:"session"`
	Type        *string         `json:"type"`
	Info        json.RawMessage `json:"info"`
	Pipe        json.RawMessage `json:"pipe"`
	Fallback    json.RawMessage `json:"__fallback"`
	ICERestart  json.RawMessage `json:"iceRestartRequest"`
	Bye         json.RawMessage `json:"bye"`
	Hangup      json.RawMessage `json:"hangup"`
	Leave       json.RawMessage `json:"leave"`
	Approved    json.RawMessage `json:"approved"`
	Rejected    json.RawMessage `json:"rejected"`
}

// vdoDirect is a direct message as delivered: UUID is the sender's.
type vdoDirect struct {
	UUID        string          `json:"UUID"`
	Description json.RawMessage `json:"description,omitempty"`
	Candidate   json.RawMessage `json:"candidate,omitempty"`
	Candidates  json.RawMessage `json:"candidates,omitempty"`
	Vector      string          `json:"vector,omitempty"`
	Session     *string         `json:"session,omitempty"`
	StreamID    *string         `json:"streamID,omitempty"`
	Type        *string         `json:"type,omitempty"`
	Info        json.RawMessage `json:"info,omitempty"`
	Pipe        json.RawMessage `json:"pipe,omitempty"`
	Fallback    json.RawMessage `json:"__fallback,omitempty"`
	ICERestart  json.RawMessage `json:"iceRestartRequest,omitempty"`
	Bye         json.RawMessage `json:"bye,omitempty"`
	Hangup      json.RawMessage `json:"hangup,omitempty"`
	Approved    json.RawMessage `json:"approved,omitempty"`
	Rejected    json.RawMessage `json:"rejected,omitempty"`
}

// Outgoing requests.
type (
	vdoMember struct {
		UUID   string `json:"UUID"`
		Stream string `json:"streamID,omitempty"`
	}
	vdoListing struct {
		Request  string      `json:"request"`
		List     []vdoMember `json:"list"`
		Director string      `json:"director,omitempty"`
		Claim    *bool       `json:"claim,omitempty"`
	}
	vdoPeerEvent struct {
		Request  string `json:"request"`
		UUID     string `json:"UUID"`
		Stream   string `json:"streamID,omitempty"`
		Director bool   `json:"director,omitempty"`
	}
	vdoNotice struct {
		Request string `json:"request"`
		Code    Code   `json:"code,omitempty"`
		Message string `json:"message,omitempty"`
	}
)

// vdoSession speaks the VDO.Ninja dialect on one connection. The hub calls
// Notify from any goroutine; handle and the fields below limiter run on the
// connection's reader only.
type vdoSession struct {
	srv  *Server
	c    *conn
	peer *hub.Peer
	senderPolicy
	maxPlays int
	limiter  *connLimiter
	urlToken string // the connection URL's operator token, if any
	inLen    int    // size of the message being handled

	stream  string              // the stream this socket seeds, if any
	plays   map[string]struct{} // streams this socket plays or awaits
	alerted vdoAlerted          // refusals already shown (vdoalert.go)
	// peerSealed is set once this socket was told that a peer's sealed
	// message to it was refused (any goroutine; vdoalert.go).
	peerSealed atomic.Bool
}

func newVDOSession(srv *Server, c *conn, r *http.Request) *vdoSession {
	// A client may ask for relay filtering by adding relay=1 to the URL it
	// is given (the SDK's host is a full URL), as on the native protocol.
	asked := r.URL.Query().Get("relay") == "1"
	s := &vdoSession{
		srv:          srv,
		c:            c,
		senderPolicy: srv.senderPolicy(asked),
		maxPlays:     srv.cfg.VDO.withDefaults().MaxPlays,
		limiter:      srv.newConnLimiter(),
		plays:        make(map[string]struct{}),
		urlToken:     requestToken(r),
	}
	// The UUID is NewPeer's id: 144 random bits, URL-safe base64. VDO.Ninja
	// servers hand out RFC 4122 v4 UUIDs (122 random bits); the SDK treats
	// the UUID as an opaque string, and veil requires at least 128 bits.
	s.peer = hub.NewPeer(vdoNS, s)
	return s
}

// write encodes v and queues it. Encoding our own structs cannot fail.
func (s *vdoSession) write(v any) {
	b, err := marshal(v)
	if err != nil {
		s.srv.log.Error("encode VDO.Ninja message", "err", err)
		return
	}
	s.c.send(b)
}

func (s *vdoSession) alert(msg string) { s.write(vdoNotice{Request: "alert", Message: msg}) }

// Notify implements Client.
func (s *vdoSession) Notify(ev hub.Event) {
	switch e := ev.(type) {
	case hub.Frame:
		s.c.send(e)
	case hub.EvJoined:
		out := vdoListing{Request: "listing", List: make([]vdoMember, len(e.Peers)), Director: e.Director}
		for i, m := range e.Peers {
			out.List[i] = vdoMember{UUID: m.ID, Stream: m.Stream}
		}
		if e.Transferred {
			out.Request = "transferred"
		}
		if e.ClaimAsked {
			claimed := e.Claimed
			out.Claim = &claimed
		}
		s.write(out)
		if e.ClaimAsked && !e.Claimed {
			s.alert(alertClaimTaken)
		}
	case hub.EvPeerJoined:
		s.write(vdoPeerEvent{Request: "someonejoined", UUID: e.Peer.ID, Stream: e.Peer.Stream, Director: e.Director})
	case hub.EvStreamAdded:
		s.write(vdoPeerEvent{Request: "videoaddedtoroom", UUID: e.Peer, Stream: e.Stream})
	case hub.EvViewer:
		// The publisher offers; the viewer learns of it from the offer.
		s.write(vdoPeerEvent{Request: "offerSDP", UUID: e.Peer})
	}
	// Departures, stream ends, waiting plays and acknowledgements have no
	// message in this dialect: peers learn them from their connections.
}

// fail answers the client with an error and counts a strike; too many
// strikes in a short time close the connection with 1008.
func (s *vdoSession) fail(err error) {
	code, msg := toWire(err)
	s.srv.metrics.errors(code)
	s.write(vdoNotice{Request: "error", Code: code, Message: msg})
	if a := s.alertFor(err, false); a != "" {
		s.alert(a) // what the app shows its user (vdoalert.go)
	}
	s.c.strike()
}

// closed leaves the hub.
func (s *vdoSession) closed() { s.srv.hub.Unregister(s.peer) }

// refuse answers frames the connection layer rejected.
func (s *vdoSession) refuse(err error) {
	if errors.Is(err, errTooLarge) {
		s.fail(newError(CodeTooLarge, "message exceeds %d bytes", s.srv.cfg.MaxMessageBytes))
		return
	}
	s.fail(newError(CodeBadMessage, "only JSON text frames are accepted"))
}

// handle decodes one client message and acts on it.
func (s *vdoSession) handle(b []byte) {
	var m vdoIn
	if _, err := decodeMessage(b, &m); err != nil {
		s.fail(err)
		return
	}
	if m.From != nil {
		s.wrongDialect() // a &wss= (fan-out) client on this path
	}
	typ := m.Request
	if typ == "" {
		typ = "direct"
	}
	if err := s.srv.admitMessage(s.limiter, &s.inLen, typ, len(b)); err != nil {
		s.fail(err)
		return
	}
	if err := s.dispatch(&m); err != nil {
		s.fail(err)
	}
}

func (s *vdoSession) dispatch(m *vdoIn) error {
	switch m.Request {
	case "seed":
		return s.seed(m)
	case "play":
		return s.play(m)
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
		switch {
		case truthy(m.Bye) || truthy(m.Hangup):
			s.hangup()
			return nil
		case truthy(m.Leave):
			s.leaveRooms()
			return nil
		case m.Auth != "":
			s.setAuth(m.Auth) // vdoalert.go
			return nil
		}
		return newError(CodeBadMessage, "message has neither request nor UUID")
	default:
		return newError(CodeUnknownType, "unknown request")
	}
}

// truthy reports whether a flag is set the way JavaScript would see it.
func truthy(raw json.RawMessage) bool {
	switch string(raw) {
	case "", "null", "false", "0", `""`:
		return false
	}
	return true
}

// checkAction validates a seed, play, joinroom or migrate (see
// Server.checkAction).
// A message without a token uses the connection URL's (doors.go): the
// VDO.Ninja SDK cannot add fields to its requests, but its host URL can
// carry ?token=.
func (s *vdoSession) checkAction(name, token string, a auth.Action) error {
	if token == "" {
		token = s.urlToken
	}
	return s.srv.checkAction(s.limiter, name, token, a)
}

func streamArg(m *vdoIn) (string, error) {
	if m.Stream == nil {
		return "", newError(CodeBadMessage, "missing streamID")
	}
	return *m.Stream, nil
}

func (s *vdoSession) seed(m *vdoIn) error {
	sid, err := streamArg(m)
	if err != nil {
		return err
	}
	if err := s.checkAction(sid, m.Token, auth.ActionPublish); err != nil {
		return err
	}
	if s.stream != "" && s.stream != sid {
		return newError(CodeBadMessage, "stream ID cannot change on an existing connection")
	}
	if _, playing := s.plays[sid]; playing {
		return newError(CodeBadMessage, "cannot seed a stream this connection plays")
	}
	if err := s.srv.hub.Publish(s.peer, sid, ""); err != nil {
		if errors.Is(err, ErrStreamInUse) || errors.Is(err, hub.ErrOwnStream) {
			return &Error{Code: codeStreamIDInUse, Message: "stream ID is already in use"}
		}
		return err
	}
	s.stream = sid
	return nil
}

func (s *vdoSession) play(m *vdoIn) error {
	sid, err := streamArg(m)
	if err != nil {
		return err
	}
	if err := s.checkAction(sid, m.Token, auth.ActionPlay); err != nil {
		return err
	}
	if sid == s.stream {
		return newError(CodeBadMessage, "cannot play the stream this connection seeds")
	}
	if _, again := s.plays[sid]; !again && len(s.plays) >= s.maxPlays {
		s.srv.metrics.rateLimited("vdo-plays")
		return newError(CodeRateLimited, "too many streams played on one connection")
	}
	if err := s.srv.hub.Play(s.peer, sid, ""); err != nil {
		return err
	}
	s.plays[sid] = struct{}{}
	return nil
}

// roomKey normalises a room ID the way VDO.Ninja's servers do.
func roomKey(r string) string { return strings.ToLower(r) }

func (s *vdoSession) joinRoom(m *vdoIn) error {
	room := roomKey(m.Room)
	if err := s.checkAction(room, m.Token, auth.ActionJoin); err != nil {
		return err
	}
	// One room per socket, as in VDO.Ninja; joining the same room again
	// answers with a fresh listing (a migrated client re-joins its new room).
	for _, r := range s.peer.RoomNames() {
		if r != room {
			return newError(CodeTooManyRooms, "already in a room; leave it first")
		}
	}
	return s.srv.hub.JoinClaim(s.peer, room, "", m.Claim)
}

func (s *vdoSession) migrate(m *vdoIn) error {
	room := roomKey(m.Room)
	if m.Target == "" {
		return newError(CodeBadMessage, "missing target")
	}
	if err := s.checkAction(room, m.Token, auth.ActionJoin); err != nil {
		return err
	}
	return s.srv.hub.Migrate(s.peer, m.Target, room)
}

func (s *vdoSession) leaveRooms() {
	for _, r := range s.peer.RoomNames() {
		_ = s.srv.hub.Leave(s.peer, r, "") // only fails when already gone
	}
}

// hangup ends every membership the socket holds; the socket stays open.
func (s *vdoSession) hangup() {
	s.leaveRooms()
	if s.stream != "" {
		_ = s.srv.hub.Unpublish(s.peer, s.stream, "")
		s.stream = ""
	}
	for sid := range s.plays {
		s.srv.hub.StopPlay(s.peer, sid)
	}
	clear(s.plays)
}

// direct routes a message without request to the peer its UUID names.
func (s *vdoSession) direct(m *vdoIn) error {
	to, err := s.srv.hub.Route(s.peer, m.UUID)
	if err != nil {
		return err
	}
	out, forward, err := s.filterDirect(m)
	if err != nil || !forward {
		alertAddressee(to, err)
		return err
	}
	out.UUID = s.peer.ID()
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

func present(raw json.RawMessage) bool { return len(raw) > 0 && !bytes.Equal(raw, []byte("null")) }

// isHex reports whether v is a non-empty hex string: the SDK's ciphertexts
// and vectors are hex, and nothing else is accepted in their place.
func isHex(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// filterDirect validates a direct message and applies the privacy policy.
// It returns the message to forward, or forward=false when the filter left
// nothing worth sending (a bundle of only non-relay candidates).
//
// Plain descriptions and candidates go through the same filter as native
// signals. Encrypted ones (a hex string plus "vector": the SDK's password
// mode) are sealed payloads: veil cannot read them, so they pass only when
// the policy allows sealed payloads for this sender. info, pipe and the
// control flags are application data veil can read: system information is
// stripped (sysinfo=strip) and IP literals scrubbed (strip, or forced relay).
func (s *vdoSession) filterDirect(m *vdoIn) (out vdoDirect, forward bool, err error) {
	var (
		payloads int // payload fields the sender set
		kept     int // payload fields left after filtering
		sealed   bool
	)
	sealedText := func(raw json.RawMessage, field string) (json.RawMessage, error) {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || !isHex(v) {
			return nil, newError(CodeBadMessage, "encrypted %s must be a hex string", field)
		}
		sealed = true
		return raw, nil
	}

	if present(m.Description) {
		payloads++
		switch m.Description[0] {
		case '"':
			out.Description, err = sealedText(m.Description, "description")
		case '{':
			out.Description, err = s.filterDescription(m.Description)
		default:
			err = newError(CodeBadMessage, "description must be an object or an encrypted string")
		}
		if err != nil {
			return out, false, err
		}
	}
	if present(m.Candidate) {
		payloads++
		switch m.Candidate[0] {
		case '"':
			out.Candidate, err = sealedText(m.Candidate, "candidate")
		case '{':
			var c iceCandidate
			if json.Unmarshal(m.Candidate, &c) != nil {
				return out, false, newError(CodeBadMessage, "candidate must be an RTCIceCandidate object")
			}
			if s.filterCandidate(&c) {
				out.Candidate, err = marshal(c)
			}
		default:
			err = newError(CodeBadMessage, "candidate must be an object or an encrypted string")
		}
		if err != nil {
			return out, false, err
		}
	}
	if present(m.Candidates) {
		payloads++
		switch m.Candidates[0] {
		case '"':
			out.Candidates, err = sealedText(m.Candidates, "candidates")
		case '[':
			var cs []iceCandidate
			if json.Unmarshal(m.Candidates, &cs) != nil {
				return out, false, newError(CodeBadMessage, "candidates must be an array of RTCIceCandidate objects")
			}
			kept := cs[:0]
			for i := range cs {
				if s.filterCandidate(&cs[i]) {
					kept = append(kept, cs[i])
				}
			}
			if len(kept) > 0 {
				out.Candidates, err = marshal(kept)
			}
		default:
			err = newError(CodeBadMessage, "candidates must be an array or an encrypted string")
		}
		if err != nil {
			return out, false, err
		}
	}
	if sealed {
		if !s.sealedOK {
			return out, false, newError(CodeSealedDenied,
				"encrypted signaling is refused while relay is forced: connect with password:false, or ask the operator to allow sealed payloads")
		}
		if m.Vector == nil || !isHex(*m.Vector) {
			return out, false, newError(CodeBadMessage, "an encrypted payload needs a hex vector")
		}
		out.Vector = *m.Vector
	}

	if present(m.Info) {
		payloads++
		if out.Info, err = s.appData(m.Info, "info", true); err != nil {
			return out, false, err
		}
	}
	if present(m.Pipe) {
		payloads++
		if out.Pipe, err = s.appData(m.Pipe, "pipe", false); err != nil {
			return out, false, err
		}
		if present(m.Fallback) {
			if out.Fallback, err = flag(m.Fallback, "__fallback"); err != nil {
				return out, false, err
			}
		}
	}
	for _, f := range []struct {
		in   json.RawMessage
		out  *json.RawMessage
		name string
	}{
		{m.ICERestart, &out.ICERestart, "iceRestartRequest"},
		{m.Bye, &out.Bye, "bye"},
		{m.Hangup, &out.Hangup, "hangup"},
		{m.Approved, &out.Approved, "approved"},
		{m.Rejected, &out.Rejected, "rejected"},
	} {
		if !present(f.in) {
			continue
		}
		payloads++
		if *f.out, err = flag(f.in, f.name); err != nil {
			return out, false, err
		}
		if s.forceRelay || s.stripSysinfo {
			*f.out = scrubFlag(*f.out)
		}
	}
	if payloads == 0 {
		return out, false, newError(CodeBadMessage, "direct message has nothing to deliver")
	}
	for _, f := range []json.RawMessage{out.Description, out.Candidate, out.Candidates, out.Info, out.Pipe,
		out.ICERestart, out.Bye, out.Hangup, out.Approved, out.Rejected} {
		if len(f) > 0 {
			kept++
		}
	}
	if kept == 0 {
		return out, false, nil
	}

	if m.Session != nil {
		if !validName(*m.Session, maxVDOSession) {
			return out, false, newError(CodeBadMessage, "session must be 1-%d printable characters", maxVDOSession)
		}
		out.Session = m.Session
	}
	if m.Stream != nil {
		if err := s.srv.checkName(*m.Stream); err != nil {
			return out, false, err
		}
		out.StreamID = m.Stream
	}
	if s.forceRelay {
		// Tags the receiving app matches on; a good client never puts an
		// address in them, and under forced relay none rides along.
		out.Session = scrubText(out.Session)
		out.StreamID = scrubText(out.StreamID)
	}
	if m.Type != nil {
		if *m.Type != "local" && *m.Type != "remote" {
			return out, false, newError(CodeBadMessage, `type must be "local" or "remote"`)
		}
		out.Type = m.Type
	}
	return out, true, nil
}

// filterDescription scrubs a plain {type,sdp} description.
func (s *vdoSession) filterDescription(raw json.RawMessage) (json.RawMessage, error) {
	var d sessionDesc
	if json.Unmarshal(raw, &d) != nil {
		return nil, newError(CodeBadMessage, "description must be {type, sdp}")
	}
	switch d.Type {
	case "offer", "answer", "pranswer":
		clean, err := s.srv.scrubSDP(d.SDP, s.forceRelay, s.stripSysinfo)
		if err != nil {
			return nil, newError(CodeBadMessage, "description.sdp is not a session description")
		}
		d.SDP = clean
	case "rollback":
		d.SDP = ""
	default:
		return nil, newError(CodeBadMessage, "description.type must be offer, answer, pranswer or rollback")
	}
	return marshal(d)
}

// filterCandidate applies the relay filter to one candidate.
func (s *vdoSession) filterCandidate(c *iceCandidate) bool {
	return s.srv.filterCandidate(c, s.forceRelay)
}

// appData cleans application data veil can read (info objects, pipe data):
// system information is stripped under sysinfo=strip (which scrubs IP
// literals too); under forced relay IP literals and .local names are
// scrubbed (privacy.ScrubAddressesDeep).
func (s *vdoSession) appData(raw json.RawMessage, field string, object bool) (json.RawMessage, error) {
	var v any
	if err := unmarshalAny(raw, &v); err != nil {
		return nil, newError(CodeBadMessage, "%s is not valid JSON", field)
	}
	if _, ok := v.(map[string]any); object && !ok {
		return nil, newError(CodeBadMessage, "%s must be an object", field)
	}
	if !s.stripSysinfo && !s.forceRelay {
		return raw, nil
	}
	if s.stripSysinfo {
		v = privacy.StripSysinfo(v)
	}
	if s.forceRelay {
		v = privacy.ScrubAddressesDeep(v)
	}
	b, err := marshal(v)
	if err != nil {
		return nil, newError(CodeBadMessage, "%s cannot be encoded", field)
	}
	return b, nil
}

// flag accepts a control flag: a boolean, a number or a short string.
func flag(raw json.RawMessage, name string) (json.RawMessage, error) {
	var v any
	if json.Unmarshal(raw, &v) == nil {
		switch x := v.(type) {
		case bool, float64:
			return raw, nil
		case string:
			if len(x) <= maxVDOFlag {
				return raw, nil
			}
		}
	}
	return nil, newError(CodeBadMessage, "%s must be a boolean, a number or a string of at most %d bytes", name, maxVDOFlag)
}

// scrubFlag scrubs IP literals and .local names out of a string flag.
func scrubFlag(raw json.RawMessage) json.RawMessage {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return raw
	}
	b, _ := marshal(privacy.ScrubAddresses(s))
	return b
}
