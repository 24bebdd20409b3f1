package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
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
	rc := &relayConn{
		PacketConn: pc, udp: pc, srv: s, user: conf.UserID, port: port, sock: g.sock, transport: transportNone,
		self: udpAddr16(netip.AddrPortFrom(s.relayIP, port)),
	}
	// Added while the calling pion loop holds its own count, so the
	// WaitGroup is never at zero here.
	s.loops.Add(1)
	s.relays.Store(port, rc)
	// However often it is refreshed, an allocation ends here: closing the
	// relay socket makes pion's relay reader delete it.
	s.mu.Lock()
	s.live[rc] = struct{}{}
	rc.lifetime = time.AfterFunc(s.maxLife, func() {
		s.stats.lifetimeEnded.Add(1)
		_ = rc.Close()
	})
	s.mu.Unlock()
	return rc, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.relayIP, port)), nil
}

func (g *relayGenerator) listen(network string, requested int) (*net.UDPConn, uint16, error) {
	s := g.srv
	bind := func(port int) (*net.UDPConn, uint16, error) {
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
	udp      *net.UDPConn // PacketConn: read without allocating an address
	self     *net.UDPAddr // its relay address, as other relay sockets see it
	srv      *Server
	user     string
	port     uint16
	sock     int
	lifetime *time.Timer // MaxAllocationLifetime; set under srv.mu

	// Guarded by srv.mu.
	src         allocKey                // set once pion reports the allocation
	transport   transport               // likewise
	ipKey       ipKey                   // client address account
	counted     bool                    // counted in ipKey's account
	closed      bool                    // slots released
	credExpired bool                    // the current request's credentials expired
	peers       map[netip.Addr]struct{} // distinct peers ever permitted

	reading   atomic.Bool // pion's relay reader has started
	closeOnce sync.Once
	doneOnce  sync.Once

	// The last peer address each direction permitted, with the relay
	// generation it was decided in (see relayPermitted): a call's
	// datagrams skip the policy while nothing changes. from is only
	// touched by pion's relay reader; to by whoever writes (pion's read
	// loop of the client's transport), hence atomic.
	from permitted
	to   atomic.Pointer[permitted]

	// Relayed traffic, moved to Server.closedTraffic on Close.
	sent, recv trafficCounter

	in inbox // datagrams from other relay sockets (inbox.go)
}

// permitted is a peer address relayPermitted let through in relay
// generation gen; ua is the address handed to pion for it, dst the relay
// socket it is, if it is one.
type permitted struct {
	ap  netip.AddrPort
	ua  *net.UDPAddr
	dst *relayConn
	gen uint64
}

// WriteTo drops, as if sent, a datagram relayPermitted refuses: the client
// learns nothing, and pion does not log a write error. A datagram to
// another relay socket of this server goes to its inbox (inbox.go).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := udpAddrPort(addr)
	if !ok {
		c.srv.stats.relayDropped.Add(1)
		return len(p), nil
	}
	gen := c.srv.relayGen.Load()
	to := c.to.Load()
	if to == nil || to.ap != ap || to.gen != gen {
		ok, dst := c.srv.relayTarget(ap)
		if !ok {
			c.srv.stats.relayDropped.Add(1)
			return len(p), nil
		}
		to = &permitted{ap: ap, dst: dst, gen: gen}
		c.to.Store(to)
	}
	if to.dst != nil && len(p) <= relayBufSize {
		if to.dst.deliver(p, c) {
			c.sent.add(len(p))
		} else {
			c.srv.stats.inboxDropped.Add(1)
		}
		return len(p), nil
	}
	n, err := c.udp.WriteToUDPAddrPort(p, ap)
	if err == nil {
		c.sent.add(n)
	}
	return n, err
}

// ReadFrom returns datagrams from the inbox, then from the socket,
// skipping those relayPermitted refuses.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.reading.Store(true)
	for {
		if n, from, ok := c.pop(p); ok {
			c.recv.add(n)
			return n, from.self, nil
		}
		c.in.waiting.Store(true)
		if n, from, ok := c.pop(p); ok {
			c.in.waiting.Store(false)
			c.recv.add(n)
			return n, from.self, nil
		}
		n, ap, err := c.udp.ReadFromUDPAddrPort(p)
		c.in.waiting.Store(false)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Woken by deliver.
			_ = c.udp.SetReadDeadline(time.Time{})
			continue
		}
		if err != nil {
			// pion's relay reader returns on any error.
			c.done()
			return n, nil, err
		}
		gen := c.srv.relayGen.Load()
		if c.from.ua != nil && c.from.ap == ap && c.from.gen == gen {
			c.recv.add(n)
			return n, c.from.ua, nil
		}
		if c.srv.relayPermitted(ap) {
			if c.from.ua == nil || c.from.ap != ap {
				c.from.ua = udpAddr16(ap)
			}
			c.from.ap, c.from.gen = ap, gen
			c.recv.add(n)
			return n, c.from.ua, nil
		}
		c.srv.stats.relayDropped.Add(1)
	}
}

