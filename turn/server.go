package turn

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// Server is veil's embedded TURN server: pion/turn with TURN REST credentials,
// the peer-address policy of privacy invariant 4 (docs/THREAT-MODEL.md),
// relay-to-relay restriction on the server's own addresses and allocation
// quotas. All methods are safe for concurrent use.
type Server struct {
	realm      string
	secret     []byte
	ttl        time.Duration
	relayIP    netip.Addr
	bindIP     netip.Addr
	portMin    int
	portMax    int
	sharedMin  int // SharedRelayPortMin..Max: ports of the relay address other nodes relay from
	sharedMax  int
	maxUser    int
	maxAll     int
	nsock      int // PacketConns and Listeners
	maxIP      int
	maxLife    time.Duration
	maxPeers   int // per allocation
	maxIPPeers int
	reqRate    rate.Limit
	reqBurst   int
	maxTCP     int
	maxIPTCP   int
	firstMsg   time.Duration
	idle       time.Duration
	policy     PeerPolicy
	ports      icePorts // for ICEServer
	log        *slog.Logger
	pion       *pionturn.Server

	// relays maps the port of every live relay socket to it. A sync.Map
	// because WriteTo toward the relay address looks it up for every
	// relayed datagram and must not contend on mu.
	relays sync.Map // uint16 -> *relayConn
	// socks describes each PacketConn and Listener, by index.
	socks []sockInfo
	// relayGen counts relay sockets closed: a relay socket's remembered
	// relayPermitted decision holds while it is unchanged.
	relayGen atomic.Uint64

	// loops counts what Close waits for: pion's read loop on each
	// PacketConn, each Listener's accept loop, each accepted connection
	// and each relay socket until its reader has stopped.
	loops     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed by Close: stops accept back-off

	mu             sync.Mutex // guards the following fields
	closing        bool
	active         int                       // live relay sockets
	perUser        map[string]int            // live relay sockets by peer id
	tcpConns       map[*trackedConn]struct{} // accepted TURN connections
	ips            map[ipKey]*ipEntry        // accounts by client address
	lastSweep      time.Time
	bySrc          map[allocKey]*relayConn // live allocations by socket and client
	live           map[*relayConn]struct{} // every open relay socket
	closedTraffic  [2]Traffic              // relayed by closed relay sockets: to, from peers
	pending        map[string]ipKey        // Allocates past quota, by client transport address
	ended          map[string]time.Time    // peers EndPeer ended, until their credentials expire
	lastEndedSweep time.Time
	// endedBefore, once the record of ended peers overflowed, refuses
	// Allocates with credentials issued at or before it (see
	// rememberEndedLocked).
	endedBefore time.Time

	ipSalt  [32]byte // keys the per-address table (ipKeyOf)
	stats   counters
	refused refusals
}

// sockInfo describes one socket TURN is served on.
type sockInfo struct {
	tcp bool        // a Listener, not a PacketConn
	tls atomic.Bool // a Listener that accepted a TLS connection
}

// allocKey identifies an allocation as pion does: the socket it was made
// on (the index of its PacketConn or Listener) and the client's transport
// address.
type allocKey struct {
	sock int
	src  string
}

type counters struct {
	allocationsTotal   atomic.Uint64
	allocationsRefused atomic.Uint64
	authFailures       atomic.Uint64
	permissionsDenied  atomic.Uint64
	relayDropped       atomic.Uint64
	lifetimeEnded      atomic.Uint64
	peerEnded          atomic.Uint64
	endedOverflows     atomic.Uint64
	acceptErrors       atomic.Uint64
	tcpFirstTimeouts   atomic.Uint64
	tcpIdleTimeouts    atomic.Uint64
	inboxDropped       atomic.Uint64
	byTransport        [len(transportNames)]atomic.Uint64 // allocations created
}

// transport is the client's transport to the server, an index into
// transportNames; transportNone for a relay socket pion has not reported
// as an allocation.
type transport int8

const (
	transportNone transport = iota - 1
	transportUDP
	transportTCP
	transportTLS
)

var transportNames = [...]string{transportUDP: TransportUDP, transportTCP: TransportTCP, transportTLS: TransportTLS}

