package vdo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Namespace is the hub namespace of the VDO.Ninja dialect: its rooms and
// streams never meet the native protocol's.
const Namespace = "vdo"

// Defaults of Config.
const (
	DefaultPath     = "/vdo"
	DefaultMaxPlays = 16 // streams one socket plays or waits for
	// maxSession bounds the "session" tag of direct messages (the SDK
	// uses 8 characters).
	maxSession = 64
	// maxFlag bounds a string carried by a control flag (approved,
	// rejected, ...).
	maxFlag = 256
)

// codeStreamIDInUse is the dialect's own code for a taken stream ID (the SDK
// and VDO.Ninja know it); every other error carries a veil Code.
const codeStreamIDInUse hub.Code = "STREAMID_IN_USE"

// Alert texts the SDK and the VDO.Ninja app match on (exactly).
const (
	alertStreamInUse = "Stream ID is already in use."
	alertClaimTaken  = "Room is already claimed by someone else."
)

// Config configures the VDO.Ninja dialects (signaling.Config.VDO). A zero
// field means its default.
type Config struct {
	// Path is where the dialect's WebSocket is served. Default
	// DefaultPath ("/vdo"). Must start with "/" and hold only URL path
	// characters (letters, digits, "/", "-", "_", ".", "~").
	Path string
	// Disabled turns the dialect off. Default: served.
	Disabled bool
	// MaxPlays bounds the streams one socket plays or waits for at once,
	// so pending plays cannot grow without bound. Default DefaultMaxPlays.
	MaxPlays int
	// FanoutPath is where the fan-out dialect (VDO.Ninja's &wss= and
	// self-host websocket_server, fanout.go) is served; Disabled turns it
	// off too. Default DefaultFanoutPath ("/vdo-fanout"); same character
	// rules as Path, and distinct from it.
	FanoutPath string
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.MaxPlays == 0 {
		c.MaxPlays = DefaultMaxPlays
	}
	if c.FanoutPath == "" {
		c.FanoutPath = DefaultFanoutPath
	}
	return c
}

// Validate checks a Config after WithDefaults.
func (c Config) Validate() error {
	if c.Disabled {
		return nil
	}
	if c.MaxPlays < 0 {
		return fmt.Errorf("%w: VDO.MaxPlays must not be negative", edge.ErrInvalidConfig)
	}
	if err := checkPath(c.Path); err != nil {
		return fmt.Errorf("%w: VDO.Path %v", edge.ErrInvalidConfig, err)
	}
	if c.FanoutPath == c.Path {
		return fmt.Errorf("%w: VDO.FanoutPath must differ from VDO.Path", edge.ErrInvalidConfig)
	}
	if err := checkPath(c.FanoutPath); err != nil {
		return fmt.Errorf("%w: VDO.FanoutPath: %v", edge.ErrInvalidConfig, err)
	}
	return nil
}

// checkPath applies the rules of Path and FanoutPath: a URL path of plain
// characters that names no other veil endpoint.
func checkPath(p string) error {
	if len(p) < 2 || p[0] != '/' {
		return errors.New("must start with / and name a path")
	}
	for _, r := range p {
		ok := r == '/' || r == '-' || r == '_' || r == '.' || r == '~' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !ok {
			return errors.New("holds a character that is not a URL path character")
		}
	}
	switch p {
	case "/ws", "/healthz", "/privacy":
		return errors.New("collides with a veil endpoint")
	}
	return nil
}

// Dialect serves both VDO.Ninja dialects on one signaling server. Safe
// for concurrent use.
type Dialect struct {
	srv *edge.Server
	cfg Config
}

// New returns the VDO.Ninja dialects over srv for cfg, which went through
// WithDefaults and Validate.
func New(srv *edge.Server, cfg Config) *Dialect {
	// A fan-out director tells the member it moved by id (fanSession.migrate).
	srv.Hub.AllowByID(FanoutNamespace)
	srv.Hub.ChosenIDs(FanoutNamespace) // labels are the app's choice
	return &Dialect{srv: srv, cfg: cfg}
}

// Mount registers the official dialect at Path and the fan-out dialect
// at FanoutPath on mux.
func (d *Dialect) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+d.cfg.Path, d.serveOfficial)
	mux.HandleFunc("GET "+d.cfg.FanoutPath, d.serveFanout)
}

