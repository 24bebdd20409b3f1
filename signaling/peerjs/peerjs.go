package peerjs

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Namespace is the hub namespace of PeerJS peers and their metrics label.
// The Directory is shared by every protocol; a PeerJS message only ever
// reaches a peer in this namespace.
const Namespace = "peerjs"

// Bounds of what the dialect holds for ids that are not connected. A
// message waits at most ExpireTimeout; these caps bound memory when many
// senders address absent ids, and the per-address ones keep one client
// address (many connections) to an eighth of the store, so it can never
// take what others need (privacy invariant 6). Past a cap the sender gets EXPIRE at once,
// which the client shows as peer-unavailable, as it would after the wait.
const (
	heldPerDst  = 64   // messages waiting for one id
	heldPerSrc  = 128  // messages one sender has waiting
	heldPerAddr = 1024 // messages the senders of one client address have waiting
	heldTotal   = 8192 // messages waiting, all ids together

	// The same in bytes: a message may be 64 KiB, so the counts alone
	// would let one sender hold 8 MiB and all of them 512 MiB. Metric:
	// veil_peerjs_held_bytes.
	heldBytesPerDst  = 256 << 10 // bytes waiting for one id
	heldBytesPerSrc  = 512 << 10 // bytes one sender has waiting
	heldBytesPerAddr = 2 << 20   // bytes the senders of one client address have waiting
	heldBytesTotal   = 16 << 20  // bytes waiting, all ids together
)

// Bounds of client-chosen ids and tokens. A PeerJS client validates its
// own id against idPattern's rule and refuses anything else, so
// refusing more here costs no real client anything.
const (
	maxIDLen          = 128
	maxClientTokenLen = 128
)

// The ERROR messages of the `peer` server, word for word: apps match them.
const (
	errParams = "No id, token, or key supplied to websocket server"
	errKey    = "Invalid key provided"
	errID     = "Invalid id provided"
	errBusy   = "Server is busy, try again"
	// errToken is veil's own: the `peer` server has no access
	// control. The client reports any ERROR as a server-error.
	errToken = "Invalid token provided"
)

// Dialect is the PeerJS dialect's state on one signaling server. Safe for
// concurrent use.
type Dialect struct {
	srv  *edge.Server
	cfg  Config
	held heldStore

	mu   sync.Mutex // guards the following field
	live map[string]struct{}
}

// New returns the PeerJS dialect over srv for cfg, which went through
// WithDefaults and Validate, and registers its metric
// (veil_peerjs_held_bytes).
func New(srv *edge.Server, cfg Config) *Dialect {
	d := &Dialect{srv: srv, cfg: cfg, live: make(map[string]struct{})}
	d.held.init(cfg.ExpireTimeout)
	// Any PeerJS id may be addressed by id; in a cluster, what waits for
	// an id that connects on another node follows it there.
	srv.Hub.AllowByID(Namespace)
	srv.Hub.ChosenIDs(Namespace) // a cluster settles an id before it is given
	srv.Hub.OnRemoteRegister(Namespace, d.connectedElsewhere)
	srv.Hub.OnTakeover(Namespace, d.takenOver)
	srv.Metrics.Reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "veil_peerjs_held_bytes", Help: "Bytes of PeerJS messages held for ids that are not connected.",
	}, func() float64 { return float64(d.held.heldBytes()) }))
	return d
}

// Mount registers the dialect's endpoints on mux: the WebSocket at
// {Path}peerjs, {Path}{Key}/id, {Path}{Key}/peers and the description at
// {Path}. The PeerJS-style TURN credentials door {Path}{Key}/turn is the
// signaling server's.
func (d *Dialect) Mount(mux *http.ServeMux) {
	cfg := d.cfg
	base := cfg.Path + cfg.Key
	mux.HandleFunc("GET "+cfg.Path+"peerjs", d.serveWS)
	mux.HandleFunc("GET "+base+"/id", d.serveID)
	mux.HandleFunc("GET "+base+"/peers", d.servePeers)
	// At "/" the description would shadow whatever the embedder serves
	// at its root.
	if cfg.Path != "/" {
		mux.HandleFunc("GET "+cfg.Path+"{$}", d.serveInfo)
	}
}