// transportOf is the transport of socket i.
func (s *Server) transportOf(i int) transport {
	switch {
	case !s.socks[i].tcp:
		return transportUDP
	case s.socks[i].tls.Load():
		return transportTLS
	}
	return transportTCP
}

// Traffic is an amount of relayed data.
type Traffic struct {
	// Packets counts datagrams.
	Packets uint64
	// Bytes counts their payload bytes (no TURN, UDP or IP headers).
	Bytes uint64
}

// trafficCounter counts a relay socket's traffic in one direction. Each
// relay socket has its own, so counting a datagram is two uncontended
// atomic adds.
type trafficCounter struct{ packets, bytes atomic.Uint64 }

func (c *trafficCounter) add(n int) {
	c.packets.Add(1)
	c.bytes.Add(uint64(n)) //nolint:gosec // a datagram's length
}

func (c *trafficCounter) load() Traffic {
	return Traffic{Packets: c.packets.Load(), Bytes: c.bytes.Load()}
}

func (t *Traffic) addTraffic(u Traffic) {
	t.Packets += u.Packets
	t.Bytes += u.Bytes
}

// Stats are aggregate counters, never per user or per address, for export
// as metrics.
type Stats struct {
	// AllocationsActive is the number of live relay sockets.
	AllocationsActive int
	// AllocationsActiveByTransport counts live allocations by the
	// client's transport to the server (keys: Transports). A relay socket
	// counts from when pion reports the allocation created, so the sum
	// can briefly trail AllocationsActive.
	AllocationsActiveByTransport map[string]int
	// AllocationsTotal counts allocations created since New.
	AllocationsTotal uint64
	// AllocationsByTransport splits AllocationsTotal by the client's
	// transport to the server (keys: Transports).
	AllocationsByTransport map[string]uint64
	// RelayQueueDropped counts datagrams between two relay sockets of this
	// server dropped because the receiving one had inboxSize datagrams
	// waiting (its reader lagging), as a full socket buffer drops them.
	RelayQueueDropped uint64
	// RelayedToPeer counts the datagrams relay sockets sent to peers,
	// RelayedFromPeer those they received from peers and handed to pion,
	// since New. Datagrams the relay sockets drop are in RelayDropped.
	RelayedToPeer, RelayedFromPeer Traffic
	// AllocationsRefused counts allocations refused by a quota.
	AllocationsRefused uint64
	// AuthFailures counts requests with forged, malformed or (on
	// Allocate) expired credentials.
	AuthFailures uint64
	// PermissionsDenied counts CreatePermission and ChannelBind peers
	// refused by the peer policy.
	PermissionsDenied uint64
	// RelayDropped counts datagrams the relay sockets dropped: toward or
	// from the server's own relay address at a port that is not a live
	// allocation, or failing the peer policy.
	RelayDropped uint64
	// TCPConnections is the number of open TURN TCP and TLS connections.
	TCPConnections int
	// TrackedIPs is the size of the per-address table.
	TrackedIPs int
	// AllocationsLifetimeEnded counts allocations closed at
	// MaxAllocationLifetime.
	AllocationsLifetimeEnded uint64
	// AllocationsPeerEnded counts allocations closed by EndPeer.
	AllocationsPeerEnded uint64
	// EndedRecordOverflows counts the times the record of ended peers
	// overflowed, each refusing every credential issued until then.
	EndedRecordOverflows uint64
	// AcceptErrors counts failed Accepts on TCP and TLS listeners (such as
	// EMFILE), each followed by a back-off.
	AcceptErrors uint64
	// TCPFirstMessageTimeouts counts TCP and TLS connections closed for
	// not finishing the TLS handshake and sending bytes in time.
	TCPFirstMessageTimeouts uint64
	// TCPIdleTimeouts counts TCP and TLS connections closed after
	// TCPIdleTimeout of silence.
	TCPIdleTimeouts uint64
	// Refused counts refusals by every cap, keyed by the Reason constants
	// (RefusalReasons).
	Refused map[string]uint64
}

