package edge

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// Parking: a resumable session whose connection dropped keeps its hub peer
// for a grace window (the native protocol's resume, docs/PROTOCOL.md). What
// a parked session holds is bounded like what a connection holds: parked
// sessions are capped per client address (IPv6: per /64) and in total, and
// the frames held for one spend the same byte budget as the send queues.
// A parked session holds no connection slot: its resume must not be
// refused because the session it resumes holds the address's last one.

// parking counts parked sessions per client address and in total. Safe for
// concurrent use.
type parking struct {
	max, maxPerIP int // <= 0: no cap
	adm           *admission

	mu    sync.Mutex // guards the following fields
	total int
	perIP map[ipKey]int

	gauge   prometheus.Gauge
	results *prometheus.CounterVec
}

// Resume outcomes, the values of veil_resumes_total's "result" label.
const (
	ResumeOK      = "ok"      // a parked session was resumed
	ResumeFailed  = "failed"  // an unknown, used or expired token
	ResumeExpired = "expired" // a parked session ended unresumed
	ResumeRefused = "refused" // a session could not park (a cap)
	ResumeMoved   = "moved"   // a parked session was handed to another node of the cluster
)

func newParking(c Config, adm *admission, reg *prometheus.Registry) *parking {
	p := &parking{
		max: c.MaxParked, maxPerIP: c.MaxParkedPerIP, adm: adm,
		perIP: make(map[ipKey]int),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "veil_parked_sessions", Help: "Sessions whose connection dropped, held for a resume within the grace window.",
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_resumes_total", Help: "Parked sessions by outcome: ok, failed (bad token), expired, refused (a parking cap), moved (to another node).",
		}, []string{"result"}),
	}
	reg.MustRegister(p.gauge, p.results)
	return p
}

// ParkKey is the account a session parks under: its client address's
// keyed hash (IPv6: the /64's), or none for an exempt address.
type ParkKey struct {
	k      ipKey
	exempt bool
}

// ParkKeyOf returns the parking account of the connection opened by r.
// Addresses exempt from the per-address connection limits (loopback that
// is not a trusted proxy) are exempt from the per-address parking cap too.
func (s *Server) ParkKeyOf(r *http.Request) ParkKey {
	p := s.parking
	if p.maxPerIP <= 0 || p.adm.exempt(r) {
		return ParkKey{exempt: true}
	}
	return ParkKey{k: p.adm.hash.key(clientAddr(r.RemoteAddr, r.Header, p.adm.trusted))}
}

// Park counts a session as parked under key, or reports false when its
// client address or the server is at its parking cap (Config.MaxParked,
// MaxParkedPerIP). unpark must be called once the session ends or
// resumes; calling it again does nothing.
func (s *Server) Park(key ParkKey) (unpark func(), ok bool) {
	p := s.parking
	k, perIP := key.k, p.maxPerIP > 0 && !key.exempt
	p.mu.Lock()
	if (p.max > 0 && p.total >= p.max) || (perIP && p.perIP[k] >= p.maxPerIP) {
		p.mu.Unlock()
		p.results.WithLabelValues(ResumeRefused).Inc()
		s.Metrics.RateLimited(LimitParked)
		return nil, false
	}
	p.total++
	if perIP {
		p.perIP[k]++
	}
	p.mu.Unlock()
	p.gauge.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.total--
			if perIP {
				if p.perIP[k]--; p.perIP[k] <= 0 {
					delete(p.perIP, k)
				}
			}
			p.mu.Unlock()
			p.gauge.Dec()
		})
	}, true
}

// LimitParked names the parking caps in veil_rate_limited_total.
const LimitParked = "parked"

// ResumeResult counts a resume outcome (ResumeOK, ...).
func (s *Server) ResumeResult(result string) {
	s.parking.results.WithLabelValues(result).Inc()
}

// Parked is how many sessions are parked.
func (s *Server) Parked() int {
	s.parking.mu.Lock()
	defer s.parking.mu.Unlock()
	return s.parking.total
}

// ReserveHeld spends n bytes of the Server's send-queue budget
// (Config.MaxQueuedBytes) on a frame held for a parked session, or reports
// false when the budget is spent. ReleaseHeld gives them back.
func (s *Server) ReserveHeld(n int64) bool {
	b := s.queued
	if b.max > 0 && b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	if b.max <= 0 {
		b.used.Add(n)
	}
	return true
}

// ReleaseHeld gives back bytes ReserveHeld spent.
func (s *Server) ReleaseHeld(n int64) { s.queued.used.Add(-n) }

// Closing reports whether Shutdown has begun: a session closing now must
// not park.
func (s *Server) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// PeerCloseCode is the close code the client sent (1000, 1001, ...), or 0
// when the connection ended without a close frame from it (a drop).
// Meaningful once the read loop has ended.
func (c *Conn) PeerCloseCode() int { return int(c.peerCode.Load()) }

// ServerCloseCode is the close code veil closed the connection with
// (Close), or 0 when it did not close it.
func (c *Conn) ServerCloseCode() int { return int(c.serverCode.Load()) }

// notePeerClose records the client's close code from a read error.
func (c *Conn) notePeerClose(err error) {
	if ce, ok := err.(*websocket.CloseError); ok {
		c.peerCode.Store(int32(ce.Code))
	}
}
