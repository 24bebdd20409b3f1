package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's aggregate counters; labels come from fixed sets.
type metrics struct {
	nodes       atomic.Int64 // other nodes alive and in sync
	remotePeers atomic.Int64
	sent        atomic.Uint64
	received    atomic.Uint64
	signals     atomic.Uint64 // signals from other nodes delivered here
	resyncs     atomic.Uint64
	conflicts   atomic.Uint64
	moves       atomic.Uint64 // remote peers re-pointed to the node they moved to

	mu      sync.Mutex // guards the following fields
	drops   map[string]uint64
	lostWhy map[string]uint64
}

func (m *metrics) dropped(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drops == nil {
		m.drops = make(map[string]uint64)
	}
	m.drops[reason]++
}

func (m *metrics) lost(why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lostWhy == nil {
		m.lostWhy = make(map[string]uint64)
	}
	m.lostWhy[why]++
}

var (
	descConnected   = prometheus.NewDesc("veil_cluster_connected", "1 while this node reaches NATS, 0 while it serves its local peers only.", nil, nil)
	descNodes       = prometheus.NewDesc("veil_cluster_nodes", "Other nodes this node sees alive and in sync.", nil, nil)
	descRemotePeers = prometheus.NewDesc("veil_cluster_remote_peers", "Peers of other nodes known to this node's hub.", nil, nil)
	descSent        = prometheus.NewDesc("veil_cluster_messages_sent_total", "Sealed messages this node sent to NATS.", nil, nil)
	descReceived    = prometheus.NewDesc("veil_cluster_messages_received_total", "Sealed messages from other nodes this node opened.", nil, nil)
	descSignals     = prometheus.NewDesc("veil_cluster_signals_delivered_total", "Signals from peers on other nodes delivered to peers here.", nil, nil)
	descResyncs     = prometheus.NewDesc("veil_cluster_snapshots_applied_total", "Other nodes' snapshots applied (a node found, or a lost change repaired).", nil, nil)
	descConflicts   = prometheus.NewDesc("veil_cluster_publish_conflicts_total", "Streams published on two nodes at once, settled for the smaller peer id.", nil, nil)
	descMoves       = prometheus.NewDesc("veil_cluster_peer_moves_total", "Peers of other nodes seen moving to another node (a session resumed there).", nil, nil)
	descDropped     = prometheus.NewDesc("veil_cluster_dropped_total", "Messages between nodes dropped, by reason.", []string{"reason"}, nil)
	descLost        = prometheus.NewDesc("veil_cluster_nodes_lost_total", "Other nodes forgotten: bye (shut down) or silent (dead or unreachable).", []string{"why"}, nil)
)

// Describe implements prometheus.Collector.
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descNodes, descRemotePeers, descSent, descReceived, descSignals, descResyncs, descConflicts, descMoves, descDropped, descLost} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	m := &n.m
	up := 0.0
	if n.connected.Load() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(m.nodes.Load()))
	ch <- prometheus.MustNewConstMetric(descRemotePeers, prometheus.GaugeValue, float64(m.remotePeers.Load()))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(m.sent.Load()))
	ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(m.received.Load()))
	ch <- prometheus.MustNewConstMetric(descSignals, prometheus.CounterValue, float64(m.signals.Load()))
	ch <- prometheus.MustNewConstMetric(descResyncs, prometheus.CounterValue, float64(m.resyncs.Load()))
	ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.CounterValue, float64(m.conflicts.Load()))
	ch <- prometheus.MustNewConstMetric(descMoves, prometheus.CounterValue, float64(m.moves.Load()))
	m.mu.Lock()
	defer m.mu.Unlock()
	for r, v := range m.drops {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(v), r)
	}
	for w, v := range m.lostWhy {
		ch <- prometheus.MustNewConstMetric(descLost, prometheus.CounterValue, float64(v), w)
	}
}
