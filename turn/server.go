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
)

// Server is veil's embedded TURN server: pion/turn with TURN REST
// credentials, the peer-address policy of invariant 4, relay-to-relay
// restriction on the server's own addresses and allocation quotas. All
// methods are safe for concurrent use.
type Server struct {
	realm   string
	secret  []byte
	ttl     time.Duration
	relayIP netip.Addr
	bindIP  netip.Addr
	portMin int
	portMax int
	maxUser int
	maxAll  int
	policy  PeerPolicy
	ports   icePorts // for ICEServer
	log     *slog.Logger
	pion    *pionturn.Server

	// relays maps the port of every live relay socket to it. A sync.Map
	// because WriteTo toward the relay address looks it up for every
	// relayed datagram and must not contend on mu.
	relays sync.Map // uint16 -> *relayConn

	// loops counts what Close waits for: pion's read loop on each
	// PacketConn, each Listener's accept loop, each accepted connection
	// and each relay socket until its reader has stopped.
	loops     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex // guards the following fields
	closing  bool
	active   int                       // live relay sockets
	perUser  map[string]int            // live relay sockets by peer id
	tcpConns map[*trackedConn]struct{} // accepted TURN connections

	stats counters
}

type counters struct {
	allocationsTotal   atomic.Uint64
	allocationsRefused atomic.Uint64
	authFailures       atomic.Uint64
	permissionsDenied  atomic.Uint64
	relayDropped       atomic.Uint64
}

// Stats are aggregate counters, never per user or per address, for export
// as metrics.
type Stats struct {
	// AllocationsActive is the number of live relay sockets.
	AllocationsActive int
	// AllocationsTotal counts allocations created since New.
	AllocationsTotal uint64
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
}

// New validates cfg, applies defaults and starts serving TURN on the
// PacketConns and Listeners, which the Server then owns. On error nothing
// was started and the caller still owns them.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		realm:    cfg.Realm,
		secret:   cfg.Secret,
		ttl:      cfg.CredentialTTL,
		relayIP:  cfg.RelayIP.Unmap(),
		bindIP:   cfg.RelayBindIP.Unmap(),
		portMin:  cfg.RelayPortMin,
		portMax:  cfg.RelayPortMax,
		maxUser:  cfg.MaxAllocationsPerUser,
		maxAll:   cfg.MaxAllocations,
		log:      cfg.Logger,
		ports:    portsOf(cfg.PacketConns, cfg.Listeners),
		perUser:  make(map[string]int),
		tcpConns: make(map[*trackedConn]struct{}),
	}
	if s.realm == "" {
		s.realm = DefaultRealm
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

	gen := &relayGenerator{srv: s}
	pcs := make([]pionturn.PacketConnConfig, 0, len(cfg.PacketConns))
	for _, pc := range cfg.PacketConns {
		pcs = append(pcs, pionturn.PacketConnConfig{
			PacketConn:            &trackedPacketConn{PacketConn: pc, srv: s},
			RelayAddressGenerator: gen,
			PermissionHandler:     s.permit,
		})
	}
	ls := make([]pionturn.ListenerConfig, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		ls = append(ls, pionturn.ListenerConfig{
			Listener:              &trackedListener{Listener: l, srv: s},
			RelayAddressGenerator: gen,
			PermissionHandler:     s.permit,
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
			OnAuth: func(_, _ net.Addr, _, _, _, _ string, verdict bool) {
				if !verdict {
					s.stats.authFailures.Add(1)
				}
			},
			OnAllocationCreated: func(_, _ net.Addr, _, _, _ string, _ net.Addr, _ int) {
				s.stats.allocationsTotal.Add(1)
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
		"max_allocations", s.maxAll, "max_allocations_per_user", s.maxUser)
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
	s.mu.Lock()
	active := s.active
	s.mu.Unlock()
	return Stats{
		AllocationsActive:  active,
		AllocationsTotal:   s.stats.allocationsTotal.Load(),
		AllocationsRefused: s.stats.allocationsRefused.Load(),
		AuthFailures:       s.stats.authFailures.Load(),
		PermissionsDenied:  s.stats.permissionsDenied.Load(),
		RelayDropped:       s.stats.relayDropped.Load(),
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
		for _, c := range conns {
			if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
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
// Expiry is enforced for Allocate only: Refresh, CreatePermission and
// ChannelBind of an allocation made in time keep working after the
// username expired, so a long call is not cut. Those methods only act on
// an existing allocation of the same 5-tuple and user id.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	expires, peerID, err := parseUsername(ra.Username)
	if err == nil && subtle.ConstantTimeCompare([]byte(ra.Realm), []byte(s.realm)) != 1 {
		err = errRealm
	}
	if err == nil && ra.Method == stun.MethodAllocate && time.Now().After(expires) {
		err = errCredentialExpiry
	}
	if err != nil {
		s.stats.authFailures.Add(1)
		s.log.Debug("turn: auth refused", "method", ra.Method.String(), "reason", err.Error())
		return "", nil, false
	}
	password := credentialPassword(s.secret, ra.Username)
	// The user id, which pion passes to the quota hook and the relay
	// generator and binds each allocation to, is the peer id: quotas are
	// per peer, whatever credential it currently holds.
	return peerID, pionturn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

// permit is pion's PermissionHandler for CreatePermission, ChannelBind and
// Connect.
func (s *Server) permit(_ net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	if ok && s.policy.Permit(ip.Unmap()) {
		return true
	}
	s.stats.permissionsDenied.Add(1)
	return false
}

// quota is pion's QuotaHandler: it answers 486 Allocation Quota Reached
// early. The relay generator enforces the same limits atomically, since
// two Allocates on different connections can both pass this check.
func (s *Server) quota(userID, _ string, _ net.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quotaErrLocked(userID) != nil {
		s.stats.allocationsRefused.Add(1)
		return false
	}
	return true
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

func (s *Server) release(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.perUser[userID]--; s.perUser[userID] <= 0 {
		delete(s.perUser, userID)
	}
}

// relayPermitted decides a datagram between a relay socket and addr, in
// either direction. pion's permission hook sees only the peer IP; here the
// port is known, so traffic involving the server's own relay address is
// limited to live relay sockets (relay to relay) and can never reach
// another service on this host. The policy is checked again as defense in
// depth.
func (s *Server) relayPermitted(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if !s.policy.Permit(ip) {
		return false
	}
	if s.policy.isOwn(ip) {
		if ua.Port <= 0 || ua.Port > 65535 {
			return false
		}
		_, live := s.relays.Load(uint16(ua.Port))
		return live
	}
	return true
}
