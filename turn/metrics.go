package turn

import "github.com/prometheus/client_golang/prometheus"

// Describe implements prometheus.Collector: a *Server is the collector of
// its own veil_turn_* metrics, read from Stats at scrape time. Register it
// in any registry; signaling.New does so when Config.TURN is a *Server.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

func (s *Server) collectors() []prometheus.Collector {
	s.metricsOnce.Do(func() { s.metrics = newCollectors(s) })
	return s.metrics
}

func newCollectors(t *Server) []prometheus.Collector {
	gauge := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(t.Stats()) })
	}
	counter := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(t.Stats()) })
	}
	cs := []prometheus.Collector{
		gauge("veil_turn_allocations", "Live TURN relay allocations.", func(s Stats) float64 { return float64(s.AllocationsActive) }),
		counter("veil_turn_allocations_total", "TURN allocations created.", func(s Stats) float64 { return float64(s.AllocationsTotal) }),
		counter("veil_turn_allocations_refused_total", "TURN allocations refused by a quota.", func(s Stats) float64 { return float64(s.AllocationsRefused) }),
		counter("veil_turn_auth_failures_total", "TURN requests with bad or expired credentials.", func(s Stats) float64 { return float64(s.AuthFailures) }),
		counter("veil_turn_permissions_denied_total", "TURN permissions refused by the peer-address policy.", func(s Stats) float64 { return float64(s.PermissionsDenied) }),
		counter("veil_turn_relay_dropped_total", "Relayed datagrams dropped toward non-allocation ports of the relay address.", func(s Stats) float64 { return float64(s.RelayDropped) }),
		gauge("veil_turn_tcp_connections", "Open TURN TCP and TLS connections.", func(s Stats) float64 { return float64(s.TCPConnections) }),
		gauge("veil_turn_tracked_ips", "Client addresses in the TURN per-address table.", func(s Stats) float64 { return float64(s.TrackedIPs) }),
		counter("veil_turn_allocations_lifetime_ended_total", "TURN allocations closed at --turn-max-allocation-lifetime.", func(s Stats) float64 { return float64(s.AllocationsLifetimeEnded) }),
		counter("veil_turn_allocations_peer_ended_total", "TURN allocations closed because their peer's signaling connection closed.", func(s Stats) float64 { return float64(s.AllocationsPeerEnded) }),
		counter("veil_turn_tcp_first_message_timeouts_total", "TURN TCP/TLS connections closed for not finishing the TLS handshake and sending bytes within --turn-tcp-first-message-timeout.", func(s Stats) float64 { return float64(s.TCPFirstMessageTimeouts) }),
		counter("veil_turn_tcp_idle_timeouts_total", "TURN TCP/TLS connections closed after --turn-tcp-idle-timeout of silence.", func(s Stats) float64 { return float64(s.TCPIdleTimeouts) }),
		counter("veil_turn_accept_errors_total", "Failed accepts on TURN TCP/TLS listeners (such as EMFILE), each followed by a back-off.", func(s Stats) float64 { return float64(s.AcceptErrors) }),
	}
	for _, reason := range RefusalReasons {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "veil_turn_refused_total",
			Help:        "TURN allocations, permissions, requests and TCP connections refused by a cap, by reason.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(t.Stats().Refused[reason]) }))
	}
	return cs
}
