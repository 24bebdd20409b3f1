package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/veilrtc/veil/privacy"
)

// relayGenerator is the pion RelayAddressGenerator of one socket. It
// enforces the allocation quotas atomically and hands pion a relayConn, so
// every datagram relayed in either direction passes relayPermitted.
type relayGenerator struct {
	srv  *Server
	sock int // index of the socket it serves
}

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
		s.mu.Lock()
		s.releaseLocked(&relayConn{user: conf.UserID})
		s.mu.Unlock()
		return nil, nil, err
	}
	rc := &relayConn{PacketConn: pc, srv: s, user: conf.UserID, port: port, sock: g.sock}
	// Added while the calling pion loop holds its own count, so the
	// WaitGroup is never at zero here.
	s.loops.Add(1)
	s.relays.Store(port, rc)
	// However often it is refreshed, an allocation ends here: closing the
	// relay socket makes pion's relay reader delete it.
	s.mu.Lock()
	rc.lifetime = time.AfterFunc(s.maxLife, func() {
		s.stats.lifetimeEnded.Add(1)
		_ = rc.Close()
	})
	s.mu.Unlock()
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
	srv      *Server
	user     string
	port     uint16
	sock     int
	lifetime *time.Timer // MaxAllocationLifetime; set under srv.mu

	// Guarded by srv.mu.
	src         allocKey                // set once pion reports the allocation
	ipKey       ipKey                   // client address account
	counted     bool                    // counted in ipKey's account
	closed      bool                    // slots released
	credExpired bool                    // the current request's credentials expired
	peers       map[netip.Addr]struct{} // distinct peers ever permitted

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
		c.srv.mu.Lock()
		if c.lifetime != nil {
			c.lifetime.Stop()
		}
		c.srv.releaseLocked(c)
		c.srv.mu.Unlock()
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

// trackedListener accepts TURN TCP and TLS connections for pion: it keeps
// accepting through temporary errors (pion's accept loop ends at the
// first error it sees), refuses connections over the total and
// per-address caps, arms the first-message deadline and records accepted
// connections, which pion never closes on shutdown, so Close can.
type trackedListener struct {
	net.Listener
	srv  *Server
	once sync.Once
}

func (l *trackedListener) Accept() (net.Conn, error) {
	s := l.srv
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-s.done:
			default:
				if !errors.Is(err, net.ErrClosed) {
					// EMFILE, ENFILE, ECONNABORTED...: wait and go on, as
					// net/http does, rather than stop serving TCP for good.
					s.stats.acceptErrors.Add(1)
					backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
					s.log.Debug("turn: accept failed; backing off", "err", privacy.ScrubIPs(err.Error()), "backoff", backoff.String())
					t := time.NewTimer(backoff)
					select {
					case <-t.C:
						continue
					case <-s.done:
						t.Stop()
					}
				}
			}
			l.once.Do(s.loops.Done)
			return nil, err
		}
		backoff = 0
		if tc := s.admitTCP(c); tc != nil {
			return tc, nil
		}
	}
}

// admitTCP wraps c, or closes it when a cap refuses it or the server is
// closing.
func (s *Server) admitTCP(c net.Conn) *trackedConn {
	key := s.ipKeyOf(c.RemoteAddr())
	reason := ""
	s.mu.Lock()
	e := s.ipEntryLocked(key, time.Now())
	switch {
	case s.closing:
		reason = "closing"
	case len(s.tcpConns) >= s.maxTCP:
		reason = ReasonTCPTotal
	case e == nil:
		reason = ReasonIPTable
	case e.tcp >= s.maxIPTCP:
		reason = ReasonTCPPerIP
	}
	var tc *trackedConn
	if reason == "" {
		e.tcp++
		tc = &trackedConn{Conn: c, srv: s, ipKey: key}
		s.tcpConns[tc] = struct{}{}
		s.loops.Add(1) // the listener's own count is still held
	}
	s.mu.Unlock()
	if tc == nil {
		if reason != "closing" {
			s.refused.add(reason)
		}
		_ = c.Close()
		return nil
	}
	// The TLS handshake (on the first Read, through the wrapped *tls.Conn)
	// and the first bytes must arrive by this deadline.
	_ = c.SetDeadline(time.Now().Add(s.firstMsg))
	return tc
}

// trackedConn is one accepted TURN connection. Wrapping hides a *tls.Conn
// from pion, which would only use it for RequestAttributes.TLS (unused
// here) and a handshake with its own fixed timeout; the handshake happens
// instead on the first read, bounded by the first-message deadline.
// Once the whole first message (a STUN message or ChannelData) is in, every
// read that returns data moves the read deadline to the idle timeout;
// until then the first-message deadline stands, so a byte at a time does
// not hold a connection. Every write has its own deadline.
type trackedConn struct {
	net.Conn
	srv   *Server
	ipKey ipKey
	// Only pion's reader touches these.
	spoke     bool    // the first message is in
	head      [4]byte // its first bytes, for its length
	read      int     // bytes read before spoke
	closeOnce sync.Once
	doneOnce  sync.Once
}

// firstMessageLen is the length of the message whose first four bytes are
// h: a STUN message (RFC 5389: 20-byte header, length in bytes 2-3) or
// ChannelData (RFC 8656: 4-byte header, channel 0x4000-0x7FFF). Anything
// else is no TURN message: 0, and the first-message deadline stands.
func firstMessageLen(h [4]byte) int {
	n := int(h[2])<<8 | int(h[3])
	switch h[0] >> 6 {
	case 0:
		return 20 + n
	case 1:
		return 4 + n
	}
	return 0
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			if c.spoke {
				c.srv.stats.tcpIdleTimeouts.Add(1)
			} else {
				c.srv.stats.tcpFirstTimeouts.Add(1)
			}
		}
		c.done()
		return n, err
	}
	if n > 0 && !c.spoke {
		if c.read < len(c.head) {
			copy(c.head[c.read:], p[:n])
		}
		c.read += n
		c.spoke = c.read >= len(c.head) && firstMessageLen(c.head) > 0 && c.read >= firstMessageLen(c.head)
	}
	if n > 0 && c.spoke {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.srv.idle))
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		s := c.srv
		s.mu.Lock()
		delete(s.tcpConns, c)
		if e := s.ips[c.ipKey]; e != nil {
			e.tcp--
			e.last = time.Now()
		}
		s.mu.Unlock()
		err = c.Conn.Close()
		c.done()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (c *trackedConn) done() { c.doneOnce.Do(c.srv.loops.Done) }
