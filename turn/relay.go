package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	pionturn "github.com/pion/turn/v5"
)

// relayGenerator is the pion RelayAddressGenerator of every listener. It
// enforces the allocation quotas atomically and hands pion a relayConn, so
// every datagram relayed in either direction passes relayPermitted.
type relayGenerator struct{ srv *Server }

var _ pionturn.RelayAddressGenerator = (*relayGenerator)(nil)

func (g *relayGenerator) Validate() error { return nil }

// AllocatePacketConn binds a UDP relay socket for one allocation.
func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	s := g.srv
	want := "udp6"
	if s.relayIP.Is4() {
		want = "udp4"
	}
	if conf.Network != want {
		return nil, nil, fmt.Errorf("%w: %s", errAddressFamily, conf.Network)
	}
	if err := s.reserve(conf.UserID); err != nil {
		return nil, nil, err
	}
	pc, port, err := g.listen(conf.Network, conf.RequestedPort)
	if err != nil {
		s.release(conf.UserID)
		return nil, nil, err
	}
	rc := &relayConn{PacketConn: pc, srv: s, user: conf.UserID, port: port}
	// Added while the calling pion loop holds its own count, so the
	// WaitGroup is never at zero here.
	s.loops.Add(1)
	s.relays.Store(port, rc)
	return rc, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.relayIP, port)), nil
}

func (g *relayGenerator) listen(network string, requested int) (net.PacketConn, uint16, error) {
	s := g.srv
	bind := func(port int) (net.PacketConn, uint16, error) {
		pc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.bindIP, uint16(port)))) //nolint:gosec // port range validated
		if err != nil {
			return nil, 0, err
		}
		ua, ok := pc.LocalAddr().(*net.UDPAddr)
		if !ok {
			_ = pc.Close()
			return nil, 0, errUnexpectedAddr
		}
		return pc, uint16(ua.Port), nil //nolint:gosec // a bound port fits
	}
	ranged := s.portMin != 0
	switch {
	case requested != 0 && ranged && (requested < s.portMin || requested > s.portMax):
		return nil, 0, errRequestedPort
	case requested != 0:
		return bind(requested)
	case !ranged:
		return bind(0)
	}
	for range relayPortRetries {
		if pc, port, err := bind(s.portMin + rand.IntN(s.portMax-s.portMin+1)); err == nil { //nolint:gosec // not a secret
			return pc, port, nil
		}
	}
	return nil, 0, errPortRange
}

// AllocateListener refuses TCP relay allocations (RFC 6062): WebRTC relays
// over UDP, and a TCP relay would open connections this package does not
// filter per datagram.
func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// AllocateConn refuses RFC 6062 Connect, for the same reason.
func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// relayConn is one allocation's relay socket.
type relayConn struct {
	net.PacketConn
	srv  *Server
	user string
	port uint16

	reading   atomic.Bool // pion's relay reader has started
	closeOnce sync.Once
	doneOnce  sync.Once
}

// WriteTo drops, as if sent, a datagram relayPermitted refuses: the client
// learns nothing, and pion does not log a write error.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.srv.relayPermitted(addr) {
		c.srv.stats.relayDropped.Add(1)
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// ReadFrom skips datagrams relayPermitted refuses.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.reading.Store(true)
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			// pion's relay reader returns on any error.
			c.done()
			return n, addr, err
		}
		if c.srv.relayPermitted(addr) {
			return n, addr, nil
		}
		c.srv.stats.relayDropped.Add(1)
	}
}

// Close is idempotent: pion's allocation manager stops closing allocations
// at the first error.
func (c *relayConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.srv.relays.Delete(c.port)
		c.srv.release(c.user)
		err = c.PacketConn.Close()
		if !c.reading.Load() {
			// Never read (pion's even-port probe): nobody else will
			// mark it done. A reader starting now fails at once.
			c.done()
		}
	})
	return err
}

func (c *relayConn) done() { c.doneOnce.Do(c.srv.loops.Done) }

// trackedPacketConn marks pion's read loop on a TURN PacketConn done when
// it ends (on its first read error).
type trackedPacketConn struct {
	net.PacketConn
	srv  *Server
	once sync.Once
}

func (c *trackedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		c.once.Do(c.srv.loops.Done)
	}
	return n, addr, err
}

// trackedListener records accepted connections, which pion never closes
// on shutdown, so Close can.
type trackedListener struct {
	net.Listener
	srv  *Server
	once sync.Once
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		// pion's accept loop returns on any error.
		l.once.Do(l.srv.loops.Done)
		return nil, err
	}
	tc := &trackedConn{Conn: c, srv: l.srv}
	l.srv.loops.Add(1) // the listener's own count is still held
	l.srv.mu.Lock()
	closing := l.srv.closing
	if !closing {
		l.srv.tcpConns[tc] = struct{}{}
	}
	l.srv.mu.Unlock()
	if closing {
		_ = tc.Close()
	}
	return tc, nil
}

// trackedConn is one accepted TURN connection. Wrapping hides a *tls.Conn
// from pion, which only uses it for RequestAttributes.TLS (unused here);
// the TLS handshake then happens on the first read.
type trackedConn struct {
	net.Conn
	srv       *Server
	closeOnce sync.Once
	doneOnce  sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.done()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.srv.mu.Lock()
		delete(c.srv.tcpConns, c)
		c.srv.mu.Unlock()
		err = c.Conn.Close()
		c.done()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (c *trackedConn) done() { c.doneOnce.Do(c.srv.loops.Done) }
