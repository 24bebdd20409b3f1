package privacy

import "net/netip"

// specialPurpose lists the address ranges that are never a legitimate
// public peer: this host, private networks, carrier-grade NAT, link-local,
// multicast, reserved, documentation and the IPv6 transition ranges that
// embed an arbitrary IPv4 address (NAT64, 6to4, Teredo). The table is
// explicit because netip's IsPrivate/IsLoopback miss several of these
// (0.0.0.0/8, 100.64/10, 64:ff9b::/96 ...). Sources: RFC 6890 and the IANA
// special-purpose address registries.
var specialPurpose = mustPrefixes(
	// IPv4
	"0.0.0.0/8",       // "this network", includes the unspecified address
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local
	"172.16.0.0/12",   // private (RFC 1918)
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private (RFC 1918)
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast
	// IPv6
	"::/128",         // unspecified
	"::1/128",        // loopback
	"::ffff:0:0/96",  // IPv4-mapped; only reached when an address was not unmapped
	"64:ff9b::/96",   // NAT64 well-known prefix, embeds IPv4
	"64:ff9b:1::/48", // local-use NAT64
	"100::/64",       // discard-only
	"2001::/32",      // Teredo, embeds IPv4
	"2001:2::/48",    // benchmarking
	"2001:db8::/32",  // documentation
	"2001:10::/28",   // ORCHID (deprecated)
	"2001:20::/28",   // ORCHIDv2
	"2002::/16",      // 6to4, embeds IPv4
	"3fff::/20",      // documentation (RFC 9637)
	"5f00::/16",      // segment routing SIDs
	"fc00::/7",       // unique local
	"fe80::/10",      // link-local
	"fec0::/10",      // deprecated site-local
	"ff00::/8",       // multicast
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// SpecialPurposePrefixes returns a copy of the address ranges that
// IsSpecialPurpose refuses. Safe for concurrent use.
func SpecialPurposePrefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), specialPurpose...)
}

// IsSpecialPurpose reports whether a is not a public unicast address: it
// lies in one of SpecialPurposePrefixes, is invalid, or carries an IPv6 zone.
// IPv4-mapped IPv6 addresses are unmapped first, so ::ffff:127.0.0.1 is
// loopback. Safe for concurrent use.
func IsSpecialPurpose(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return true
	}
	a = a.Unmap()
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
