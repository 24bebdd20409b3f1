package turn

import (
	"net"
	"net/netip"
)

// addrCacheSize is the number of client addresses the address cache of a
// TURN PacketConn remembers (direct-mapped, so a miss costs one small
// allocation, never a scan). 256 entries take about 10 KB per socket.
const addrCacheSize = 256

// udpAddr16 returns ap as a new *net.UDPAddr whose IP is in 16-byte form.
// pion keys allocations by IP.To16() of the client's and the server's
// addresses on every datagram; To16 of a 4-byte IP allocates, of a
// 16-byte one it does not.
func udpAddr16(ap netip.AddrPort) *net.UDPAddr {
	a16 := ap.Addr().As16()
	return &net.UDPAddr{IP: a16[:], Port: int(ap.Port()), Zone: ap.Addr().Zone()}
}

// addr16 returns a with its IP in 16-byte form (a itself when it already
// is, or is no *net.UDPAddr).
func addr16(a net.Addr) net.Addr {
	ua, ok := a.(*net.UDPAddr)
	if !ok || len(ua.IP) == net.IPv6len {
		return a
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return a
	}
	return udpAddr16(netip.AddrPortFrom(ip.WithZone(ua.Zone), uint16(ua.Port))) //nolint:gosec // a bound port fits
}

// addrCache hands out one *net.UDPAddr per recently seen source address,
// so reading a datagram allocates no address (net.UDPConn.ReadFrom
// allocates two objects per datagram). The addresses it returns are shared
// and must not be modified; pion only reads them. Not safe for concurrent
// use: each belongs to one read loop.
type addrCache struct {
	entries [addrCacheSize]addrCacheEntry
}

type addrCacheEntry struct {
	ap netip.AddrPort
	ua *net.UDPAddr
}

func (c *addrCache) get(ap netip.AddrPort) *net.UDPAddr {
	b := ap.Addr().As16()
	i := (uint(ap.Port()) ^ uint(b[15])<<3 ^ uint(b[14])<<5) % addrCacheSize
	e := &c.entries[i]
	if e.ua == nil || e.ap != ap {
		*e = addrCacheEntry{ap: ap, ua: udpAddr16(ap)}
	}
	return e.ua
}
