package turn

import "github.com/prometheus/client_golang/prometheus"

// Transport names: the client's transport to the server, the "transport"
// label of veil_turn_allocations and veil_turn_allocations_total.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// Transports lists every transport, for exporting one series each.
var Transports = []string{TransportUDP, TransportTCP, TransportTLS}

// Directions of relayed traffic, the "direction" label of
// veil_turn_relayed_packets_total and veil_turn_relayed_bytes_total: sent
// by relay sockets to peers, and received by them from peers.
const (
	DirectionToPeer   = "to_peer"
	DirectionFromPeer = "from_peer"
)

// Describe implements prometheus.Collector: a *Server is the collector of
// its own veil_turn_* metrics, read from one Stats snapshot per scrape.
// Register it in any registry; signaling.New does so when Config.TURN is a
// *Server. Every series is aggregate: no label names a user, a peer or an
// address.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range turnMetrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	st := s.Stats()
	for _, m := range turnMetrics {
		m.collect(st, func(v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
		})
	}
}

// turnMetric is one metric family and how to read its series from Stats.
type turnMetric struct {
	desc    *prometheus.Desc
	kind    prometheus.ValueType
	collect func(st Stats, emit func(v float64, labels ...string))
}

func gauge(name, help string, f func(Stats) float64) turnMetric {
	return scalar(name, help, prometheus.GaugeValue, f)
}

func counter(name, help string, f func(Stats) uint64) turnMetric {
	return scalar(name, help, prometheus.CounterValue, func(st Stats) float64 { return float64(f(st)) })
}

func scalar(name, help string, kind prometheus.ValueType, f func(Stats) float64) turnMetric {
	return turnMetric{
		desc:    prometheus.NewDesc(name, help, nil, nil),
		kind:    kind,
		collect: func(st Stats, emit func(float64, ...string)) { emit(f(st)) },
	}
}

// labeled is a family with one series per value of label.
func labeled(name, help string, kind prometheus.ValueType, label string, values []string, f func(Stats, string) float64) turnMetric {
	return turnMetric{
		desc: prometheus.NewDesc(name, help, []string{label}, nil),
		kind: kind,
		collect: func(st Stats, emit func(float64, ...string)) {
			for _, v := range values {
				emit(f(st, v), v)
			}
		},
	}
}

var directions = []string{DirectionToPeer, DirectionFromPeer}

func (st Stats) relayed(direction string) Traffic {
	if direction == DirectionToPeer {
		return st.RelayedToPeer
	}
	return st.RelayedFromPeer
}

var turnMetrics = []turnMetric{
	labeled("veil_turn_allocations", "Live TURN relay allocations, by the client's transport to the server.",
		prometheus.GaugeValue, "transport", Transports,
		func(st Stats, t string) float64 { return float64(st.AllocationsActiveByTransport[t]) }),
	labeled("veil_turn_allocations_total", "TURN allocations created, by the client's transport to the server.",
		prometheus.CounterValue, "transport", Transports,
		func(st Stats, t string) float64 { return float64(st.AllocationsByTransport[t]) }),
	labeled("veil_turn_relayed_packets_total", "Datagrams relay sockets sent to peers (to_peer) and received from peers (from_peer).",
		prometheus.CounterValue, "direction", directions,
		func(st Stats, d string) float64 { return float64(st.relayed(d).Packets) }),
	labeled("veil_turn_relayed_bytes_total", "Payload bytes relay sockets sent to peers (to_peer) and received from peers (from_peer).",
		prometheus.CounterValue, "direction", directions,
		func(st Stats, d string) float64 { return float64(st.relayed(d).Bytes) }),
	counter("veil_turn_allocations_refused_total", "TURN allocations refused by a quota.", func(st Stats) uint64 { return st.AllocationsRefused }),
	counter("veil_turn_auth_failures_total", "TURN requests with bad or expired credentials.", func(st Stats) uint64 { return st.AuthFailures }),
	counter("veil_turn_permissions_denied_total", "TURN permissions refused by the peer-address policy.", func(st Stats) uint64 { return st.PermissionsDenied }),
	counter("veil_turn_relay_dropped_total", "Relayed datagrams dropped toward non-allocation ports of the relay address.", func(st Stats) uint64 { return st.RelayDropped }),
	counter("veil_turn_relay_queue_dropped_total", "Datagrams between two allocations of this server dropped because the receiving one's queue was full.", func(st Stats) uint64 { return st.RelayQueueDropped }),
	gauge("veil_turn_tcp_connections", "Open TURN TCP and TLS connections.", func(st Stats) float64 { return float64(st.TCPConnections) }),
	gauge("veil_turn_tracked_ips", "Client addresses in the TURN per-address table.", func(st Stats) float64 { return float64(st.TrackedIPs) }),
	counter("veil_turn_allocations_lifetime_ended_total", "TURN allocations closed at --turn-max-allocation-lifetime.", func(st Stats) uint64 { return st.AllocationsLifetimeEnded }),
	counter("veil_turn_allocations_peer_ended_total", "TURN allocations closed because their peer's signaling connection closed.", func(st Stats) uint64 { return st.AllocationsPeerEnded }),
	counter("veil_turn_ended_record_overflows_total", "Times more sessions ended within one credential lifetime than the record of ended peers holds; credentials issued until then stopped allocating.", func(st Stats) uint64 { return st.EndedRecordOverflows }),
	counter("veil_turn_tcp_first_message_timeouts_total", "TURN TCP/TLS connections closed for not finishing the TLS handshake and sending bytes within --turn-tcp-first-message-timeout.", func(st Stats) uint64 { return st.TCPFirstMessageTimeouts }),
	counter("veil_turn_tcp_idle_timeouts_total", "TURN TCP/TLS connections closed after --turn-tcp-idle-timeout of silence.", func(st Stats) uint64 { return st.TCPIdleTimeouts }),
	counter("veil_turn_accept_errors_total", "Failed accepts on TURN TCP/TLS listeners (such as EMFILE), each followed by a back-off.", func(st Stats) uint64 { return st.AcceptErrors }),
	labeled("veil_turn_refused_total", "TURN allocations, permissions, requests and TCP connections refused by a cap, by reason.",
		prometheus.CounterValue, "reason", RefusalReasons,
		func(st Stats, r string) float64 { return float64(st.Refused[r]) }),
}
