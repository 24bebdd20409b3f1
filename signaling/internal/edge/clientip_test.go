package edge

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		fwd     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "direct", remote: "198.51.100.1:4000", want: "198.51.100.1"},
		{name: "direct ipv6", remote: "[2001:db8::1]:4000", want: "2001:db8::1"},
		{name: "mapped ipv4 is unmapped", remote: "[::ffff:198.51.100.1]:4000", want: "198.51.100.1"},
		{name: "zone dropped", remote: "[fe80::1%eth0]:4000", want: "fe80::1"},
		{name: "headers ignored without trusted proxies", remote: "198.51.100.1:4000", xff: []string{"203.0.113.9"}, want: "198.51.100.1"},
		{name: "headers ignored from an untrusted peer", remote: "198.51.100.1:4000", xff: []string{"203.0.113.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "one trusted proxy", remote: "10.1.2.3:4000", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "client-written entries on the left are ignored", remote: "10.1.2.3:4000", xff: []string{"1.2.3.4, 5.6.7.8, 203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "trusted hops skipped right to left", remote: "10.1.2.3:4000", xff: []string{"1.2.3.4, 203.0.113.9, 10.9.9.9, 10.8.8.8"}, trusted: trusted, want: "203.0.113.9"},
		{name: "several header lines", remote: "10.1.2.3:4000", xff: []string{"1.2.3.4", "203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "all hops trusted", remote: "10.1.2.3:4000", xff: []string{"10.5.5.5, 10.6.6.6"}, trusted: trusted, want: "10.5.5.5"},
		{name: "garbage stops at the last trusted hop", remote: "10.1.2.3:4000", xff: []string{"203.0.113.9, garbage"}, trusted: trusted, want: "10.1.2.3"},
		{name: "empty entry stops", remote: "10.1.2.3:4000", xff: []string{"203.0.113.9, "}, trusted: trusted, want: "10.1.2.3"},
		{name: "entry with port", remote: "10.1.2.3:4000", xff: []string{"203.0.113.9:5555"}, trusted: trusted, want: "203.0.113.9"},
		{name: "bracketed ipv6", remote: "10.1.2.3:4000", xff: []string{"[2001:db8::7]"}, trusted: trusted, want: "2001:db8::7"},
		{name: "ipv6 with port", remote: "10.1.2.3:4000", xff: []string{"[2001:db8::7]:80"}, trusted: trusted, want: "2001:db8::7"},
		{name: "trusted ipv6 proxy", remote: "[2001:db8:ffff::1]:4000", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "forwarded", remote: "10.1.2.3:4000", fwd: []string{`for=198.51.100.7;proto=https, for="[2001:db8::7]:4711"`}, trusted: trusted, want: "2001:db8::7"},
		{name: "forwarded case and spaces", remote: "10.1.2.3:4000", fwd: []string{`For = 198.51.100.7 ; by=10.0.0.1`}, trusted: trusted, want: "198.51.100.7"},
		{name: "forwarded unknown stops", remote: "10.1.2.3:4000", fwd: []string{`for=198.51.100.7, for=unknown`}, trusted: trusted, want: "10.1.2.3"},
		{name: "forwarded element without for stops", remote: "10.1.2.3:4000", fwd: []string{`for=198.51.100.7, proto=http`}, trusted: trusted, want: "10.1.2.3"},
		{name: "open quote cannot swallow the proxy's entry", remote: "10.1.2.3:4000", fwd: []string{`for="1.1.1.1, for=198.51.100.7`}, trusted: trusted, want: "198.51.100.7"},
		{name: "x-forwarded-for wins over forwarded", remote: "10.1.2.3:4000", xff: []string{"203.0.113.9"}, fwd: []string{"for=198.51.100.7"}, trusted: trusted, want: "203.0.113.9"},
		{name: "mapped hop is unmapped", remote: "10.1.2.3:4000", xff: []string{"::ffff:203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "unparseable remote", remote: "pipe", want: "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.xff {
				h.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				h.Add("Forwarded", v)
			}
			assert.Equal(t, tc.want, clientAddr(tc.remote, h, tc.trusted).String())
		})
	}
}

func TestClientAddrWalksAtMostMaxHops(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := http.Header{}
	h.Add("X-Forwarded-For", "203.0.113.9")
	for range maxForwardedHops + 5 {
		h.Add("X-Forwarded-For", "10.0.0.1")
	}
	// The client is beyond the bound: the walk stops on a trusted hop.
	assert.Equal(t, "10.0.0.1", clientAddr("10.1.2.3:1", h, trusted).String())
}

func TestIPKey(t *testing.T) {
	h := newIPHasher()
	k := func(s string) ipKey { return h.key(netip.MustParseAddr(s)) }
	assert.Equal(t, k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"), "one /64 is one account")
	assert.NotEqual(t, k("2001:db8:1:2::1"), k("2001:db8:1:3::1"))
	assert.Equal(t, k("198.51.100.1"), k("::ffff:198.51.100.1"), "mapped IPv4 is IPv4")
	assert.NotEqual(t, k("198.51.100.1"), k("198.51.100.2"), "IPv4 is keyed by the whole address")
	assert.NotEqual(t, k("0.0.0.0"), k("::"))
	other := newIPHasher()
	assert.NotEqual(t, k("198.51.100.1"), other.key(netip.MustParseAddr("198.51.100.1")), "keys are salted per process")
	key := k("198.51.100.1")
	ip4 := netip.MustParseAddr("198.51.100.1").As16()
	assert.NotEqual(t, ip4[:], key[:], "the key is not the address")
}

// FuzzClientAddr feeds arbitrary proxy headers: never a panic, always an
// unmapped zone-free address, and the headers are believed only from a
// trusted peer.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{
		"203.0.113.9", "1.2.3.4, 10.0.0.1", "[2001:db8::1]:80", "for=1.2.3.4;proto=http", `for="[::1]:1", for=unknown`,
		`for="`, ",,,", "::ffff:1.2.3.4%eth0", "[", "[]:", "for=_hidden",
	} {
		f.Add("10.1.2.3:4000", s, s)
		f.Add("198.51.100.1:4000", s, s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			h.Set("Forwarded", fwd)
		}
		got := clientAddr(remote, h, trusted)
		peer := parseHop(remote)
		if !peer.IsValid() || !inPrefixes(peer, trusted) {
			require.Equal(t, peer, got, "an untrusted peer's headers must be ignored")
		}
		if got.IsValid() {
			require.False(t, got.Is4In6(), "addresses are unmapped")
			require.Empty(t, got.Zone(), "addresses carry no zone")
		}
	})
}
