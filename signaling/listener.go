package signaling

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP-level bounds. A WebSocket's life is bounded by its own read and
// write deadlines (conn.go); everything else is bounded here, because the
// http.Server veil is mounted in may set only ReadHeaderTimeout: a request
// that announces a body and never sends it would otherwise hold its
// connection for good.
const (
	// RequestTimeout bounds a whole HTTP request, body and response
	// included, from the moment its headers are read: every route but a
	// WebSocket upgrade answers at once, and an upgrade hands the socket
	// to deadlines of its own.
	RequestTimeout = 10 * time.Second
	// DefaultMaxHTTPConnections caps the TCP connections LimitListener
	// accepts in total: the WebSocket cap plus httpConnHeadroom for plain
	// requests (with a MaxConnections of its own, that plus the headroom).
	DefaultMaxHTTPConnections = DefaultMaxConnections + httpConnHeadroom
	// DefaultMaxHTTPConnectionsPerIP caps the TCP connections LimitListener
	// accepts from one client address (IPv6: one /64): twice the WebSocket
	// cap (with a MaxConnectionsPerIP of its own, twice that).
	DefaultMaxHTTPConnectionsPerIP = DefaultMaxConnectionsPerIP * 2
	// httpConnHeadroom is how many plain HTTP connections fit beside a
	// full house of WebSockets.
	httpConnHeadroom = 1024
)

// Limit names of connections LimitListener closed at once.
const (
	limitListenerTotal = "listener"
	limitListenerIP    = "listener-ip"
)

// bounded wraps veil's routes: every request gets a read and write
// deadline of RequestTimeout, and a request with a body (no route takes
// one) is refused with 413 and the connection closed, so nothing waits
// for a body that never comes.
func (s *Server) bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(RequestTimeout)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		if r.ContentLength != 0 {
			s.metrics.rateLimited("request-body")
			w.Header().Set("Connection", "close")
			http.Error(w, "request bodies are not accepted", http.StatusRequestEntityTooLarge)
			// net/http reads up to 256 KiB of an unread body before it
			// closes, even after this answer; the body is not coming.
			_ = rc.SetReadDeadline(time.Now())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LimitListener returns ln capped at Config.MaxHTTPConnections accepted
// connections in total and Config.MaxHTTPConnectionsPerIP per client
// address (IPv6: per /64). A connection over a cap is closed as soon as it
// is accepted, before a byte is read; the refusals are counted in
// veil_rate_limited_total (limit "listener" or "listener-ip") and the open
// connections in veil_http_connections.
//
// At the listener the client address is the socket's peer: behind a
// reverse proxy that is the proxy. Peers Config.ListenerExempt accepts (by
// default addresses in Config.TrustedProxies and loopback: tooling, or a
// local proxy not declared) skip the per-IP cap, as they skip the per-IP
// WebSocket limits; the total cap applies to everyone. Wrap the TCP listener, under any TLS listener, so refused
// connections cost no handshake.
//
// The returned listener is safe for concurrent use; closing it closes ln.
func (s *Server) LimitListener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, srv: s, hash: newIPHasher(), perIP: make(map[ipKey]int)}
}

type limitListener struct {
	net.Listener
	srv  *Server
	hash ipHasher

	open atomic.Int64

	mu    sync.Mutex // guards perIP
	perIP map[ipKey]int
}

// Accept returns the next connection within the caps, closing those over
// them.
func (l *limitListener) Accept() (net.Conn, error) {
	cfg := &l.srv.cfg
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cfg.MaxHTTPConnections > 0 && l.open.Add(1) > int64(cfg.MaxHTTPConnections) {
			l.open.Add(-1)
			l.refuse(c, limitListenerTotal)
			continue
		} else if cfg.MaxHTTPConnections <= 0 {
			l.open.Add(1)
		}
		var k *ipKey
		if addr := parseHop(c.RemoteAddr().String()); cfg.MaxHTTPConnectionsPerIP > 0 && addr.IsValid() &&
			!cfg.ListenerExempt(addr) {
			key := l.hash.key(addr)
			l.mu.Lock()
			n := l.perIP[key]
			if n >= cfg.MaxHTTPConnectionsPerIP {
				l.mu.Unlock()
				l.open.Add(-1)
				l.refuse(c, limitListenerIP)
				continue
			}
			l.perIP[key] = n + 1
			l.mu.Unlock()
			k = &key
		}
		l.srv.metrics.httpConns.Inc()
		return &limitedConn{Conn: c, l: l, key: k}, nil
	}
}

func (l *limitListener) refuse(c net.Conn, limit string) {
	l.srv.metrics.rateLimited(limit)
	_ = c.Close()
}

// release gives back a closed connection's slots.
func (l *limitListener) release(k *ipKey) {
	l.open.Add(-1)
	l.srv.metrics.httpConns.Dec()
	if k == nil {
		return
	}
	l.mu.Lock()
	if l.perIP[*k]--; l.perIP[*k] <= 0 {
		delete(l.perIP, *k)
	}
	l.mu.Unlock()
}

// limitedConn frees its slots on the first Close. A hijacked WebSocket is
// still this connection, so it counts until the socket closes.
type limitedConn struct {
	net.Conn
	l    *limitListener
	key  *ipKey
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