// New validates cfg, applies defaults and starts serving TURN on the
// PacketConns and Listeners, which the Server then owns. On error nothing
// was started and the caller still owns them.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		realm:      cfg.Realm,
		secret:     cfg.Secret,
		ttl:        cfg.CredentialTTL,
		relayIP:    cfg.RelayIP.Unmap(),
		bindIP:     cfg.RelayBindIP.Unmap(),
		portMin:    cfg.RelayPortMin,
		portMax:    cfg.RelayPortMax,
		sharedMin:  cfg.SharedRelayPortMin,
		sharedMax:  cfg.SharedRelayPortMax,
		maxUser:    cfg.MaxAllocationsPerUser,
		maxAll:     cfg.MaxAllocations,
		nsock:      len(cfg.PacketConns) + len(cfg.Listeners),
		socks:      make([]sockInfo, len(cfg.PacketConns)+len(cfg.Listeners)),
		maxIP:      cfg.MaxAllocationsPerIP,
		maxLife:    cfg.MaxAllocationLifetime,
		maxPeers:   cfg.MaxPeersPerAllocation,
		maxIPPeers: cfg.MaxPeersPerIP,
		reqBurst:   cfg.RequestBurstPerIP,
		maxTCP:     cfg.MaxTCPConnections,
		maxIPTCP:   cfg.MaxTCPConnectionsPerIP,
		firstMsg:   cfg.TCPFirstMessageTimeout,
		idle:       cfg.TCPIdleTimeout,
		log:        cfg.Logger,
		ports:      portsOf(cfg.PacketConns, cfg.Listeners),
		done:       make(chan struct{}),
		perUser:    make(map[string]int),
		tcpConns:   make(map[*trackedConn]struct{}),
		ips:        make(map[ipKey]*ipEntry),
		bySrc:      make(map[allocKey]*relayConn),
		live:       make(map[*relayConn]struct{}),
		pending:    make(map[string]ipKey),
		ended:      make(map[string]time.Time),
		refused:    newRefusals(),
	}
	if s.realm == "" {
		s.realm = DefaultRealm
	}
	if _, err := rand.Read(s.ipSalt[:]); err != nil {
		return nil, fmt.Errorf("turn: generate salt: %w", err)
	}
	if len(s.secret) == 0 {
		s.secret = make([]byte, secretSize)
		if _, err := rand.Read(s.secret); err != nil {
			return nil, fmt.Errorf("turn: generate secret: %w", err)
		}
	} else {
		s.secret = append([]byte(nil), s.secret...)
	}
	if s.ttl == 0 {
		s.ttl = DefaultCredentialTTL
	}
	if s.maxUser == 0 {
		s.maxUser = DefaultMaxAllocationsPerUser
	}
	if s.maxAll == 0 {
		s.maxAll = DefaultMaxAllocations
	}
	if s.maxIP == 0 {
		s.maxIP = min(DefaultMaxAllocationsPerIP, max(1, s.maxAll/4))
	}
	s.maxIP = min(s.maxIP, max(1, s.maxAll-1))
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&s.maxLife, DefaultMaxAllocationLifetime)
	defDur(&s.firstMsg, DefaultTCPFirstMessageTimeout)
	defDur(&s.idle, DefaultTCPIdleTimeout)
	defInt(&s.maxPeers, DefaultMaxPeersPerAllocation)
	defInt(&s.maxIPPeers, DefaultMaxPeersPerIP)
	defInt(&s.reqBurst, DefaultRequestBurstPerIP)
	defInt(&s.maxTCP, DefaultMaxTCPConnections)
	defInt(&s.maxIPTCP, DefaultMaxTCPConnectionsPerIP)
	reqRate := cfg.RequestRatePerIP
	defInt(&reqRate, DefaultRequestRatePerIP)
	s.reqRate = rate.Limit(reqRate)
	if s.log == nil {
		s.log = slog.Default()
	}
	if !s.bindIP.IsValid() {
		s.bindIP = defaultBindIP(s.relayIP)
	}
	s.policy = PeerPolicy{
		Own:   []netip.Addr{s.relayIP},
		Allow: normalizePrefixes(cfg.AllowPeers),
		Deny:  normalizePrefixes(cfg.DenyPeers),
	}

	// Each socket gets its own relay generator and permission handler,
	// so an allocation is known by (socket, client address) as pion
	// knows it by its 5-tuple.
	pcs := make([]pionturn.PacketConnConfig, 0, len(cfg.PacketConns))
	for i, pc := range cfg.PacketConns {
		pcs = append(pcs, pionturn.PacketConnConfig{
			PacketConn:            newTrackedPacketConn(pc, s),
			RelayAddressGenerator: &relayGenerator{srv: s, sock: i},
			PermissionHandler:     s.permitter(i),
		})
	}
	ls := make([]pionturn.ListenerConfig, 0, len(cfg.Listeners))
	for j, l := range cfg.Listeners {
		i := len(cfg.PacketConns) + j
		s.socks[i].tcp = true
		ls = append(ls, pionturn.ListenerConfig{
			Listener:              &trackedListener{Listener: l, srv: s, sock: i},
			RelayAddressGenerator: &relayGenerator{srv: s, sock: i},
			PermissionHandler:     s.permitter(i),
		})
	}
	// Counted before pion starts its loops, which mark them done.
	s.loops.Add(len(pcs) + len(ls))
	p, err := pionturn.NewServer(pionturn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs:   ls,
		LoggerFactory:     pionLoggerFactory{log: s.log},
		Realm:             s.realm,
		AuthHandler:       s.authenticate,
		QuotaHandler:      s.quota,
		EventHandler: pionturn.EventHandler{
			OnAuth: func(src, _ net.Addr, _, _, _, _ string, verdict bool) {
				if !verdict {
					s.stats.authFailures.Add(1)
					return
				}
				s.spent(src)
			},
			OnAllocationCreated: func(src, _ net.Addr, _, _, _ string, relay net.Addr, _ int) {
				s.stats.allocationsTotal.Add(1)
				s.allocationCreated(src, relay)
			},
			OnAllocationError: func(src, _ net.Addr, _, _ string) {
				s.allocationFailed(src)
			},
		},
	})
	if err != nil {
		// pion validates before starting anything, so nothing runs.
		return nil, fmt.Errorf("turn: start pion server: %w", err)
	}
	s.pion = p
	s.log.Info("turn: server started",
		"udp", len(pcs), "tcp", len(ls),
		"max_allocations", s.maxAll, "max_allocations_per_user", s.maxUser,
		"max_allocations_per_ip", s.maxIP, "max_allocation_lifetime", s.maxLife.String(),
		"max_tcp_connections", s.maxTCP, "max_tcp_connections_per_ip", s.maxIPTCP)
	return s, nil
}