// serveInfo describes the server, as GET / of a `peer` server does.
func (d *Dialect) serveInfo(w http.ResponseWriter, r *http.Request) {
	if !d.srv.CORS(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Privacy     string `json:"privacy"`
	}{
		"veil",
		"Privacy-first WebRTC signaling server speaking the PeerJS protocol. Set the client's config.iceServers from the turn endpoint and iceTransportPolicy to 'relay'.",
		"/privacy",
	})
}

// serveID mints an id for a client that did not choose one.
func (d *Dialect) serveID(w http.ResponseWriter, r *http.Request) {
	if !d.srv.CORS(w, r) {
		return
	}
	release, ok := d.srv.Admit(w, r)
	if !ok {
		return
	}
	release()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(newID()))
}

// servePeers lists connected ids when discovery is on; 401 otherwise, as
// the `peer` server answers.
func (d *Dialect) servePeers(w http.ResponseWriter, r *http.Request) {
	if !d.srv.CORS(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if !d.cfg.Discovery {
		http.Error(w, "peer discovery is disabled", http.StatusUnauthorized)
		return
	}
	if !d.srv.TokenValid(edge.RequestToken(r)) {
		// With an AuthSecret the list is for token holders only (edge/doors.go).
		http.Error(w, "a valid token is required", http.StatusUnauthorized)
		return
	}
	d.mu.Lock()
	ids := make([]string, 0, len(d.live))
	for id := range d.live {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ids)
}

// newID returns an id with hub.IDBytes (144) random bits in hex. Not
// hub.NewID's base64url: the PeerJS client refuses ids that start or end with
// '-' or '_' or repeat them, and apps pass a stored id back to new Peer().
func newID() string {
	var b [hub.IDBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// validID applies the PeerJS client's own rule,
// /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/, and a length bound.
//
// Client-chosen ids are accepted because PeerJS apps pick them
// (new Peer("alice")); a short id is guessable and anyone who guesses it
// can call that peer. Ids from GET {path}{key}/id carry 144 random bits.
// Config.RequireUnguessable applies to PeerJS ids as to names (serveWS).
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	sep := true // at the start, as after a separator, a letter or digit must come
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			sep = false
		case c == ' ' || c == '_' || c == '-':
			if sep {
				return false
			}
			sep = true
		default:
			return false
		}
	}
	return !sep
}

// maxTokenLen bounds the client's token: an operator token (a JWT) when
// the server has an AuthSecret, else the client's random reconnect token.
func (d *Dialect) maxTokenLen() int {
	if len(d.srv.Config.AuthSecret) > 0 {
		return auth.MaxTokenBytes
	}
	return maxClientTokenLen
}

// lookup returns the connected PeerJS peer with id, or nil. Ids are per
// namespace, so a peer of another protocol is never returned: PeerJS ids
// cannot reach, or probe for, native or VDO.Ninja peers.
func (d *Dialect) lookup(id string) *hub.Peer { return d.srv.Hub.Lookup(Namespace, id) }

// lookupFrom is lookup for a message from sends: a peer on another node
// of a cluster comes back as a handle that carries the sender along, so
// that node can check it before delivering (hub.LookupFrom).
func (d *Dialect) lookupFrom(from *hub.Peer, id string) *hub.Peer {
	return d.srv.Hub.LookupFrom(from, id)
}

// connectedElsewhere sends what was held here for p's id, which just
// connected on another node of the cluster, there, in order. A message
// whose sender left meanwhile has no sender for that node to check and
// is dropped (on one node it would still be delivered).
func (d *Dialect) connectedElsewhere(p *hub.Peer) {
	for _, m := range d.held.takeMsgs(p.ID()) {
		from := d.lookup(m.src)
		if from == nil || from.Remote() {
			continue
		}
		if to := d.lookupFrom(from, p.ID()); to != nil {
			d.srv.Metrics.Relayed()
			to.Notify(hub.Frame(m.frame))
		}
	}
}

