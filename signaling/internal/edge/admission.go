package edge

import (
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Admission and rate limiting. Every protocol calls the same hooks: admit
// before a WebSocket upgrade (Server.Admit for an HTTP request that
// opens no socket), Limiter.allowMessage for every client message
// (Server.AdmitMessage) and allowAction for join, publish and play
// (Server.CheckAction).

const (
	// RetryAfterBusy is the Retry-After of a refusal that no bucket times:
	// the server or the address is at its connection cap.
	RetryAfterBusy = 10 * time.Second
	// ipIdleMin is how long a per-IP entry outlives its last connection at
	// least; it also lives until its connect bucket has refilled, so
	// forgetting an address never hands it a fresh burst early.
	ipIdleMin = time.Minute
	// ipSweepInterval spaces the sweeps of idle per-IP entries. Sweeps run
	// lazily from admit, so no goroutine is needed.
	ipSweepInterval = 30 * time.Second
	// maxTrackedIPs bounds the per-IP table (about 200 bytes an entry).
	// When it is full of live entries, unknown addresses are refused with
	// 503 rather than letting someone with a large address block grow our
	// memory without bound.
	maxTrackedIPs = 1 << 17
	// refusalLogInterval spaces the log lines that summarise refused
	// connections: an operator learns of a flood without a line per attempt.
	refusalLogInterval = time.Minute
)

// Limit names, the values of veil_rate_limited_total's "limit" label.
const (
	LimitConnections   = "connections"
	LimitIPConnections = "ip-connections"
	LimitConnectRate   = "connect-rate"
	LimitIPTable       = "ip-table"
	LimitCredentials   = "credential-rate"
)

// perSecond turns a configured rate into a rate.Limit; negative is no limit.
func perSecond(n int) rate.Limit {
	if n < 0 {
		return rate.Inf
	}
	return rate.Limit(n)
}

// admission holds the global and per-IP connection accounting. Safe for
// concurrent use.
type admission struct {
	max, maxPerIP int // <= 0: no cap
	connRate      rate.Limit
	connBurst     int
	credRate      rate.Limit // TURN credential sets per second per address
	credBurst     int
	perIP         bool          // any per-IP limit is on
	ipTTL         time.Duration // how long an idle entry is kept
	trusted       []netip.Prefix
	hash          ipHasher
	log           *slog.Logger
	now           func() time.Time // time.Now; tests move it

	open        atomic.Int64 // admitted connections not yet released
	proxyWarned atomic.Bool  // the untrusted local proxy warning was logged

	mu        sync.Mutex // guards the following fields
	ips       map[ipKey]*ipEntry
	lastSweep time.Time
	refused   map[string]int // refusals by limit since lastLog
	lastLog   time.Time
}

// ipEntry is one client address's (IPv6: /64's) account.
type ipEntry struct {
	conns  int           // open connections
	bucket *rate.Limiter // new connections
	creds  *rate.Limiter // TURN credential sets; nil until the first
	last   time.Time     // last admit or release
}

func newAdmission(c Config) *admission {
	a := &admission{
		max:       c.MaxConnections,
		maxPerIP:  c.MaxConnectionsPerIP,
		connRate:  rate.Inf,
		connBurst: c.ConnectBurstPerIP,
		trusted:   c.TrustedProxies,
		hash:      newIPHasher(),
		log:       c.Logger,
		now:       time.Now,
		ips:       make(map[ipKey]*ipEntry),
		refused:   make(map[string]int),
	}
	if c.ConnectRatePerIP > 0 {
		a.connRate = rate.Limit(float64(c.ConnectRatePerIP) / 60)
	}
	if a.connBurst < 1 {
		a.connBurst = 1 // unused with rate.Inf, but a limiter needs one
	}
	a.credRate, a.credBurst = rate.Inf, max(1, c.CredentialBurstPerIP)
	if c.CredentialRatePerIP > 0 {
		a.credRate = rate.Limit(float64(c.CredentialRatePerIP) / 60)
	}
	a.perIP = a.maxPerIP > 0 || a.connRate != rate.Inf
	a.ipTTL = ipIdleMin
	for _, b := range []struct {
		r rate.Limit
		n int
	}{{a.connRate, a.connBurst}, {a.credRate, a.credBurst}} {
		if b.r != rate.Inf {
			refill := time.Duration(float64(b.n) / float64(b.r) * float64(time.Second))
			a.ipTTL = max(a.ipTTL, refill)
		}
	}
	return a
}

// Admit decides whether a new connection from r may open. When it refuses
// it has already answered w (429 for a per-IP limit, 503 when the server
// is full, each with Retry-After). release must be called when the
// connection ends; calling it again does nothing.
func (s *Server) Admit(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	return s.adm.admit(w, r, s.Metrics)
}

// AllowCredentials spends one of the TURN credential tokens of r's client
// address, or answers w (429 with Retry-After; 503 when the address table
// is full) and reports false.
func (s *Server) AllowCredentials(w http.ResponseWriter, r *http.Request) bool {
	return s.adm.allowCredentials(w, r, s.Metrics)
}

// Admitted is how many admitted connections are open.
func (s *Server) Admitted() int64 { return s.adm.open.Load() }

func (a *admission) admit(w http.ResponseWriter, r *http.Request, m *Metrics) (release func(), ok bool) {
	if a.max > 0 && a.open.Add(1) > int64(a.max) {
		a.open.Add(-1)
		a.refuse(w, m, LimitConnections, http.StatusServiceUnavailable, RetryAfterBusy)
		return nil, false
	} else if a.max <= 0 {
		a.open.Add(1)
	}
	var e *ipEntry
	if a.perIP && !a.exempt(r) {
		var (
			limit string
			wait  time.Duration
		)
		e, limit, wait = a.admitIP(clientAddr(r.RemoteAddr, r.Header, a.trusted))
		if e == nil {
			a.open.Add(-1)
			status := http.StatusTooManyRequests
			if limit == LimitIPTable {
				status = http.StatusServiceUnavailable
			}
			a.refuse(w, m, limit, status, wait)
			return nil, false
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			a.open.Add(-1)
			if e != nil {
				a.mu.Lock()
				e.conns--
				e.last = a.now()
				a.mu.Unlock()
			}
		})
	}, true
}

