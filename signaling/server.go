package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
)

// Buffer sizes of the WebSocket layer. Reads go through a pooled buffer and
// writes through a shared pool, so an idle connection holds neither.
const (
	readBufferSize  = 512
	writeBufferSize = 4096
)

var writeBufferPool = &sync.Pool{}

// Server is veil's signaling server: a Hub plus the wire protocols at its
// edge, served over HTTP. It does not listen by itself; mount Handler in
// an http.Server. Safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	hub      *hub.Hub
	metrics  *metrics
	adm      *admission
	queued   *sendBudget
	upgrader websocket.Upgrader
	mux      *http.ServeMux
	handler  http.Handler // mux, bounded

	mu     sync.Mutex // guards the following fields
	conns  map[*conn]struct{}
	closed bool
	// pingStop ends the pinger, which starts with the first connection so
	// a Server that never serves one runs no goroutine.
	pingStop chan struct{}

	wg        sync.WaitGroup // connection handlers and the pinger
	pingEvery time.Duration  // pingPeriod; shorter in tests
	msgWait   time.Duration  // messageWait; shorter in tests
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		conns:     make(map[*conn]struct{}),
		pingEvery: pingPeriod,
		msgWait:   messageWait,
		hub: hub.New(hub.Limits{
			MaxRoomPeers:   cfg.MaxRoomPeers,
			MaxPeerRooms:   cfg.MaxPeerRooms,
			MaxPeerStreams: cfg.MaxPeerStreams,
			MaxPeerPlays:   cfg.MaxPeerPlays,
		}, cfg.Directory),
	}
	if cfg.Cluster != nil {
		bus, err := cfg.Cluster.Attach(s.hub)
		if err != nil {
			return nil, fmt.Errorf("%w: Config.Cluster: %v", errInvalidConfig, err)
		}
		s.hub.Federate(bus)
	}
	s.queued = &sendBudget{max: int64(cfg.MaxQueuedBytes), share: queueShareBytes}
	s.metrics = newMetrics(s.hub, s.queued)
	s.queued.limited = s.metrics.rateLimited
	if c, ok := cfg.TURN.(prometheus.Collector); ok {
		// *turn.Server: its veil_turn_* metrics join MetricsHandler.
		if err := s.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: Config.TURN metrics: %v", errInvalidConfig, err)
		}
	}
	s.adm = newAdmission(cfg)
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: writeBufferPool,
		CheckOrigin:     s.checkOrigin,
		// Compression stays off: it costs memory per connection and opens
		// the door to decompression bombs.
		EnableCompression: false,
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /ws", s.serveNative)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /privacy", s.servePrivacy)
	s.mountAssets()
	s.mountTURNCredentials()
	s.mountPeerJS()
	s.mountVDO()
	s.handler = s.bounded(s.mux)
	return s, nil
}

