package turn

import (
	"crypto/hmac"
	"crypto/sha256"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Per-client-address accounting. Quotas follow the client, not the
// credential: a client can fetch many credential sets (each for a fresh
// peer id), but it has one address. Every cap that a client could
// otherwise multiply by asking for more credentials is kept per address
// here, IPv6 per /64 (one customer usually holds at least a /64).
const (
	// ipv6KeyBits is the prefix IPv6 clients are accounted by.
	ipv6KeyBits = 64
	// ipIdle is how long an address's entry outlives its last use when it
	// holds nothing, so forgetting it never hands it a fresh burst early.
	ipIdle = time.Minute
	// ipSweepInterval spaces the sweeps of idle entries; sweeps run lazily
	// under the lock, no goroutine.
	ipSweepInterval = 30 * time.Second
	// maxTrackedIPs bounds the table (about 250 bytes an entry). When it is
	// full of live entries, unknown addresses are refused rather than let
	// a large address block grow our memory.
	maxTrackedIPs = 1 << 16
	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
	// Accept (EMFILE and the like), doubling as net/http does.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// maxEndedPeers bounds the record of peers whose allocations EndPeer
// closed, kept until their credentials expire so they cannot allocate
// again. When it is full, credentials issued until then stop allocating
// instead (rememberEndedLocked). A variable for tests.
var maxEndedPeers = 1 << 16

// Refusal reasons, the keys of Stats.Refused and the values of the
// "reason" label of veil_turn_refused_total.
const (
	// ReasonAllocationsTotal: an Allocate over MaxAllocations.
	ReasonAllocationsTotal = "allocations-total"
	// ReasonAllocationsPerPeer: an Allocate over MaxAllocationsPerUser.
	ReasonAllocationsPerPeer = "allocations-per-peer"
	// ReasonAllocationsPerIP: an Allocate over MaxAllocationsPerIP.
	ReasonAllocationsPerIP = "allocations-per-ip"
	// ReasonPeerEnded: an Allocate by a peer EndPeer ended, before its
	// credentials expired (486), or, after the record of ended peers
	// overflowed, with credentials issued before that (401).
	ReasonPeerEnded = "peer-ended"
	// ReasonPeersPerAllocation: a permission over MaxPeersPerAllocation.
	ReasonPeersPerAllocation = "peers-per-allocation"
	// ReasonPeersPerIP: a permission over MaxPeersPerIP.
	ReasonPeersPerIP = "peers-per-ip"
	// ReasonPeerAfterExpiry: a permission to a new peer with expired
	// credentials.
	ReasonPeerAfterExpiry = "peer-after-expiry"
	// ReasonRequestRate: a request over RequestRatePerIP.
	ReasonRequestRate = "request-rate"
	// ReasonTCPTotal: a TCP or TLS connection over MaxTCPConnections.
	ReasonTCPTotal = "tcp-total"
	// ReasonTCPPerIP: a TCP or TLS connection over MaxTCPConnectionsPerIP.
	ReasonTCPPerIP = "tcp-per-ip"
	// ReasonIPTable: a new client address while the address table is full.
	ReasonIPTable = "ip-table"
)

// RefusalReasons lists every refusal reason, for exporting one metric
// series each.
var RefusalReasons = []string{
	ReasonAllocationsTotal, ReasonAllocationsPerPeer, ReasonAllocationsPerIP, ReasonPeerEnded,
	ReasonPeersPerAllocation, ReasonPeersPerIP, ReasonPeerAfterExpiry, ReasonRequestRate,
	ReasonTCPTotal, ReasonTCPPerIP, ReasonIPTable,
}

// refusals counts refusals by reason without a lock.
type refusals map[string]*atomic.Uint64

func newRefusals() refusals {
	r := make(refusals, len(RefusalReasons))
	for _, reason := range RefusalReasons {
		r[reason] = new(atomic.Uint64)
	}
	return r
}

func (r refusals) add(reason string) { r[reason].Add(1) }

func (r refusals) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(r))
	for k, v := range r {
		m[k] = v.Load()
	}
	return m
}

// ipEntry is one client address's account. Guarded by Server.mu.
type ipEntry struct {
	allocs  int           // live allocations, including pending ones
	peers   int           // distinct permitted peers over its allocations
	tcp     int           // open TCP and TLS connections
	reqs    *rate.Limiter // authenticated requests
	last    time.Time     // last use
	pending int           // allocations approved by quota, not yet created
}

func (e *ipEntry) idle(now time.Time) bool {
	return e.allocs == 0 && e.peers == 0 && e.tcp == 0 && e.pending == 0 && now.Sub(e.last) >= ipIdle
}

// ipKey names a client address's account: a salted hash of the address
// (unmapped, IPv6 cut to its /64), so the table that outlives
// allocations never holds an address in the clear. The salt is drawn per
// Server and never stored.
type ipKey [16]byte

