package edge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many entries of X-Forwarded-For/Forwarded
// are examined, from the right. Real proxy chains are a few hops long; the
// bound keeps a client from making us walk a 16 KiB header.
const maxForwardedHops = 16

// ipv6KeyBits is the prefix length IPv6 clients are accounted by: one
// customer usually holds at least a /64, so a single address says little.
const ipv6KeyBits = 64

// clientAddr returns the address a request is accounted to. The socket's
// peer address is the answer unless it is a trusted proxy; only then are
// X-Forwarded-For (preferred) or Forwarded believed, walked right to left
// (the right end is what our proxies wrote) and skipping trusted hops. An
// entry that does not parse stops the walk at the last trusted hop, so a
// client cannot pick its own key by writing garbage.
//
// Headers are split on commas without honouring quotes on purpose: a
// client that leaves a quote open must not swallow the entries our proxy
// appends after it.
func clientAddr(remote string, h http.Header, trusted []netip.Prefix) netip.Addr {
	addr := parseHop(remote)
	if !addr.IsValid() || !inPrefixes(addr, trusted) {
		return addr
	}
	hops := forwardedHops(h)
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		hop := parseHop(hops[i])
		if !hop.IsValid() {
			return addr
		}
		addr = hop
		if !inPrefixes(hop, trusted) {
			return hop
		}
	}
	return addr
}

// forwardedHops lists the client-chain entries of X-Forwarded-For, or of
// Forwarded (its for= parameters) when there is no X-Forwarded-For, left to
// right. Entries are raw; parseHop reads them.
func forwardedHops(h http.Header) []string {
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(part))
		}
	}
	if len(hops) > 0 {
		return hops
	}
	for _, v := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(v, ",") {
			hop := "" // an element without for= is a hop we cannot read
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					hop = strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads one address as proxies and net/http write them: "ip",
// "ip:port", "[ipv6]" or "[ipv6]:port". It returns the zero Addr for
// anything else ("unknown", obfuscated Forwarded identifiers, junk). The
// result is unmapped and zone-free so one host has one key.
func parseHop(s string) netip.Addr {
	if len(s) > len("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%zone]:65535")+32 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil || !strings.HasPrefix(s, "[") {
				return netip.Addr{}
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipKey is what the per-IP limits are keyed by: a salted hash of the
// client's address (IPv6 cut to its /64), so the table never holds an
// address in the clear.
type ipKey [16]byte

// ipHasher derives ipKeys with a salt drawn at start-up and never stored,
// so keys cannot be matched across processes or against a list of
// addresses without the live process's memory. Safe for concurrent use.
type ipHasher struct{ salt [32]byte }

func newIPHasher() ipHasher {
	var h ipHasher
	_, _ = rand.Read(h.salt[:]) // crypto/rand.Read never fails on supported platforms
	return h
}

func (h ipHasher) key(a netip.Addr) ipKey {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		a = netip.PrefixFrom(a, ipv6KeyBits).Masked().Addr()
	}
	b := a.As16() // IPv4 becomes ::ffff:a.b.c.d, distinct from every /64 key
	mac := hmac.New(sha256.New, h.salt[:])
	mac.Write(b[:])
	var k ipKey
	copy(k[:], mac.Sum(nil))
	return k
}

// AddrKey is the account a connection's per-address caps count under: its
// client address's keyed hash (IPv6: the /64's, through trusted proxies),
// or none for an address exempt from the per-address limits (loopback
// that is not a trusted proxy). Comparable; the zero value is exempt.
type AddrKey struct {
	k     ipKey
	valid bool
}

// Exempt reports whether per-address caps skip this account.
func (k AddrKey) Exempt() bool { return !k.valid }

// AddrKeyOf returns the per-address account of the connection opened by r.
func (s *Server) AddrKeyOf(r *http.Request) AddrKey {
	a := s.adm
	if a.exempt(r) {
		return AddrKey{}
	}
	return AddrKey{k: a.hash.key(clientAddr(r.RemoteAddr, r.Header, a.trusted)), valid: true}
}