// udpAddrPort converts the peer address pion writes to; false for what is
// no UDP address.
func udpAddrPort(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.Port < 0 || ua.Port > 65535 {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(ua.Port)), true
}

// Close is idempotent: pion's allocation manager stops closing allocations
// at the first error.
func (c *relayConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.srv.relays.Delete(c.port)
		// Decisions that let datagrams through to this port are void.
		c.srv.relayGen.Add(1)
		c.srv.mu.Lock()
		if c.lifetime != nil {
			c.lifetime.Stop()
		}
		delete(c.srv.live, c)
		c.srv.closedTraffic[0].addTraffic(c.sent.load())
		c.srv.closedTraffic[1].addTraffic(c.recv.load())
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
// it ends (on its first read error). It hands pion addresses in 16-byte
// form, from a cache when the PacketConn is a *net.UDPConn, so that pion's
// allocation lookup per datagram allocates nothing for them.
type trackedPacketConn struct {
	net.PacketConn
	udp   *net.UDPConn // PacketConn, when it is one
	addrs *addrCache   // with udp; only pion's read loop touches it
	local net.Addr     // LocalAddr in 16-byte form
	srv   *Server
	once  sync.Once
}

func newTrackedPacketConn(pc net.PacketConn, s *Server) *trackedPacketConn {
	c := &trackedPacketConn{PacketConn: pc, srv: s, local: addr16(pc.LocalAddr())}
	if u, ok := pc.(*net.UDPConn); ok {
		c.udp, c.addrs = u, new(addrCache)
	}
	return c
}

func (c *trackedPacketConn) LocalAddr() net.Addr { return c.local }

func (c *trackedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.udp == nil {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			c.once.Do(c.srv.loops.Done)
		}
		return n, addr16(addr), err
	}
	n, ap, err := c.udp.ReadFromUDPAddrPort(p)
	if err != nil {
		c.once.Do(c.srv.loops.Done)
		return n, nil, err
	}
	return n, c.addrs.get(ap), nil
}

// trackedListener accepts TURN TCP and TLS connections for pion: it keeps
// accepting through temporary errors (pion's accept loop ends at the
// first error it sees), refuses connections over the total and
// per-address caps, arms the first-message deadline and records accepted
// connections, which pion never closes on shutdown, so Close can.
type trackedListener struct {
	net.Listener
	srv  *Server
	sock int // index of the socket it serves
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
		if tc := l.admitTCP(c); tc != nil {
			return tc, nil
		}
	}
}

// admitTCP wraps c, or closes it when a cap refuses it or the server is
// closing.
func (l *trackedListener) admitTCP(c net.Conn) *trackedConn {
	s := l.srv
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
		tc = &trackedConn{Conn: c, srv: s, ipKey: key, remote: tcpAddr16(c.RemoteAddr()), local: tcpAddr16(c.LocalAddr())}
		if _, ok := c.(*tls.Conn); ok {
			s.socks[l.sock].tls.Store(true)
		}
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
//
// Moving a deadline costs a timer update, so it moves only when it would
// move by more than deadlineSlack: an idle connection is closed between
// TCPIdleTimeout and TCPIdleTimeout plus that slack after its last bytes,
// and a write is cut between tcpWriteTimeout and tcpWriteTimeout plus
// that slack after it started.
type trackedConn struct {
	net.Conn
	srv           *Server
	ipKey         ipKey
	remote, local net.Addr // in 16-byte form (pion keys allocations by To16 per message)
	// Only pion's reader touches these.
	spoke     bool         // the first message is in
	head      [4]byte      // its first bytes, for its length
	read      int          // bytes read before spoke
	readBy    time.Time    // the read deadline once spoke
	writeBy   atomic.Int64 // the write deadline, Unix nanoseconds; pion writes from several goroutines
	closeOnce sync.Once
	doneOnce  sync.Once
}

// deadlineSlack is how far past its due time a deadline may lie, so that
// it need not move on every read or write: a tenth of the timeout, at most
// a second.
func deadlineSlack(timeout time.Duration) time.Duration {
	return min(time.Second, timeout/10)
}

// tcpAddr16 returns a with its IP in 16-byte form (a itself when it is no
// *net.TCPAddr).
func tcpAddr16(a net.Addr) net.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a
	}
	return &net.TCPAddr{IP: ta.IP.To16(), Port: ta.Port, Zone: ta.Zone}
}

func (c *trackedConn) RemoteAddr() net.Addr { return c.remote }
func (c *trackedConn) LocalAddr() net.Addr  { return c.local }

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
		if now := time.Now(); c.readBy.Sub(now) < c.srv.idle {
			c.readBy = now.Add(c.srv.idle + deadlineSlack(c.srv.idle))
			_ = c.Conn.SetReadDeadline(c.readBy)
		}
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	now := time.Now()
	if by := c.writeBy.Load(); time.Duration(by-now.UnixNano()) < tcpWriteTimeout {
		by = now.Add(tcpWriteTimeout + deadlineSlack(tcpWriteTimeout)).UnixNano()
		c.writeBy.Store(by)
		_ = c.Conn.SetWriteDeadline(time.Unix(0, by))
	}
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
