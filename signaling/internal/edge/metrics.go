package edge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/veilrtc/veil/signaling/hub"
)

// Metrics are aggregate counters only: no label ever holds an id, a name or
// an address. Label values come from fixed sets (message types, error
// codes, limit names), so a client cannot grow the label space. Safe for
// concurrent use.
type Metrics struct {
	// Reg is the registry every veil_* metric of the server is in.
	Reg         *prometheus.Registry
	conns       *prometheus.GaugeVec
	connsTotal  *prometheus.CounterVec
	messages    *prometheus.CounterVec
	errs        *prometheus.CounterVec
	limited     *prometheus.CounterVec
	dropped     prometheus.Counter
	relayedMsgs prometheus.Counter
	addrRefused prometheus.Counter
	httpConns   prometheus.Gauge // open through a LimitListener
}

// knownTypes bounds the "type" label of veil_messages_total.
var knownTypes = map[string]bool{
	"join": true, "leave": true, "publish": true, "unpublish": true, "play": true,
	"signal": true, "debug": true, "ping": true,
}

func newMetrics(h *hub.Hub, q *sendBudget) *Metrics {
	m := &Metrics{
		Reg: prometheus.NewRegistry(),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "veil_connections", Help: "Open signaling connections by protocol.",
		}, []string{"protocol"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_connections_total", Help: "Signaling connections accepted by protocol.",
		}, []string{"protocol"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_messages_total", Help: "Client messages received by type.",
		}, []string{"type"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_errors_total", Help: "Errors sent to clients by code.",
		}, []string{"code"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_rate_limited_total", Help: "Requests refused by a rate limit or cap, by limit.",
		}, []string{"limit"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "veil_candidates_dropped_total", Help: "ICE candidates removed by the relay filter.",
		}),
		relayedMsgs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "veil_signals_relayed_total", Help: "Signal and debug messages delivered to a peer.",
		}),
		addrRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "veil_address_refused_total",
			Help: "Messages of relay-filtered senders refused because they would still carry an address after filtering.",
		}),
		httpConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "veil_http_connections", Help: "TCP connections open through LimitListener.",
		}),
	}
	m.Reg.MustRegister(m.conns, m.connsTotal, m.messages, m.errs, m.limited, m.dropped, m.relayedMsgs, m.addrRefused, m.httpConns,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "veil_rooms", Help: "Rooms with at least one member."},
			func() float64 { return float64(h.Rooms()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "veil_streams", Help: "Streams published or awaited."},
			func() float64 { return float64(h.Streams()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "veil_send_queue_bytes", Help: "Bytes of frames waiting in send queues, all connections together.",
		}, func() float64 { return float64(q.used.Load()) }),
	)
	return m
}

// Message counts a client message of type typ (veil_messages_total); a
// type outside the known set counts as "other".
func (m *Metrics) Message(typ string) {
	if !knownTypes[typ] {
		typ = "other"
	}
	m.messages.WithLabelValues(typ).Inc()
}

// Error counts an error sent to a client (veil_errors_total).
func (m *Metrics) Error(c hub.Code) { m.errs.WithLabelValues(string(c)).Inc() }

// RateLimited counts a refusal by a limit or cap (veil_rate_limited_total);
// limit is one of a fixed set of names.
func (m *Metrics) RateLimited(limit string) { m.limited.WithLabelValues(limit).Inc() }

// CandidatesDropped counts candidates the relay filter removed.
func (m *Metrics) CandidatesDropped(n int) { m.dropped.Add(float64(n)) }

// Relayed counts a signal or debug message delivered to a peer.
func (m *Metrics) Relayed() { m.relayedMsgs.Inc() }

func (m *Metrics) addressRefused() { m.addrRefused.Inc() }

func (m *Metrics) connOpened(proto string) {
	m.conns.WithLabelValues(proto).Inc()
	m.connsTotal.WithLabelValues(proto).Inc()
}

func (m *Metrics) connClosed(proto string) { m.conns.WithLabelValues(proto).Dec() }