// serverMsg is every message the server sends, in the `peer` server's
// field order.
type serverMsg struct {
	Type    string `json:"type"`
	Src     string `json:"src,omitempty"`
	Dst     string `json:"dst,omitempty"`
	Payload any    `json:"payload,omitempty"`
}

type msgPayload struct {
	Msg string `json:"msg"`
}

func encode(m serverMsg) []byte {
	b, _ := edge.Marshal(m) // our own types always encode
	return b
}

// serveWS runs one PeerJS connection: {Path}peerjs?key=K&id=ID&token=T.
func (d *Dialect) serveWS(w http.ResponseWriter, r *http.Request) {
	s := d.srv
	q := r.URL.Query()
	id, token, key := q.Get("id"), q.Get("token"), q.Get("key")
	s.Serve(w, r, Namespace, func(c *edge.Conn) edge.Session {
		switch {
		case id == "" || token == "" || key == "":
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errParams}})
			return nil
		case key != d.cfg.Key:
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errKey}})
			return nil
		case !validID(id) || len(token) > d.maxTokenLen():
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errID}})
			return nil
		case utf8.RuneCountInString(id) < s.Config.RequireUnguessable:
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errID}})
			return nil
		case s.Authorize(token, auth.ActionJoin, id) != nil:
			// With an AuthSecret the client's token is the operator token
			// and must grant join on the id. Checked before the directory
			// is asked, so a refusal says nothing about whether the id is
			// taken.
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errToken}})
			return nil
		}

		sess := &session{
			d:            d,
			c:            c,
			addr:         s.AddrKeyOf(r),
			token:        token,
			SenderPolicy: s.SenderPolicy(false), // a PeerJS client cannot ask for relay
			limiter:      s.NewLimiter(),
		}
		sess.peer = hub.NewPeerWithID(Namespace, id, sess)
		sess.peer.SetProof(takeoverProof(id, token))
		switch err := d.register(sess); {
		case errors.Is(err, hub.ErrIDTaken):
			d.refuse(c, serverMsg{Type: "ID-TAKEN", Payload: msgPayload{"ID is taken"}})
			return nil
		case err != nil:
			d.refuse(c, serverMsg{Type: "ERROR", Payload: msgPayload{errBusy}})
			return nil
		}
		sess.open(d.held.take(id))
		sess.startAlive()
		return sess
	})
}

// refuse sends one message and closes, as the `peer` server does for bad
// parameters and taken ids.
func (d *Dialect) refuse(c *edge.Conn, m serverMsg) { c.Reject(encode(m)) }

// registerTries bounds how often a same-token takeover retries when
// another connection grabs the freed id first.
const registerTries = 3

// register makes sess reachable under its id. An id held by a live PeerJS
// connection with the same token is taken over (that connection is
// closed): this is how a PeerJS client reconnects. Another holder with
// another token means hub.ErrIDTaken; peers of other protocols live in other
// namespaces and never hold a PeerJS id.
func (d *Dialect) register(sess *session) error {
	h := d.srv.Hub
	for range registerTries {
		err := h.Register(sess.peer)
		if err == nil {
			if d.cfg.Discovery {
				d.mu.Lock()
				d.live[sess.peer.ID()] = struct{}{}
				d.mu.Unlock()
			}
			return nil
		}
		if !errors.Is(err, hub.ErrIDTaken) {
			return err
		}
		old := h.Lookup(Namespace, sess.peer.ID())
		if old == nil {
			continue // it went away meanwhile
		}
		prev, ok := old.Client().(*session)
		if !ok || old.Namespace() != Namespace || prev.d != d ||
			subtle.ConstantTimeCompare([]byte(prev.token), []byte(sess.token)) != 1 {
			return hub.ErrIDTaken
		}
		prev.c.Close(edge.CloseNormal, "replaced by a new connection")
		d.unregister(prev)
	}
	return hub.ErrIDTaken
}

// takeoverProof is what a reconnecting client shows another node of a
// cluster to take its id over (hub.Peer.SetProof): a hash, so the token
// itself never leaves this node.
func takeoverProof(id, token string) []byte {
	h := sha256.Sum256([]byte("veil peerjs takeover\x00" + id + "\x00" + token))
	return h[:]
}

