package signaling

import (
	"net"
	"net/http"
	"time"
)

// HTTP-level bounds. A WebSocket's life is bounded by its own read and
// write deadlines (signaling/internal/edge); everything else is bounded here, because the
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
		// No response of veil's is to be sniffed into another type.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.ContentLength != 0 {
			s.edge.Metrics.RateLimited("request-body")
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
	return s.edge.LimitListener(ln)
}
