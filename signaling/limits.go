package signaling

import (
	"fmt"
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
// before a WebSocket upgrade (or an HTTP credential request), allowMessage
// for every client message and allowAction for join, publish and play.

// Named defaults of the abuse limits (README configuration table). In
// Config a zero field means the default and a negative one means no limit.
const (
	// DefaultMaxConnections caps open connections in total; beyond it new
	// upgrades get 503 with Retry-After.
	DefaultMaxConnections = 10000
	// DefaultMaxConnectionsPerIP caps open connections per client address
	// (IPv6: per /64). Generous because a NAT can put an office behind one
	// address.
	DefaultMaxConnectionsPerIP = 64
	// DefaultConnectRatePerIP is how many new connections per minute one
	// client address may open once its burst is spent.
	DefaultConnectRatePerIP = 60
	// DefaultConnectBurstPerIP is how many connections one client address
	// may open at once.
	DefaultConnectBurstPerIP = 30
	// DefaultMessageRate is the sustained messages per second of one
	// connection.
	DefaultMessageRate = 50
	// DefaultMessageBurst lets a connection send this many messages at
	// once: joining a full room and offering to every member with trickled
	// candidates takes a few hundred.
	DefaultMessageBurst = 200
	// DefaultActionRate is the sustained joins, publishes and plays per
	// second of one connection.
	DefaultActionRate = 5
	// DefaultActionBurst is how many joins, publishes and plays a connection
	// may send at once.
	DefaultActionBurst = 20
	// DefaultByteRate is the sustained bytes per second one connection may
	// send.
	DefaultByteRate = 256 << 10
	// DefaultByteBurst is how many bytes one connection may send at once;
	// never below MaxMessageBytes, or a largest message could never pass.
	DefaultByteBurst = 1 << 20
	// DefaultCredentialRatePerIP is how many TURN credential sets per
	// minute one client address may fetch from /turn-credentials once its
	// burst is spent. Each set is for a fresh id; the TURN server caps
	// allocations per address as well, this keeps the sets few.
	DefaultCredentialRatePerIP = 20
	// DefaultCredentialBurstPerIP is how many credential sets one client
	// address may fetch at once: an office behind one NAT joining a
	// meeting together.
	DefaultCredentialBurstPerIP = 20
)

const (
	// retryAfterBusy is the Retry-After of a refusal that no bucket times:
	// the server or the address is at its connection cap.
	retryAfterBusy = 10 * time.Second
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
	limitConnections   = "connections"
	limitIPConnections = "ip-connections"
	limitConnectRate   = "connect-rate"
	limitIPTable       = "ip-table"
	limitCredentials   = "credential-rate"
)

// withLimitDefaults fills the abuse limits' zero fields.
func (c Config) withLimitDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxConnections, DefaultMaxConnections)
	// The listener caps follow the WebSocket caps, with headroom for plain
	// requests, unless set; no WebSocket cap means no listener cap.
	def(&c.MaxHTTPConnections, httpConnCap(c.MaxConnections, httpConnHeadroom))
	def(&c.MaxHTTPConnectionsPerIP, httpConnCap(c.MaxConnectionsPerIP, c.MaxConnectionsPerIP))
	def(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	def(&c.ConnectRatePerIP, DefaultConnectRatePerIP)
	def(&c.ConnectBurstPerIP, DefaultConnectBurstPerIP)
	def(&c.MessageRate, DefaultMessageRate)
	def(&c.MessageBurst, DefaultMessageBurst)
	def(&c.ActionRate, DefaultActionRate)
	def(&c.ActionBurst, DefaultActionBurst)
	def(&c.ByteRate, DefaultByteRate)
	def(&c.CredentialRatePerIP, DefaultCredentialRatePerIP)
	def(&c.CredentialBurstPerIP, DefaultCredentialBurstPerIP)
	if c.ByteBurst == 0 {
		c.ByteBurst = max(DefaultByteBurst, c.MaxMessageBytes)
	}
	// Proxies are compared with unmapped client addresses, so unmap them
	// too; copy first, the caller's slice is not ours to rewrite.
	c.TrustedProxies = slices.Clone(c.TrustedProxies)
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			continue // validateLimits reports it
		}
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() {
			addr, bits = addr.Unmap(), max(0, bits-96)
		}
		c.TrustedProxies[i] = netip.PrefixFrom(addr.WithZone(""), bits).Masked()
	}
	if c.ListenerExempt == nil {
		trusted := c.TrustedProxies
		c.ListenerExempt = func(a netip.Addr) bool { return a.IsLoopback() || inPrefixes(a, trusted) }
	}
	return c
}

