package edge

import (
	"net"
	"sync"
	"sync/atomic"
)

// Limit names of connections LimitListener closed at once.
const (
	LimitListenerTotal = "listener"
	LimitListenerIP    = "listener-ip"
)

// LimitListener returns ln capped at Config.MaxHTTPConnections accepted
// connections in total and Config.MaxHTTPConnectionsPerIP per peer address
// (IPv6: per /64), but for peers Config.ListenerExempt accepts; see
// signaling.Server.LimitListener. Safe for concurrent use; closing it
// closes ln.
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
	cfg := &l.srv.Config
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cfg.MaxHTTPConnections > 0 && l.open.Add(1) > int64(cfg.MaxHTTPConnections) {
			l.open.Add(-1)
			l.refuse(c, LimitListenerTotal)
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
				l.refuse(c, LimitListenerIP)
				continue
			}
			l.perIP[key] = n + 1
			l.mu.Unlock()
			k = &key
		}
		l.srv.Metrics.httpConns.Inc()
		return &limitedConn{Conn: c, l: l, key: k}, nil
	}
}

func (l *limitListener) refuse(c net.Conn, limit string) {
	l.srv.Metrics.RateLimited(limit)
	_ = c.Close()
}

// release gives back a closed connection's slots.
func (l *limitListener) release(k *ipKey) {
	l.open.Add(-1)
	l.srv.Metrics.httpConns.Dec()
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