// defaultBindIP binds relay sockets to the relay address when this host
// owns it (a probe bind succeeds), else to the wildcard of its family, the
// case of a public address behind 1:1 NAT.
func defaultBindIP(relay netip.Addr) netip.Addr {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(relay, 0)))
	if err == nil {
		_ = pc.Close()
		return relay
	}
	if relay.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// Credentials issues credentials for peerID signed with the server's secret
// and valid for its CredentialTTL from now.
func (s *Server) Credentials(peerID string) Credentials {
	return NewCredentials(s.secret, peerID, s.ttl, time.Now())
}

// Stats returns a snapshot of the aggregate counters.
func (s *Server) Stats() Stats {
	activeBy := make(map[string]int, len(transportNames))
	totalBy := make(map[string]uint64, len(transportNames))
	for t, name := range transportNames {
		activeBy[name] = 0
		totalBy[name] = s.stats.byTransport[t].Load()
	}
	s.mu.Lock()
	active, tcp, ips := s.active, len(s.tcpConns), len(s.ips)
	to, from := s.closedTraffic[0], s.closedTraffic[1]
	// A relay socket's counts move to closedTraffic under mu when it
	// closes, so each datagram is counted once and no counter goes back.
	for rc := range s.live {
		to.addTraffic(rc.sent.load())
		from.addTraffic(rc.recv.load())
		if rc.transport != transportNone {
			activeBy[transportNames[rc.transport]]++
		}
	}
	s.mu.Unlock()
	return Stats{
		AllocationsActiveByTransport: activeBy,
		AllocationsByTransport:       totalBy,
		RelayedToPeer:                to,
		RelayedFromPeer:              from,
		TCPConnections:               tcp,
		TrackedIPs:                   ips,
		AllocationsLifetimeEnded:     s.stats.lifetimeEnded.Load(),
		AllocationsPeerEnded:         s.stats.peerEnded.Load(),
		EndedRecordOverflows:         s.stats.endedOverflows.Load(),
		AcceptErrors:                 s.stats.acceptErrors.Load(),
		TCPFirstMessageTimeouts:      s.stats.tcpFirstTimeouts.Load(),
		TCPIdleTimeouts:              s.stats.tcpIdleTimeouts.Load(),
		Refused:                      s.refused.snapshot(),
		AllocationsActive:            active,
		AllocationsTotal:             s.stats.allocationsTotal.Load(),
		AllocationsRefused:           s.stats.allocationsRefused.Load(),
		AuthFailures:                 s.stats.authFailures.Load(),
		PermissionsDenied:            s.stats.permissionsDenied.Load(),
		RelayDropped:                 s.stats.relayDropped.Load(),
		RelayQueueDropped:            s.stats.inboxDropped.Load(),
	}
}