// httpConnCap is a WebSocket cap plus headroom, or -1 (none) without one.
func httpConnCap(wsCap, headroom int) int {
	if wsCap < 0 {
		return -1
	}
	return wsCap + headroom
}

// validateLimits checks the abuse limits and access control fields.
func (c Config) validateLimits() error {
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return fmt.Errorf("%w: TrustedProxies holds an invalid prefix", errInvalidConfig)
		}
	}
	if c.ByteBurst > 0 && c.ByteBurst < c.MaxMessageBytes {
		return fmt.Errorf("%w: ByteBurst (%d) must be at least MaxMessageBytes (%d)", errInvalidConfig, c.ByteBurst, c.MaxMessageBytes)
	}
	return c.validateAuth()
}

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

// admit decides whether a new connection from r may open. When it refuses
// it has already answered w (429 for a per-IP limit, 503 when the server
// is full, each with Retry-After). release must be called when the
// connection ends; calling it again does nothing.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	return s.adm.admit(w, r, s.metrics)
}

func (a *admission) admit(w http.ResponseWriter, r *http.Request, m *metrics) (release func(), ok bool) {
	if a.max > 0 && a.open.Add(1) > int64(a.max) {
		a.open.Add(-1)
		a.refuse(w, m, limitConnections, http.StatusServiceUnavailable, retryAfterBusy)
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
			if limit == limitIPTable {
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
			return nil, limitIPTable, retryAfterBusy
		}
		e = &ipEntry{bucket: rate.NewLimiter(a.connRate, a.connBurst)}
		a.ips[k] = e
	}
	e.last = now
	if a.maxPerIP > 0 && e.conns >= a.maxPerIP {
		return nil, limitIPConnections, retryAfterBusy
	}
	if !e.bucket.AllowN(now, 1) {
		missing := 1 - e.bucket.TokensAt(now)
		return nil, limitConnectRate, time.Duration(missing / float64(a.connRate) * float64(time.Second))
	}
	e.conns++
	return e, "", 0
}

// allowCredentials spends one of the credential tokens of r's client
// address, or answers w (429 with Retry-After; 503 when the address table
// is full) and reports false. Exempt requests (see exempt) always pass.
func (a *admission) allowCredentials(w http.ResponseWriter, r *http.Request, m *metrics) bool {
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
		a.refuse(w, m, limitIPTable, http.StatusServiceUnavailable, retryAfterBusy)
	case !ok:
		a.refuse(w, m, limitCredentials, http.StatusTooManyRequests, wait)
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
func (a *admission) refuse(w http.ResponseWriter, m *metrics, limit string, status int, wait time.Duration) {
	m.rateLimited(limit)
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

// connLimiter holds one connection's message, byte and action budgets. A
// nil bucket is unlimited. Used only by the connection's reader goroutine.
type connLimiter struct {
	msgs, bytes, actions *rate.Limiter
	log                  *slog.Logger
	warned               bool // logged this connection's first overrun
}

func (s *Server) newConnLimiter() *connLimiter {
	c := s.cfg
	l := &connLimiter{log: s.log}
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
func (l *connLimiter) allowMessage(n int) bool {
	now := time.Now()
	ok := (l.msgs == nil || l.msgs.AllowN(now, 1)) && (l.bytes == nil || l.bytes.AllowN(now, n))
	if !ok {
		l.overrun("messages")
	}
	return ok
}

// allowAction reports whether a join, publish or play is within budget.
func (l *connLimiter) allowAction() bool {
	ok := l.actions == nil || l.actions.Allow()
	if !ok {
		l.overrun("actions")
	}
	return ok
}

// overrun logs, once per connection and at debug level, that it went over
// a budget: enough to see the limits work without a line per message.
func (l *connLimiter) overrun(budget string) {
	if l.warned {
		return
	}
	l.warned = true
	l.log.Debug("connection over its rate limit", "budget", budget)
}