// takenOver closes the connection of p, whose client reconnected with
// its token on another node of the cluster, as register does on one node.
func (d *Dialect) takenOver(p *hub.Peer) {
	prev, ok := p.Client().(*session)
	if !ok || prev.d != d {
		return
	}
	prev.c.Close(edge.CloseNormal, "replaced by a new connection")
	d.unregister(prev)
}

func (d *Dialect) unregister(sess *session) {
	d.srv.Hub.Unregister(sess.peer)
	if d.cfg.Discovery {
		d.mu.Lock()
		if d.srv.Hub.Lookup(Namespace, sess.peer.ID()) == nil {
			delete(d.live, sess.peer.ID())
		}
		d.mu.Unlock()
	}
}

// session speaks PeerJS on one connection. The hub calls Notify from
// any goroutine; handle runs on the connection's reader.
type session struct {
	d     *Dialect
	c     *edge.Conn
	peer  *hub.Peer
	token string
	addr  edge.AddrKey // the client address's account, for the held store's caps
	edge.SenderPolicy
	limiter *edge.Limiter
	inLen   int // size of the message being handled; reader goroutine only

	opened atomic.Bool // OPEN was sent: frames go straight out
	openMu sync.Mutex  // guards early, and orders it after OPEN
	early  []hub.Frame // frames that arrived before OPEN, bounded as held messages for one id
	// earlyBytes is early's size in bytes, at most heldBytesPerDst.
	earlyBytes int

	lastSeen atomic.Int64 // unix nanoseconds of the last client message
	aliveMu  sync.Mutex   // guards aliveT
	aliveT   *time.Timer  // nil once stopped
}

// Notify implements Client. PeerJS peers only ever get frames encoded by
// this dialect; room and stream events do not exist here. Before OPEN
// (while the id is registered but, in a cluster, still being claimed, or
// held messages from another node arrive first) frames wait in early.
func (sess *session) Notify(ev hub.Event) {
	f, ok := ev.(hub.Frame)
	if !ok {
		return
	}
	if sess.opened.Load() {
		sess.c.Send(f)
		return
	}
	sess.openMu.Lock()
	defer sess.openMu.Unlock()
	switch {
	case sess.opened.Load():
		sess.c.Send(f)
	case len(sess.early) < heldPerDst && sess.earlyBytes+len(f) <= heldBytesPerDst:
		sess.early = append(sess.early, f)
		sess.earlyBytes += len(f)
	}
}

// open sends OPEN, then the messages held here for the id, in order, then
// what arrived meanwhile. A message sent to the id in the instant between
// Register and take can overtake the held ones; the PeerJS client keeps a
// CANDIDATE that comes before its OFFER and replays it.
func (sess *session) open(held [][]byte) {
	sess.openMu.Lock()
	defer sess.openMu.Unlock()
	sess.c.Send(encode(serverMsg{Type: "OPEN"}))
	for _, f := range held {
		sess.d.srv.Metrics.Relayed()
		sess.c.Send(f)
	}
	for _, f := range sess.early {
		sess.c.Send(f)
	}
	sess.early, sess.earlyBytes = nil, 0
	sess.opened.Store(true)
}

// startAlive arms the alive timeout: a client that sends nothing for
// AliveTimeout is dropped, as the `peer` server drops it.
func (sess *session) startAlive() {
	sess.lastSeen.Store(time.Now().UnixNano())
	sess.aliveMu.Lock()
	sess.aliveT = time.AfterFunc(sess.d.cfg.AliveTimeout, sess.checkAlive)
	sess.aliveMu.Unlock()
}

func (sess *session) checkAlive() {
	idle := time.Since(time.Unix(0, sess.lastSeen.Load()))
	sess.aliveMu.Lock()
	defer sess.aliveMu.Unlock()
	if sess.aliveT == nil {
		return
	}
	if left := sess.d.cfg.AliveTimeout - idle; left > 0 {
		sess.aliveT.Reset(left)
		return
	}
	sess.c.Close(edge.CloseNormal, "no heartbeat")
}