// Close stops serving: it closes the PacketConns, Listeners, accepted
// connections and every allocation, and returns once pion's goroutines
// have stopped. Calls after the first return nil.
func (s *Server) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closing = true
		close(s.done)
		conns := make([]*trackedConn, 0, len(s.tcpConns))
		for c := range s.tcpConns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		var errs []error
		if err := s.pion.Close(); err != nil {
			errs = append(errs, err)
		}
		// pion closes listeners but not the connections they accepted.
		// Their errors are the clients' (a TLS close alert to a client
		// that already left fails with a broken pipe), not the server's.
		for _, c := range conns {
			_ = c.Close()
		}
		s.loops.Wait()
		s.closeErr = errors.Join(errs...)
		st := s.Stats()
		s.log.Info("turn: server closed", "allocations_total", st.AllocationsTotal,
			"auth_failures", st.AuthFailures, "permissions_denied", st.PermissionsDenied,
			"relay_dropped", st.RelayDropped)
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// authenticate is pion's AuthHandler. It returns the HMAC key derived from
// the TURN REST password; pion then checks MESSAGE-INTEGRITY with it
// (hmac.Equal), so a forged password fails there and is counted by OnAuth.
// It first checks the client address's request budget (spent once the
// request's MESSAGE-INTEGRITY checks out).
// Expired credentials cannot Allocate. An allocation made in time keeps
// being refreshed with them, so a long call is not cut, but it keeps only
// the peers it already had (see permitter), and MaxAllocationLifetime ends
// it however it is refreshed. Those methods only act on an existing
// allocation of the same 5-tuple and user id.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	// Every authenticated request costs an HMAC and may create state;
	// relayed data never gets here.
	if !s.allowRequest(ra.SrcAddr) {
		s.log.Debug("turn: request over the per-address rate", "method", ra.Method.String())
		return "", nil, false
	}
	now := time.Now()
	expires, peerID, err := parseUsername(ra.Username)
	if err == nil && subtle.ConstantTimeCompare([]byte(ra.Realm), []byte(s.realm)) != 1 {
		err = errRealm
	}
	expired := err == nil && now.After(expires)
	if expired && ra.Method == stun.MethodAllocate {
		err = errCredentialExpiry
	}
	if err == nil && ra.Method == stun.MethodAllocate && s.issuedBeforeOverflow(expires) {
		s.stats.allocationsRefused.Add(1)
		s.refused.add(ReasonPeerEnded)
		err = errPeerEnded
	}
	if err != nil {
		s.stats.authFailures.Add(1)
		s.log.Debug("turn: auth refused", "method", ra.Method.String(), "reason", err.Error())
		return "", nil, false
	}
	switch ra.Method {
	case stun.MethodCreatePermission, stun.MethodChannelBind, stun.MethodConnect:
		// The permission hook that follows in the same request sees no
		// username: tell it through the allocation whether this request's
		// credentials have expired (then only known peers pass).
		s.markExpiry(ra.SrcAddr, peerID, expired)
	}
	password := credentialPassword(s.secret, ra.Username)
	// The user id, which pion passes to the quota hook and the relay
	// generator and binds each allocation to, is the peer id: quotas are
	// per peer, whatever credential it currently holds.
	return peerID, pionturn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

// markExpiry records on src's allocations of peerID whether the request
// being authenticated carries expired credentials. pion handles one
// request per client transport address at a time (UDP: one read loop per
// socket; TCP: one per connection), and the permission hook runs right
// after the auth hook in the same request.
func (s *Server) markExpiry(src net.Addr, peerID string, expired bool) {
	if src == nil {
		return
	}
	k := allocKey{src: src.String()}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k.sock = range s.nsock {
		if rc := s.bySrc[k]; rc != nil && rc.user == peerID {
			rc.credExpired = expired
		}
	}
}

