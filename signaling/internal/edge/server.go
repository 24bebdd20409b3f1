package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/hub"
)

// Buffer sizes of the WebSocket layer. Reads go through a pooled buffer and
// writes through a shared pool, so an idle connection holds neither.
const (
	readBufferSize  = 512
	writeBufferSize = 4096
)

var writeBufferPool = &sync.Pool{}

// Byte bounds of a connection's frames and queues.
const (
	// HardMaxFactor times MaxMessageBytes is the frame size at which the
	// connection is cut instead of answered with too-large: reading a huge
	// frame only to discard it is how a flooder would burn our CPU.
	HardMaxFactor = 16
	// queueShareBytes is what one queue may hold while the total budget is
	// spent: receivers that keep up hold less and are never dropped for
	// the total, so it can be overrun by at most this much per connection.
	queueShareBytes = 64 << 10
)

// Config is the part of signaling.Config the shared layer reads, with
// every default already applied (signaling.Config documents each field).
type Config struct {
	Policy         privacy.Policy
	TrustedRelays  func(netip.AddrPort) bool
	AllowedOrigins []string

	MaxMessageBytes int
	MaxNameBytes    int
	SendQueue       int
	SendQueueBytes  int // <= 0: no byte cap per queue
	MaxQueuedBytes  int // <= 0: no total byte budget

	// Admission and per-connection budgets; <= 0: no limit.
	MaxConnections, MaxConnectionsPerIP       int
	ConnectRatePerIP, ConnectBurstPerIP       int
	MessageRate, MessageBurst                 int
	ActionRate, ActionBurst                   int
	ByteRate, ByteBurst                       int
	CredentialRatePerIP, CredentialBurstPerIP int
	TrustedProxies                            []netip.Prefix

	// LimitListener's caps; <= 0: none.
	MaxHTTPConnections, MaxHTTPConnectionsPerIP int
	ListenerExempt                              func(netip.Addr) bool

	AuthSecret         []byte
	RequireUnguessable int

	// Parked sessions (park.go); <= 0: no cap.
	MaxParked, MaxParkedPerIP int

	Logger *slog.Logger
}

// Server is what every dialect's connections share on one
// signaling.Server: the hub, the connections and their byte budget,
// admission, metrics and the privacy policy. Safe for concurrent use.
type Server struct {
	Config  Config
	Log     *slog.Logger
	Hub     *hub.Hub
	Metrics *Metrics

	// PingEvery spaces the pings (pingPeriod) and MessageWait bounds a
	// message's arrival (messageWait); tests shorten them before the
	// first connection.
	PingEvery, MessageWait time.Duration

	adm      *admission
	queued   *sendBudget
	parking  *parking
	upgrader websocket.Upgrader

	mu     sync.Mutex // guards the following fields
	conns  map[*Conn]struct{}
	closed bool
	// pingStop ends the pinger, which starts with the first connection so
	// a Server that never serves one runs no goroutine.
	pingStop chan struct{}

	wg sync.WaitGroup // connection handlers and the pinger
}

// New returns a Server for cfg over h.
func New(cfg Config, h *hub.Hub) *Server {
	s := &Server{
		Config:      cfg,
		Log:         cfg.Logger,
		Hub:         h,
		conns:       make(map[*Conn]struct{}),
		PingEvery:   pingPeriod,
		MessageWait: messageWait,
	}
	s.queued = &sendBudget{max: int64(cfg.MaxQueuedBytes), share: queueShareBytes}
	s.Metrics = newMetrics(h, s.queued)
	s.queued.limited = s.Metrics.RateLimited
	s.adm = newAdmission(cfg)
	s.parking = newParking(cfg, s.adm, s.Metrics.Reg)
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: writeBufferPool,
		CheckOrigin:     s.CheckOrigin,
		// Compression stays off: it costs memory per connection and opens
		// the door to decompression bombs.
		EnableCompression: false,
	}
	return s
}

// QueuedBytes is what every send queue holds together, in bytes.
func (s *Server) QueuedBytes() int64 { return s.queued.used.Load() }

// CheckOrigin allows same-origin browsers, configured origins and clients
// that send no Origin (not browsers, so not subject to cross-site
// WebSocket hijacking).
func (s *Server) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range s.Config.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// CORS lets browsers on veil's own origin and on Config.AllowedOrigins
// read an HTTP answer, and refuses (403) any other origin, as the
// WebSocket origin check does. Requests without Origin are not from a
// cross-site page and pass. It reports whether the handler may go on.
func (s *Server) CORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !s.CheckOrigin(r) {
		s.Metrics.RateLimited("origin")
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return false
	}
	w.Header().Add("Vary", "Origin")
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return true
}

// track registers c so Shutdown can close it; false after Shutdown began.
func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	if s.pingStop == nil {
		s.pingStop = make(chan struct{})
		s.wg.Add(1)
		go s.pingLoop(s.pingStop)
	}
	return true
}

// pingLoop pings every connection every PingEvery, through its queue, so
// that idle connections need no timer and no writer goroutine of their own.
// A peer that does not answer within pongWait is cut by its read deadline.
func (s *Server) pingLoop(stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(s.PingEvery)
	defer t.Stop()
	var batch []*Conn
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		batch = batch[:0]
		for c := range s.conns {
			batch = append(batch, c)
		}
		s.mu.Unlock()
		for _, c := range batch {
			c.ping()
		}
		clear(batch) // keep no closed connection alive until the next tick
	}
}

func (s *Server) untrack(c *Conn) {
	c.release()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// upgrade turns r into a tracked WebSocket connection, or answers with an
// HTTP error and returns nil.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) *Conn {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil
	}
	if !s.CheckOrigin(r) {
		s.Metrics.RateLimited("origin")
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil
	}
	release, ok := s.Admit(w, r)
	if !ok {
		return nil
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return nil // the upgrader answered already
	}
	c := newConn(ws, s.Config.SendQueue, s.Config.MaxMessageBytes, s.Config.MaxMessageBytes*HardMaxFactor,
		int64(s.Config.SendQueueBytes), s.queued)
	c.release = release
	c.msgWait = s.MessageWait
	if !s.track(c) {
		release()
		c.Close(CloseGoingAway, "server shutting down")
		c.Finish()
		return nil
	}
	return c
}

// handOff runs the rest of a connection's life (run: its read loop and
// cleanup) in a new goroutine so the HTTP handler can return. The handler
// goroutine holds net/http's per-connection state (the request, its bufio
// buffers, a deep stack) for as long as it runs; returning frees it, which
// roughly halves what an idle connection costs (docs/BENCHMARKS.md).
func (s *Server) handOff(c *Conn, proto string, run func()) {
	go func() {
		defer s.connDone(c, proto)
		run()
	}()
}

// connDone accounts for a finished connection.
func (s *Server) connDone(c *Conn, proto string) {
	s.Metrics.connClosed(proto)
	s.untrack(c)
}

// Shutdown closes every connection with 1001 (going away) and waits for
// their handlers to finish, or for ctx. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed && s.pingStop != nil {
		close(s.pingStop)
	}
	s.closed = true
	for c := range s.conns {
		c.Close(CloseGoingAway, "server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("signaling: shutdown: %w", errors.Join(ctx.Err(), ErrClosed))
	}
}