// serveOfficial runs one official dialect connection.
func (d *Dialect) serveOfficial(w http.ResponseWriter, r *http.Request) {
	d.srv.Serve(w, r, Namespace, func(c *edge.Conn) edge.Session {
		sess := newSession(d, c, r)
		if err := d.srv.Hub.Register(sess.peer); err != nil {
			c.Close(edge.CloseTryAgainLater, "try again")
			return nil
		}
		// The dialect has no greeting: the server assigns the UUID and
		// rewrites it into every direct message, so a client never needs
		// to know its own.
		return sess
	})
}

// in is every field a VDO.Ninja client message may carry that veil
// reads. Forwarded messages are rebuilt from these; anything else is dropped.
type in struct {
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

// directMsg is a direct message as delivered: UUID is the sender's.
type directMsg struct {
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
	member struct {
		UUID   string `json:"UUID"`
		Stream string `json:"streamID,omitempty"`
	}
	listing struct {
		Request  string   `json:"request"`
		List     []member `json:"list"`
		Director string   `json:"director,omitempty"`
		Claim    *bool    `json:"claim,omitempty"`
	}
	peerEvent struct {
		Request  string `json:"request"`
		UUID     string `json:"UUID"`
		Stream   string `json:"streamID,omitempty"`
		Director bool   `json:"director,omitempty"`
	}
	notice struct {
		Request string   `json:"request"`
		Code    hub.Code `json:"code,omitempty"`
		Message string   `json:"message,omitempty"`
	}
)

// session speaks the official dialect on one connection. The hub calls
// Notify from any goroutine; Handle and the fields below limiter run on the
// connection's reader only.
type session struct {
	srv  *edge.Server
	c    *edge.Conn
	peer *hub.Peer
	edge.SenderPolicy
	maxPlays int
	limiter  *edge.Limiter
	urlToken string // the connection URL's operator token, if any
	inLen    int    // size of the message being handled

	stream  string              // the stream this socket seeds, if any
	plays   map[string]struct{} // streams this socket plays or awaits
	alerted alertedSet          // refusals already shown (alert.go)
	// peerSealed is set once this socket was told that a peer's sealed
	// message to it was refused (any goroutine; alert.go).
	peerSealed atomic.Bool
}

func newSession(d *Dialect, c *edge.Conn, r *http.Request) *session {
	// A client may ask for relay filtering by adding relay=1 to the URL it
	// is given (the SDK's host is a full URL), as on the native protocol.
	asked := r.URL.Query().Get("relay") == "1"
	s := &session{
		srv:          d.srv,
		c:            c,
		SenderPolicy: d.srv.SenderPolicy(asked),
		maxPlays:     d.cfg.MaxPlays,
		limiter:      d.srv.NewLimiter(),
		plays:        make(map[string]struct{}),
		urlToken:     edge.RequestToken(r),
	}
	// The UUID is NewPeer's id: 144 random bits, URL-safe base64. VDO.Ninja
	// servers hand out RFC 4122 v4 UUIDs (122 random bits); the SDK treats
	// the UUID as an opaque string, and veil requires at least 128 bits.
	s.peer = hub.NewPeer(Namespace, s)
	return s
}

// write encodes v and queues it. Encoding our own structs cannot fail.
func (s *session) write(v any) {
	b, err := edge.Marshal(v)
	if err != nil {
		s.srv.Log.Error("encode VDO.Ninja message", "err", err)
		return
	}
	s.c.Send(b)
}

func (s *session) alert(msg string) { s.write(notice{Request: "alert", Message: msg}) }

// Notify implements Client.
func (s *session) Notify(ev hub.Event) {
	switch e := ev.(type) {
	case hub.Frame:
		s.c.Send(e)
	case hub.EvJoined:
		out := listing{Request: "listing", List: make([]member, len(e.Peers)), Director: e.Director}
		for i, m := range e.Peers {
			out.List[i] = member{UUID: m.ID, Stream: m.Stream}
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
		s.write(peerEvent{Request: "someonejoined", UUID: e.Peer.ID, Stream: e.Peer.Stream, Director: e.Director})
	case hub.EvStreamAdded:
		s.write(peerEvent{Request: "videoaddedtoroom", UUID: e.Peer, Stream: e.Stream})
	case hub.EvViewer:
		// The publisher offers; the viewer learns of it from the offer.
		s.write(peerEvent{Request: "offerSDP", UUID: e.Peer})
	case hub.EvDirectorLost:
		// No message of the dialect takes a role back: tell the user.
		s.alert(alertDirectorLost)
	}
	// Departures, stream ends, waiting plays and acknowledgements have no
	// message in this dialect: peers learn them from their connections.
}

// fail answers the client with an error and counts a strike; too many
// strikes in a short time close the connection with 1008.
func (s *session) fail(err error) {
	code, msg := edge.ToWire(err)
	s.srv.Metrics.Error(code)
	s.write(notice{Request: "error", Code: code, Message: msg})
	if a := s.alertFor(err, false); a != "" {
		s.alert(a) // what the app shows its user (alert.go)
	}
	s.c.Strike()
}

// Closed leaves the hub.
func (s *session) Closed() { s.srv.Hub.Unregister(s.peer) }

// Refuse answers frames the connection layer rejected.
func (s *session) Refuse(err error) {
	if errors.Is(err, edge.ErrTooLarge) {
		s.fail(edge.NewError(hub.CodeTooLarge, "message exceeds %d bytes", s.srv.Config.MaxMessageBytes))
		return
	}
	s.fail(edge.NewError(hub.CodeBadMessage, "only JSON text frames are accepted"))
}

// Handle decodes one client message and acts on it.
func (s *session) Handle(b []byte) {
	var m in
	if decodeFast(b, &m) {
		// decoded: the checks below are the same for both paths
	} else if _, err := edge.Decode(b, &m); err != nil {
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
	if err := s.srv.AdmitMessage(s.limiter, &s.inLen, typ, len(b)); err != nil {
		s.fail(err)
		return
	}
	if err := s.dispatch(&m); err != nil {
		s.fail(err)
	}
}

func (s *session) dispatch(m *in) error {
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
		switch {
		case truthy(m.Bye) || truthy(m.Hangup):
			s.hangup()
			return nil
		case truthy(m.Leave):
			s.leaveRooms()
			return nil
		case m.Auth != "":
			s.setAuth(m.Auth) // alert.go
			return nil
		}
		return edge.NewError(hub.CodeBadMessage, "message has neither request nor UUID")
	default:
		return edge.NewError(hub.CodeUnknownType, "unknown request")
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
// edge.Server.CheckAction).
// A message without a token uses the connection URL's (edge/doors.go): the
// VDO.Ninja SDK cannot add fields to its requests, but its host URL can
// carry ?token=.
func (s *session) checkAction(name, token string, a auth.Action) error {
	if token == "" {
		token = s.urlToken
	}
	return s.srv.CheckAction(s.limiter, name, token, a)
}

func streamArg(m *in) (string, error) {
	if m.Stream == nil {
		return "", edge.NewError(hub.CodeBadMessage, "missing streamID")
	}
	return *m.Stream, nil
}

func (s *session) seed(m *in) error {
	sid, err := streamArg(m)
	if err != nil {
		return err
	}
	if err := s.checkAction(sid, m.Token, auth.ActionPublish); err != nil {
		return err
	}
	if s.stream != "" && s.stream != sid {
		return edge.NewError(hub.CodeBadMessage, "stream ID cannot change on an existing connection")
	}
	if _, playing := s.plays[sid]; playing {
		return edge.NewError(hub.CodeBadMessage, "cannot seed a stream this connection plays")
	}
	if err := s.srv.Hub.Publish(s.peer, sid, ""); err != nil {
		if errors.Is(err, hub.ErrStreamInUse) || errors.Is(err, hub.ErrOwnStream) {
			return &hub.Error{Code: codeStreamIDInUse, Message: "stream ID is already in use"}
		}
		return err
	}
	s.stream = sid
	return nil
}

func (s *session) play(m *in) error {
	sid, err := streamArg(m)
	if err != nil {
		return err
	}
	if err := s.checkAction(sid, m.Token, auth.ActionPlay); err != nil {
		return err
	}
	if sid == s.stream {
		return edge.NewError(hub.CodeBadMessage, "cannot play the stream this connection seeds")
	}
	if _, again := s.plays[sid]; !again && len(s.plays) >= s.maxPlays {
		s.srv.Metrics.RateLimited("vdo-plays")
		return edge.NewError(hub.CodeRateLimited, "too many streams played on one connection")
	}
	if err := s.srv.Hub.Play(s.peer, sid, ""); err != nil {
		return err
	}
	s.plays[sid] = struct{}{}
	return nil
}

// roomKey normalises a room ID the way VDO.Ninja's servers do.
func roomKey(r string) string { return strings.ToLower(r) }

func (s *session) joinRoom(m *in) error {
	room := roomKey(m.Room)
	if err := s.checkAction(room, m.Token, auth.ActionJoin); err != nil {
		return err
	}
	// One room per socket, as in VDO.Ninja; joining the same room again
	// answers with a fresh listing (a migrated client re-joins its new room).
	for _, r := range s.peer.RoomNames() {
		if r != room {
			return edge.NewError(hub.CodeTooManyRooms, "already in a room; leave it first")
		}
	}
	return s.srv.Hub.JoinClaim(s.peer, room, "", m.Claim)
}

func (s *session) migrate(m *in) error {
	room := roomKey(m.Room)
	if m.Target == "" {
		return edge.NewError(hub.CodeBadMessage, "missing target")
	}
	if err := s.checkAction(room, m.Token, auth.ActionJoin); err != nil {
		return err
	}
	return s.srv.Hub.Migrate(s.peer, m.Target, room)
}

func (s *session) leaveRooms() {
	for _, r := range s.peer.RoomNames() {
		_ = s.srv.Hub.Leave(s.peer, r, "") // only fails when already gone
	}
}

// hangup ends every membership the socket holds; the socket stays open.
func (s *session) hangup() {
	s.leaveRooms()
	if s.stream != "" {
		_ = s.srv.Hub.Unpublish(s.peer, s.stream, "")
		s.stream = ""
	}
	for sid := range s.plays {
		s.srv.Hub.StopPlay(s.peer, sid)
	}
	clear(s.plays)
}

// direct routes a message without request to the peer its UUID names.
func (s *session) direct(m *in) error {
	to, err := s.srv.Hub.Route(s.peer, m.UUID)
	if err != nil {
		return err
	}
	b, ok := s.directFrameFast(m)
	if !ok {
		var forward bool
		b, forward, err = s.directFrameJSON(m)
		if err != nil || !forward {
			alertAddressee(to, err)
			return err
		}
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

// directFrameJSON filters a direct message and encodes it for the
// addressee on encoding/json: every message the fast path
// (directFrameFast) does not decide, and the reference it is fuzzed
// against. forward and err are filterDirect's.
func (s *session) directFrameJSON(m *in) (b []byte, forward bool, err error) {
	out, forward, err := s.filterDirect(m)
	if err != nil || !forward {
		return nil, forward, err
	}
	out.UUID = s.peer.ID()
	b, err = edge.Marshal(out)
	if err != nil {
		return nil, false, edge.NewError(hub.CodeBadMessage, "message cannot be encoded")
	}
	return b, true, nil
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
func (s *session) filterDirect(m *in) (out directMsg, forward bool, err error) {
	var (
		payloads int // payload fields the sender set
		kept     int // payload fields left after filtering
		sealed   bool
	)
	sealedText := func(raw json.RawMessage, field string) (json.RawMessage, error) {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || !isHex(v) {
			return nil, edge.NewError(hub.CodeBadMessage, "encrypted %s must be a hex string", field)
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
			err = edge.NewError(hub.CodeBadMessage, "description must be an object or an encrypted string")
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
			var c edge.Candidate
			if json.Unmarshal(m.Candidate, &c) != nil {
				return out, false, edge.NewError(hub.CodeBadMessage, "candidate must be an RTCIceCandidate object")
			}
			if s.filterCandidate(&c) {
				out.Candidate, err = edge.Marshal(c)
			}
		default:
			err = edge.NewError(hub.CodeBadMessage, "candidate must be an object or an encrypted string")
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
			var cs []edge.Candidate
			if json.Unmarshal(m.Candidates, &cs) != nil {
				return out, false, edge.NewError(hub.CodeBadMessage, "candidates must be an array of RTCIceCandidate objects")
			}
			kept := cs[:0]
			for i := range cs {
				if s.filterCandidate(&cs[i]) {
					kept = append(kept, cs[i])
				}
			}
			if len(kept) > 0 {
				out.Candidates, err = edge.Marshal(kept)
			}
		default:
			err = edge.NewError(hub.CodeBadMessage, "candidates must be an array or an encrypted string")
		}
		if err != nil {
			return out, false, err
		}
	}
	if sealed {
		if !s.SealedOK {
			return out, false, edge.NewError(hub.CodeSealedDenied,
				"encrypted signaling is refused while relay is forced: connect with password:false, or ask the operator to allow sealed payloads")
		}
		if m.Vector == nil || !isHex(*m.Vector) {
			return out, false, edge.NewError(hub.CodeBadMessage, "an encrypted payload needs a hex vector")
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
		if s.ForceRelay || s.StripSysinfo {
			*f.out = scrubFlag(*f.out)
		}
	}
	if payloads == 0 {
		return out, false, edge.NewError(hub.CodeBadMessage, "direct message has nothing to deliver")
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
		if !edge.ValidName(*m.Session, maxSession) {
			return out, false, edge.NewError(hub.CodeBadMessage, "session must be 1-%d printable characters", maxSession)
		}
		out.Session = m.Session
	}
	if m.Stream != nil {
		if err := s.srv.CheckName(*m.Stream); err != nil {
			return out, false, err
		}
		out.StreamID = m.Stream
	}
	if s.ForceRelay {
		// Tags the receiving app matches on; a good client never puts an
		// address in them, and under forced relay none rides along.
		out.Session = edge.ScrubText(out.Session)
		out.StreamID = edge.ScrubText(out.StreamID)
	}
	if m.Type != nil {
		if *m.Type != "local" && *m.Type != "remote" {
			return out, false, edge.NewError(hub.CodeBadMessage, `type must be "local" or "remote"`)
		}
		out.Type = m.Type
	}
	return out, true, nil
}

// filterDescription scrubs a plain {type,sdp} description.
func (s *session) filterDescription(raw json.RawMessage) (json.RawMessage, error) {
	var d edge.SessionDesc
	if json.Unmarshal(raw, &d) != nil {
		return nil, edge.NewError(hub.CodeBadMessage, "description must be {type, sdp}")
	}
	switch d.Type {
	case "offer", "answer", "pranswer":
		clean, err := s.srv.ScrubSDP(d.SDP, s.ForceRelay, s.StripSysinfo)
		if err != nil {
			return nil, edge.NewError(hub.CodeBadMessage, "description.sdp is not a session description")
		}
		d.SDP = clean
	case "rollback":
		d.SDP = ""
	default:
		return nil, edge.NewError(hub.CodeBadMessage, "description.type must be offer, answer, pranswer or rollback")
	}
	return edge.Marshal(d)
}

// filterCandidate applies the relay filter to one candidate.
func (s *session) filterCandidate(c *edge.Candidate) bool {
	return s.srv.FilterCandidate(c, s.ForceRelay)
}

// appData cleans application data veil can read (info objects, pipe data):
// system information is stripped under sysinfo=strip (which scrubs IP
// literals too); under forced relay IP literals and .local names are
// scrubbed (privacy.ScrubAddressesDeep).
func (s *session) appData(raw json.RawMessage, field string, object bool) (json.RawMessage, error) {
	var v any
	if err := edge.UnmarshalAny(raw, &v); err != nil {
		return nil, edge.NewError(hub.CodeBadMessage, "%s is not valid JSON", field)
	}
	if _, ok := v.(map[string]any); object && !ok {
		return nil, edge.NewError(hub.CodeBadMessage, "%s must be an object", field)
	}
	if !s.StripSysinfo && !s.ForceRelay {
		return raw, nil
	}
	if s.StripSysinfo {
		v = privacy.StripSysinfo(v)
	}
	if s.ForceRelay {
		v = privacy.ScrubAddressesDeep(v)
	}
	b, err := edge.Marshal(v)
	if err != nil {
		return nil, edge.NewError(hub.CodeBadMessage, "%s cannot be encoded", field)
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
			if len(x) <= maxFlag {
				return raw, nil
			}
		}
	}
	return nil, edge.NewError(hub.CodeBadMessage, "%s must be a boolean, a number or a string of at most %d bytes", name, maxFlag)
}

// scrubFlag scrubs IP literals and .local names out of a string flag.
func scrubFlag(raw json.RawMessage) json.RawMessage {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return raw
	}
	b, _ := edge.Marshal(privacy.ScrubAddresses(s))
	return b
}