// permitter returns pion's PermissionHandler for socket sock (used for
// CreatePermission, ChannelBind and Connect): the peer policy of invariant
// 4, then the caps on distinct peers per allocation and per client
// address, and, with expired credentials, known peers only. Refreshing a
// permission to a known peer always passes, so a call outlives its
// credentials.
func (s *Server) permitter(sock int) pionturn.PermissionHandler {
	return func(src net.Addr, peerIP net.IP) bool {
		ip, ok := netip.AddrFromSlice(peerIP)
		ip = ip.Unmap()
		if !ok || !s.policy.Permit(ip) {
			s.stats.permissionsDenied.Add(1)
			return false
		}
		if src == nil {
			return false
		}
		reason := s.addPeer(allocKey{sock: sock, src: src.String()}, ip)
		if reason != "" {
			s.refused.add(reason)
			s.log.Debug("turn: permission refused", "reason", reason)
			return false
		}
		return true
	}
}

// addPeer records peer as permitted for allocation k, or returns the
// reason it may not be.
func (s *Server) addPeer(k allocKey, peer netip.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.bySrc[k]
	if rc == nil {
		// pion found the allocation before asking; it is closing.
		return ReasonPeersPerAllocation
	}
	if _, known := rc.peers[peer]; known {
		return ""
	}
	e := s.ips[rc.ipKey]
	switch {
	case rc.credExpired:
		return ReasonPeerAfterExpiry
	case len(rc.peers) >= s.maxPeers:
		return ReasonPeersPerAllocation
	case e != nil && e.peers >= s.maxIPPeers:
		return ReasonPeersPerIP
	}
	if rc.peers == nil {
		rc.peers = make(map[netip.Addr]struct{})
	}
	rc.peers[peer] = struct{}{}
	if e != nil {
		e.peers++
	}
	return ""
}

// quota is pion's QuotaHandler: it answers 486 Allocation Quota Reached.
// It reserves the client address's slot, which allocationCreated turns
// into a live allocation or allocationFailed returns. The total and
// per-peer caps are checked here and again, atomically, by the relay
// generator, since two Allocates on different connections can both pass
// this check.
func (s *Server) quota(userID, _ string, src net.Addr) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	reason := ""
	key := s.ipKeyOf(src)
	e := s.ipEntryLocked(key, now)
	switch err := s.quotaErrLocked(userID); {
	case errors.Is(err, ErrClosed):
		return false
	case errors.Is(err, errQuotaTotal):
		reason = ReasonAllocationsTotal
	case errors.Is(err, errQuotaUser):
		reason = ReasonAllocationsPerPeer
	case s.endedLocked(userID, now):
		reason = ReasonPeerEnded
	case e == nil:
		reason = ReasonIPTable
	case e.allocs >= s.maxIP:
		reason = ReasonAllocationsPerIP
	}
	if reason != "" {
		s.stats.allocationsRefused.Add(1)
		s.refused.add(reason)
		return false
	}
	if old, ok := s.pending[src.String()]; ok {
		s.unpendLocked(old) // never resolved; should not happen
	}
	s.pending[src.String()] = key
	e.allocs++
	e.pending++
	return true
}

// unpendLocked returns a pending reservation of key. s.mu must be held.
func (s *Server) unpendLocked(key ipKey) {
	if e := s.ips[key]; e != nil {
		e.allocs--
		e.pending--
	}
}

// allocationCreated is pion's OnAllocationCreated: the reservation quota
// made for src becomes the allocation on relay's port, now known by its
// socket and client address.
func (s *Server) allocationCreated(src, relay net.Addr) {
	ua, ok := relay.(*net.UDPAddr)
	if !ok || src == nil {
		return
	}
	v, _ := s.relays.Load(uint16(ua.Port)) //nolint:gosec // a bound port fits
	rc, _ := v.(*relayConn)
	s.mu.Lock()
	defer s.mu.Unlock()
	key, reserved := s.pending[src.String()]
	delete(s.pending, src.String())
	e := s.ips[key]
	if reserved && e != nil {
		e.pending--
	}
	if rc == nil || rc.closed {
		if reserved && e != nil {
			e.allocs--
		}
		return
	}
	if !reserved {
		key = s.ipKeyOf(src)
		if e = s.ipEntryLocked(key, time.Now()); e != nil {
			e.allocs++
		}
	}
	rc.counted = e != nil
	rc.ipKey = key
	rc.transport = s.transportOf(rc.sock)
	s.stats.byTransport[rc.transport].Add(1)
	rc.src = allocKey{sock: rc.sock, src: src.String()}
	s.bySrc[rc.src] = rc
}