// serveHealth answers /healthz: "ok", or "degraded: <status>" while a
// Cluster reports trouble. Both are 200: a degraded node still serves its
// own peers, and when the bus is down for every node, answering 503 would
// take the whole service out of a load balancer.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.cfg.Cluster != nil {
		if st := s.cfg.Cluster.Health(); st != "" {
			_, _ = w.Write([]byte("degraded: " + st + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Handler returns the HTTP handler serving veil's endpoints: the native
// protocol (/ws), /healthz, /privacy, /turn-credentials, /veil.js, the
// demo page (/, /demo.js, /demo.css, with Config.Demo), the PeerJS
// endpoints (under PeerJSConfig.Path: peerjs, <key>/id, <key>/peers,
// <key>/turn and the info page) and the VDO.Ninja endpoint
// (VDOConfig.Path), the last two unless disabled. Metrics are apart
// (MetricsHandler). Every request it serves is bounded by RequestTimeout;
// mount it in an http.Server with ReadHeaderTimeout set, on a listener
// from LimitListener. Safe for concurrent use.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the server's Prometheus metrics. Mount it where
// only operators reach it.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// MetricsRegistry is the registry behind MetricsHandler, for embedders that
// add their own aggregate metrics (Config.TURN's are registered already).
func (s *Server) MetricsRegistry() *prometheus.Registry { return s.metrics.reg }

// checkOrigin allows same-origin browsers, configured origins and clients
// that send no Origin (not browsers, so not subject to cross-site
// WebSocket hijacking).
func (s *Server) checkOrigin(r *http.Request) bool {
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
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// checkName validates a room or stream name. While relay filtering is on,
// a name may not spell an address: the hub hands stream names to other
// peers in its events (joined, stream-added, videoaddedtoroom), which are
// no forwarded frames and so do not pass the final forced-relay check.
func (s *Server) checkName(name string) error {
	if !validName(name, s.cfg.MaxNameBytes) {
		return newError(CodeBadMessage, "room and stream names must be 1-%d bytes of printable UTF-8", s.cfg.MaxNameBytes)
	}
	if s.cfg.Policy.Relay != privacy.RelayOff {
		if _, found := privacy.FindAddress(name, nil); found {
			return errNameAddress
		}
	}
	return nil
}

// checkAction is what every protocol checks before a join, publish or
// play (or their dialect names): the name, the connection's action budget
// and, when the operator requires them, the token.
func (s *Server) checkAction(l *connLimiter, name, token string, a auth.Action) error {
	if err := s.checkName(name); err != nil {
		return err
	}
	if !l.allowAction() {
		s.metrics.rateLimited("actions")
		return ErrRateLimited
	}
	return s.authorize(token, a, name)
}

// track registers c so Shutdown can close it; false after Shutdown began.
func (s *Server) track(c *conn) bool {
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

// pingLoop pings every connection every pingEvery, through its queue, so
// that idle connections need no timer and no writer goroutine of their own.
// A peer that does not answer within pongWait is cut by its read deadline.
func (s *Server) pingLoop(stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(s.pingEvery)
	defer t.Stop()
	var batch []*conn
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

func (s *Server) untrack(c *conn) {
	c.release()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// upgrade turns r into a tracked WebSocket connection, or answers with an
// HTTP error and returns nil.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) *conn {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil
	}
	if !s.checkOrigin(r) {
		s.metrics.rateLimited("origin")
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil
	}
	release, ok := s.admit(w, r)
	if !ok {
		return nil
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return nil // the upgrader answered already
	}
	c := newConn(ws, s.cfg.SendQueue, s.cfg.MaxMessageBytes, s.cfg.MaxMessageBytes*hardMaxFactor,
		int64(s.cfg.SendQueueBytes), s.queued)
	c.release = release
	c.msgWait = s.msgWait
	if !s.track(c) {
		release()
		c.close(closeGoingAway, "server shutting down")
		c.finish()
		return nil
	}
	return c
}

// serveNative runs one native protocol v1 connection.
func (s *Server) serveNative(w http.ResponseWriter, r *http.Request) {
	s.serveConn(w, r, nativeNS, func(c *conn) session {
		sess := newNativeSession(s, c, r)
		if err := s.hub.Register(sess.peer); err != nil {
			// 144 random bits collided: treat as internal and hang up.
			c.close(closeTryAgainLater, "try again")
			c.finish()
			return nil
		}
		sess.welcome(r)
		return sess
	})
}

// handOff runs the rest of a connection's life (run: its read loop and
// cleanup) in a new goroutine so the HTTP handler can return. The handler
// goroutine holds net/http's per-connection state (the request, its bufio
// buffers, a deep stack) for as long as it runs; returning frees it, which
// roughly halves what an idle connection costs (docs/BENCHMARKS.md).
func (s *Server) handOff(c *conn, proto string, run func()) {
	go func() {
		defer s.connDone(c, proto)
		run()
	}()
}

// connDone accounts for a finished connection.
func (s *Server) connDone(c *conn, proto string) {
	s.metrics.connClosed(proto)
	s.untrack(c)
}

// Shutdown closes every connection with 1001 (going away) and waits for
// their handlers to finish, or for ctx. Idempotent. It does not stop the
// http.Server the handler is mounted in; call this from its
// RegisterOnShutdown or after its Shutdown, since http.Server.Shutdown
// ignores hijacked (WebSocket) connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed && s.pingStop != nil {
		close(s.pingStop)
	}
	s.closed = true
	for c := range s.conns {
		c.close(closeGoingAway, "server shutting down")
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