func (sess *session) stopAlive() {
	sess.aliveMu.Lock()
	defer sess.aliveMu.Unlock()
	if sess.aliveT != nil {
		sess.aliveT.Stop()
		sess.aliveT = nil
	}
}

// strike counts a bad or refused message; too many in a short time close
// the connection with 1008. The PeerJS protocol has no error reply for a
// bad message (its ERROR makes the client give up its id), so bad
// messages are dropped silently.
func (sess *session) strike() { sess.c.Strike() }

// Refuse handles frames the connection layer rejected (binary, too large).
func (sess *session) Refuse(error) { sess.strike() }

// Closed stops the heartbeat check and leaves the hub.
func (sess *session) Closed() {
	sess.stopAlive()
	sess.d.unregister(sess)
}

// clientMsg is every field a client message may carry; anything else is
// dropped by construction. src is never read: the server sets it.
type clientMsg struct {
	Type    string          `json:"type"`
	Dst     string          `json:"dst"`
	Payload json.RawMessage `json:"payload"`
}

// payload is every payload field a PeerJS client sends with OFFER,
// ANSWER and CANDIDATE (1.5.5, and browser from older clients). Forwarded
// payloads are rebuilt from these.
type payload struct {
	SDP           *edge.SessionDesc `json:"sdp,omitempty"`
	Candidate     *edge.Candidate   `json:"candidate,omitempty"`
	Type          string            `json:"type,omitempty"` // "data" or "media"
	ConnectionID  string            `json:"connectionId,omitempty"`
	Label         *string           `json:"label,omitempty"`
	Reliable      *bool             `json:"reliable,omitempty"`
	Serialization *string           `json:"serialization,omitempty"`
	Metadata      json.RawMessage   `json:"metadata,omitempty"` // the app's own data, passed as is
	Browser       *string           `json:"browser,omitempty"`  // a browser name: system information
}

// metricType maps a PeerJS type to a label of veil_messages_total.
func metricType(t string) string {
	switch t {
	case "OFFER", "ANSWER", "CANDIDATE":
		return "signal"
	case "HEARTBEAT":
		return "ping"
	case "LEAVE":
		return "leave"
	}
	return "other"
}

// Handle decodes one client message and acts on it.
func (sess *session) Handle(b []byte) {
	sess.lastSeen.Store(time.Now().UnixNano())
	// Like the `peer` server, PeerJS answers nothing to a bad message.
	var m clientMsg
	if decodeFast(b, &m) {
		// decoded: the checks below are the same for both paths
	} else if _, err := edge.Decode(b, &m); err != nil {
		sess.strike()
		return
	}
	if err := sess.d.srv.AdmitMessage(sess.limiter, &sess.inLen, metricType(m.Type), len(b)); err != nil {
		sess.strike()
		return
	}
	switch m.Type {
	case "HEARTBEAT":
		// lastSeen is updated: nothing else to do.
	case "OFFER", "ANSWER", "CANDIDATE":
		if !sess.signal(&m) {
			sess.strike()
		}
	case "LEAVE":
		sess.leave(&m)
	default:
		// The `peer` server ignores unknown types too; EXPIRE from a
		// client is not forwarded, only the server says a peer is gone.
	}
}

// leave forwards LEAVE to a connected peer. LEAVE without dst means the
// client leaves the server (the `peer` server forgets its id): close.
func (sess *session) leave(m *clientMsg) {
	if m.Dst == "" {
		sess.c.Close(edge.CloseNormal, "")
		return
	}
	if len(m.Dst) > maxIDLen {
		sess.strike()
		return
	}
	if to := sess.d.lookupFrom(sess.peer, m.Dst); to != nil {
		sess.d.srv.Metrics.Relayed()
		to.Notify(hub.Frame(encode(serverMsg{Type: "LEAVE", Src: sess.peer.ID(), Dst: m.Dst})))
	}
}