// allocationFailed is pion's OnAllocationError, called for any request
// of src that failed: if an Allocate of src passed quota, its reservation
// is returned.
func (s *Server) allocationFailed(src net.Addr) {
	if src == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key, ok := s.pending[src.String()]; ok {
		delete(s.pending, src.String())
		s.unpendLocked(key)
	}
}

func (s *Server) quotaErrLocked(userID string) error {
	switch {
	case s.closing:
		return ErrClosed
	case s.active >= s.maxAll:
		return errQuotaTotal
	case s.perUser[userID] >= s.maxUser:
		return errQuotaUser
	}
	return nil
}

// reserve takes one allocation slot for userID; release returns it.
func (s *Server) reserve(userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.quotaErrLocked(userID); err != nil {
		s.stats.allocationsRefused.Add(1)
		return err
	}
	s.active++
	s.perUser[userID]++
	return nil
}

// releaseLocked returns rc's slots. s.mu must be held.
func (s *Server) releaseLocked(rc *relayConn) {
	rc.closed = true
	s.active--
	if s.perUser[rc.user]--; s.perUser[rc.user] <= 0 {
		delete(s.perUser, rc.user)
	}
	if s.bySrc[rc.src] == rc {
		delete(s.bySrc, rc.src)
	}
	if e := s.ips[rc.ipKey]; rc.counted && e != nil {
		e.allocs--
		e.peers -= len(rc.peers)
		e.last = time.Now()
	}
}

// EndPeer closes every allocation of peerID (the peer id in its TURN
// username) and refuses its Allocates until credentials issued now would
// have expired. Signaling calls it when the peer's connection closes, so
// no relay outlives the session it was made for. Safe for concurrent use.
func (s *Server) EndPeer(peerID string) {
	s.mu.Lock()
	s.rememberEndedLocked(peerID, time.Now())
	s.mu.Unlock()
	var mine []*relayConn
	s.relays.Range(func(_, v any) bool {
		if rc := v.(*relayConn); rc.user == peerID { //nolint:forcetypeassert // only *relayConn is stored
			mine = append(mine, rc)
		}
		return true
	})
	for _, rc := range mine {
		// Counted first: Close releases the slot, and a reader who sees
		// the allocation gone must also see why.
		s.stats.peerEnded.Add(1)
		// pion's relay reader then fails and deletes the allocation.
		_ = rc.Close()
	}
}

// relayPermitted decides a datagram between a relay socket and addr, in
// either direction. pion's permission hook sees only the peer IP; here the
// port is known, so traffic involving the server's own relay address is
// limited to live relay sockets (relay to relay) and can never reach
// another service on this host. The policy is checked again as defense in
// depth.
//
// A relay socket remembers the last address this let through in each
// direction, with relayGen, which every closing relay socket increments:
// while no relay socket has closed since, the decision stands (the policy
// never changes; only a live port can stop being one).
func (s *Server) relayPermitted(ap netip.AddrPort) bool {
	ok, _ := s.relayTarget(ap)
	return ok
}

// relayTarget is relayPermitted, and the relay socket ap is when it is one
// of this server's.
func (s *Server) relayTarget(ap netip.AddrPort) (bool, *relayConn) {
	ip := ap.Addr().Unmap().WithZone("")
	if !s.policy.Permit(ip) {
		return false, nil
	}
	if s.policy.isOwn(ip) {
		if ap.Port() == 0 {
			return false, nil
		}
		if v, live := s.relays.Load(ap.Port()); live {
			return true, v.(*relayConn) //nolint:forcetypeassert // only *relayConn is stored
		}
		// Another node's relay port on this shared relay address
		// (SharedRelayPortMin..Max): permitted, sent over the network.
		p := int(ap.Port())
		return s.sharedMin > 0 && p >= s.sharedMin && p <= s.sharedMax, nil
	}
	return true, nil
}