// exempt reports whether r skips the per-IP limits: its socket peer is
// loopback and not a trusted proxy. Such a peer is this host: tooling, or
// a local reverse proxy the operator has not declared, in which case every
// client would share one account and a single flooder would lock everyone
// out. The global cap and the per-connection limits still apply, and the
// operator is told once how to fix the proxy case.
func (a *admission) exempt(r *http.Request) bool {
	peer := parseHop(r.RemoteAddr)
	if !peer.IsLoopback() || inPrefixes(peer, a.trusted) {
		return false
	}
	if (r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "") && a.proxyWarned.CompareAndSwap(false, true) {
		a.log.Warn("requests arrive through a local proxy that is not trusted, so per-IP limits cannot see clients; " +
			"declare it with --trusted-proxy (Config.TrustedProxies)")
	}
	return true
}

// admitIP counts a new connection against addr's account, or returns the
// limit it hit and how long to wait.
func (a *admission) admitIP(addr netip.Addr) (e *ipEntry, limit string, wait time.Duration) {
	k := a.hash.key(addr)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweepLocked(now)
	e = a.ips[k]
	if e == nil {
		if len(a.ips) >= maxTrackedIPs {
			return nil, LimitIPTable, RetryAfterBusy
		}
		e = &ipEntry{bucket: rate.NewLimiter(a.connRate, a.connBurst)}
		a.ips[k] = e
	}
	e.last = now
	if a.maxPerIP > 0 && e.conns >= a.maxPerIP {
		return nil, LimitIPConnections, RetryAfterBusy
	}
	if !e.bucket.AllowN(now, 1) {
		missing := 1 - e.bucket.TokensAt(now)
		return nil, LimitConnectRate, time.Duration(missing / float64(a.connRate) * float64(time.Second))
	}
	e.conns++
	return e, "", 0
}