// ipKeyOf is the account an address belongs to. Addresses that are not IP
// share the zero address's account.
func (s *Server) ipKeyOf(a net.Addr) ipKey {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if a != nil {
			if ap, err := netip.ParseAddrPort(a.String()); err == nil {
				ip = ap.Addr()
			}
		}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, ipv6KeyBits).Masked().Addr()
	}
	b := ip.As16() // IPv4 becomes ::ffff:a.b.c.d, distinct from every /64
	mac := hmac.New(sha256.New, s.ipSalt[:])
	mac.Write(b[:])
	var k ipKey
	copy(k[:], mac.Sum(nil))
	return k
}

// ipEntryLocked returns key's entry, creating it, or nil when the table is
// full of live entries. s.mu must be held.
func (s *Server) ipEntryLocked(key ipKey, now time.Time) *ipEntry {
	if e := s.ips[key]; e != nil {
		e.last = now
		return e
	}
	if s.fullLocked(now) {
		return nil
	}
	e := &ipEntry{reqs: rate.NewLimiter(s.reqRate, s.reqBurst), last: now}
	s.ips[key] = e
	return e
}

// fullLocked reports whether the table has no room for another address,
// after sweeping idle entries. Sweeps are spaced even when the table is
// full, so a flood of new addresses cannot make every request walk it.
// s.mu must be held.
func (s *Server) fullLocked(now time.Time) bool {
	if now.Sub(s.lastSweep) >= ipSweepInterval {
		s.lastSweep = now
		for k, e := range s.ips {
			if e.idle(now) {
				delete(s.ips, k)
			}
		}
	}
	return len(s.ips) >= maxTrackedIPs
}

// allowRequest reports whether src has a request token left. It is
// asked before the MESSAGE-INTEGRITY check, so it spends nothing and
// creates nothing: spent spends the token, and makes src's entry, once
// the request proved its credentials. So a sender forging source
// addresses (UDP) with a nonce and no valid credentials can neither drain
// another address's budget nor fill the table and lock new clients out.
func (s *Server) allowRequest(src net.Addr) bool {
	now := time.Now()
	s.mu.Lock()
	e := s.ips[s.ipKeyOf(src)]
	full := e == nil && s.fullLocked(now)
	ok := !full && (e == nil || e.reqs.TokensAt(now) >= 1)
	s.mu.Unlock()
	switch {
	case full:
		s.refused.add(ReasonIPTable)
	case !ok:
		s.refused.add(ReasonRequestRate)
	}
	return ok
}

// spent takes one request token from src: pion's OnAuth, for a request
// whose MESSAGE-INTEGRITY checked out.
func (s *Server) spent(src net.Addr) {
	now := time.Now()
	s.mu.Lock()
	if e := s.ipEntryLocked(s.ipKeyOf(src), now); e != nil {
		e.reqs.AllowN(now, 1)
	}
	s.mu.Unlock()
}

// endedLocked reports whether EndPeer ended peerID and its credentials
// may still be valid. s.mu must be held.
func (s *Server) endedLocked(peerID string, now time.Time) bool {
	until, ok := s.ended[peerID]
	if ok && now.After(until) {
		delete(s.ended, peerID)
		return false
	}
	return ok
}

// rememberEndedLocked keeps peerID from allocating until credentials
// issued now would have expired. s.mu must be held.
//
// The record is bounded (maxEndedPeers). When it is full of peers whose
// credentials are still valid (more than maxEndedPeers sessions ended
// within one credential lifetime), forgetting one would let its
// credentials allocate again: fail-open. Instead every credential issued
// until now stops allocating (endedBefore), which covers every peer in the
// record, so the record is emptied. Peers still connected then cannot
// allocate with the credentials they hold until they get new ones (a
// resume does; credentials last CredentialTTL anyway): service degrades
// during such a churn, privacy does not.
func (s *Server) rememberEndedLocked(peerID string, now time.Time) {
	if len(s.ended) >= maxEndedPeers && now.Sub(s.lastEndedSweep) >= ipSweepInterval {
		s.lastEndedSweep = now
		for id, until := range s.ended {
			if now.After(until) {
				delete(s.ended, id)
			}
		}
	}
	if len(s.ended) >= maxEndedPeers {
		s.endedBefore = now
		clear(s.ended)
		s.stats.endedOverflows.Add(1)
		s.log.Warn("turn: more sessions ended within one credential lifetime than the record holds; credentials issued until now no longer allocate", "record", maxEndedPeers)
		return
	}
	s.ended[peerID] = now.Add(s.ttl + time.Second) // usernames round to seconds
}

// issuedBeforeOverflow reports whether credentials expiring at expires were
// issued at or before the record of ended peers last overflowed. They were
// issued CredentialTTL before their expiry, rounded down to the second,
// so a credential issued in the second after the overflow may be refused
// too, never one issued before it let through.
func (s *Server) issuedBeforeOverflow(expires time.Time) bool {
	s.mu.Lock()
	before := s.endedBefore
	s.mu.Unlock()
	return !before.IsZero() && !expires.Add(-s.ttl).After(before)
}