// signal filters an OFFER, ANSWER or CANDIDATE and forwards it, holding it
// when its destination is not connected. false means it was malformed.
func (sess *session) signal(m *clientMsg) bool {
	if m.Dst == "" || len(m.Dst) > maxIDLen {
		return false
	}
	f, keep, ok := sess.signalFrameFast(m)
	if !ok {
		f, keep, ok = sess.signalFrameJSON(m)
	}
	if !ok {
		return false
	}
	if !keep {
		return true // a candidate the relay filter removed: nothing to send
	}
	if edge.CheckGrowth(sess.inLen, len(f)) != nil {
		return false
	}
	if sess.ForceRelay && !sess.d.srv.LeakFree(f) {
		// PeerJS has no error reply for a bad message: it is dropped and
		// counts as a strike.
		return false
	}
	sess.d.deliver(sess.peer, sess.addr, m.Dst, f)
	return true
}

// signalFrameJSON decodes, filters and encodes a signal on encoding/json:
// every payload the fast path (signalFrameFast) does not decide, and the
// reference it is fuzzed against. keep and ok are filterPayload's.
func (sess *session) signalFrameJSON(m *clientMsg) (f []byte, keep, ok bool) {
	var p payload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return nil, false, false
	}
	out, keep, ok := sess.filterPayload(m.Type, p)
	if !ok || !keep {
		return nil, keep, ok
	}
	return encode(serverMsg{Type: m.Type, Src: sess.peer.ID(), Dst: m.Dst, Payload: out}), true, true
}

// filterPayload rebuilds a payload from its known fields and applies the
// privacy policy. keep=false: the relay filter dropped the candidate.
// ok=false: the payload is malformed or cannot be scrubbed safely.
func (sess *session) filterPayload(typ string, p payload) (out payload, keep, ok bool) {
	s := sess.d.srv
	if sess.StripSysinfo {
		p.Browser = nil
	}
	switch typ {
	case "OFFER", "ANSWER":
		want := strings.ToLower(typ)
		if p.SDP == nil || p.SDP.Type != want || p.Candidate != nil {
			return p, false, false
		}
		clean, err := s.ScrubSDP(p.SDP.SDP, sess.ForceRelay, sess.StripSysinfo)
		if err != nil {
			return p, false, false
		}
		p.SDP = &edge.SessionDesc{Type: want, SDP: clean}
	case "CANDIDATE":
		if p.Candidate == nil || p.SDP != nil {
			return p, false, false
		}
		cand := *p.Candidate
		if !s.FilterCandidate(&cand, sess.ForceRelay) {
			return p, false, true
		}
		p.Candidate = &cand
	default:
		return p, false, false // nothing else carries a payload we forward
	}
	if sess.ForceRelay {
		// The side fields are the app's own text and data; under forced
		// relay no address rides along in them.
		md, err := edge.ScrubJSON(p.Metadata)
		if err != nil {
			return p, false, false
		}
		p.Metadata = md
		p.ConnectionID = *edge.ScrubText(&p.ConnectionID)
		p.Type = *edge.ScrubText(&p.Type)
		p.Label = edge.ScrubText(p.Label)
		p.Serialization = edge.ScrubText(p.Serialization)
		p.Browser = edge.ScrubText(p.Browser)
	}
	return p, true, true
}

// deliver sends frame f from src to the connected PeerJS peer dst, or
// holds it until dst connects or ExpireTimeout passes.
func (d *Dialect) deliver(from *hub.Peer, addr edge.AddrKey, dst string, f []byte) {
	if to := d.lookupFrom(from, dst); to != nil {
		d.srv.Metrics.Relayed()
		to.Notify(hub.Frame(f))
		return
	}
	if !d.held.add(from, addr, dst, f, d) {
		d.srv.Metrics.RateLimited("peerjs-held")
		d.expire(dst, []string{from.ID()})
	}
}

// expire tells each connected sender in srcs that dst is not there. The
// client shows it as peer-unavailable.
func (d *Dialect) expire(dst string, srcs []string) {
	for _, src := range srcs {
		if p := d.lookup(src); p != nil {
			p.Notify(hub.Frame(encode(serverMsg{Type: "EXPIRE", Src: dst, Dst: src})))
		}
	}
}