// allowCredentials spends one of the credential tokens of r's client
// address, or answers w (429 with Retry-After; 503 when the address table
// is full) and reports false. Exempt requests (see exempt) always pass.
func (a *admission) allowCredentials(w http.ResponseWriter, r *http.Request, m *Metrics) bool {
	if a.credRate == rate.Inf || a.exempt(r) {
		return true
	}
	k := a.hash.key(clientAddr(r.RemoteAddr, r.Header, a.trusted))
	now := a.now()
	a.mu.Lock()
	a.sweepLocked(now)
	e := a.ips[k]
	if e == nil && len(a.ips) < maxTrackedIPs {
		e = &ipEntry{bucket: rate.NewLimiter(a.connRate, a.connBurst)}
		a.ips[k] = e
	}
	var wait time.Duration
	ok := e != nil
	if ok {
		e.last = now
		if e.creds == nil {
			e.creds = rate.NewLimiter(a.credRate, a.credBurst)
		}
		if ok = e.creds.AllowN(now, 1); !ok {
			wait = time.Duration((1 - e.creds.TokensAt(now)) / float64(a.credRate) * float64(time.Second))
		}
	}
	a.mu.Unlock()
	switch {
	case e == nil:
		a.refuse(w, m, LimitIPTable, http.StatusServiceUnavailable, RetryAfterBusy)
	case !ok:
		a.refuse(w, m, LimitCredentials, http.StatusTooManyRequests, wait)
	}
	return ok
}

// sweepLocked forgets idle entries, at most every ipSweepInterval. An
// entry is idle when it has no connection and its bucket has had time to
// refill. a.mu must be held.
func (a *admission) sweepLocked(now time.Time) {
	if now.Sub(a.lastSweep) < ipSweepInterval {
		return
	}
	a.lastSweep = now
	for k, e := range a.ips {
		if e.conns == 0 && now.Sub(e.last) >= a.ipTTL {
			delete(a.ips, k)
		}
	}
}

// trackedIPs is the size of the per-IP table (tests, and memory reasoning).
func (a *admission) trackedIPs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ips)
}

// refuse answers a refused upgrade before any WebSocket exists, counts it
// and now and then logs a summary. Nothing about the client is logged.
func (a *admission) refuse(w http.ResponseWriter, m *Metrics, limit string, status int, wait time.Duration) {
	m.RateLimited(limit)
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := "too many connections from your network; retry later"
	if status == http.StatusServiceUnavailable {
		msg = "server is busy; retry later"
	}
	http.Error(w, msg, status)

	now := a.now()
	a.mu.Lock()
	a.refused[limit]++
	if now.Sub(a.lastLog) < refusalLogInterval {
		a.mu.Unlock()
		return
	}
	a.lastLog = now
	attrs := make([]any, 0, 2*len(a.refused))
	for _, l := range slices.Sorted(maps.Keys(a.refused)) {
		attrs = append(attrs, l, a.refused[l])
	}
	clear(a.refused)
	a.mu.Unlock()
	a.log.Info("connections refused by abuse limits", attrs...)
}

// Limiter holds one connection's message, byte and action budgets. A
// nil bucket is unlimited. Used only by the connection's reader goroutine.
type Limiter struct {
	msgs, bytes, actions *rate.Limiter
	log                  *slog.Logger
	warned               bool // logged this connection's first overrun
}

// NewLimiter returns the budgets of a new connection.
func (s *Server) NewLimiter() *Limiter {
	c := s.Config
	l := &Limiter{log: s.Log}
	if c.MessageRate > 0 {
		l.msgs = rate.NewLimiter(perSecond(c.MessageRate), max(1, c.MessageBurst))
	}
	if c.ByteRate > 0 {
		l.bytes = rate.NewLimiter(perSecond(c.ByteRate), max(c.ByteBurst, c.MaxMessageBytes))
	}
	if c.ActionRate > 0 {
		l.actions = rate.NewLimiter(perSecond(c.ActionRate), max(1, c.ActionBurst))
	}
	return l
}

// allowMessage reports whether a message of n bytes is within budget.
func (l *Limiter) allowMessage(n int) bool {
	now := time.Now()
	ok := (l.msgs == nil || l.msgs.AllowN(now, 1)) && (l.bytes == nil || l.bytes.AllowN(now, n))
	if !ok {
		l.overrun("messages")
	}
	return ok
}

// allowAction reports whether a join, publish or play is within budget.
func (l *Limiter) allowAction() bool {
	ok := l.actions == nil || l.actions.Allow()
	if !ok {
		l.overrun("actions")
	}
	return ok
}

// overrun logs, once per connection and at debug level, that it went over
// a budget: enough to see the limits work without a line per message.
func (l *Limiter) overrun(budget string) {
	if l.warned {
		return
	}
	l.warned = true
	l.log.Debug("connection over its rate limit", "budget", budget)
}
