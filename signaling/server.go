package signaling

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/native"
	"github.com/veilrtc/veil/signaling/peerjs"
	"github.com/veilrtc/veil/signaling/vdo"
)

// Server is veil's signaling server: a hub plus the wire protocols at its
// edge, served over HTTP. It does not listen by itself; mount Handler in
// an http.Server. Safe for concurrent use.
type Server struct {
	cfg     Config
	edge    *edge.Server // what the protocols share: hub, connections, limits, metrics
	mux     *http.ServeMux
	handler http.Handler // mux, bounded
	native  *native.Dialect
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := hub.New(hub.Limits{
		MaxRoomPeers:   cfg.MaxRoomPeers,
		MaxPeerRooms:   cfg.MaxPeerRooms,
		MaxPeerStreams: cfg.MaxPeerStreams,
		MaxPeerPlays:   cfg.MaxPeerPlays,
	}, cfg.Directory)
	if cfg.Cluster != nil {
		bus, err := cfg.Cluster.Attach(h)
		if err != nil {
			return nil, fmt.Errorf("%w: Config.Cluster: %v", errInvalidConfig, err)
		}
		h.Federate(bus)
	}
	s := &Server{cfg: cfg, edge: edge.New(cfg.edge(), h)}
	if c, ok := cfg.TURN.(prometheus.Collector); ok {
		// *turn.Server: its veil_turn_* metrics join MetricsHandler.
		if err := s.edge.Metrics.Reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: Config.TURN metrics: %v", errInvalidConfig, err)
		}
	}
	s.mux = http.NewServeMux()
	grace := max(cfg.ResumeGrace, 0)
	s.native = native.New(s.edge, native.Config{ICEServers: cfg.ICEServers, OnPeerGone: cfg.OnPeerGone, ResumeGrace: grace})
	s.mux.Handle("GET /ws", s.native)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /privacy", s.servePrivacy)
	s.mountAssets()
	s.mountTURNCredentials()
	if p := cfg.PeerJS; !p.Disabled {
		peerjs.New(s.edge, p).Mount(s.mux)
		// PeerJS apps fetch TURN credentials next to the dialect.
		s.mux.HandleFunc("GET "+p.Path+p.Key+"/turn", s.serveTURNCredentials)
	}
	if !cfg.VDO.Disabled {
		vdo.New(s.edge, cfg.VDO).Mount(s.mux)
	}
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
// <key>/turn and the info page) and the VDO.Ninja endpoints
// (VDOConfig.Path and FanoutPath), the last two unless disabled. Metrics are apart
// (MetricsHandler). Every request it serves is bounded by RequestTimeout;
// mount it in an http.Server with ReadHeaderTimeout set, on a listener
// from LimitListener. Safe for concurrent use.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the server's Prometheus metrics. Mount it where
// only operators reach it.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.edge.Metrics.Reg, promhttp.HandlerOpts{})
}

// MetricsRegistry is the registry behind MetricsHandler, for embedders that
// add their own aggregate metrics (Config.TURN's are registered already).
func (s *Server) MetricsRegistry() *prometheus.Registry { return s.edge.Metrics.Reg }

// Shutdown closes every connection with 1001 (going away) and waits for
// their handlers to finish, or for ctx. Idempotent. It does not stop the
// http.Server the handler is mounted in; call this from its
// RegisterOnShutdown or after its Shutdown, since http.Server.Shutdown
// ignores hijacked (WebSocket) connections.
// Sessions parked for a resume end then too.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.edge.Shutdown(ctx)
	s.native.Shutdown()
	return err
}
