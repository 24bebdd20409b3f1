package privacy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestScrubIPs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"no address here", "no address here"},
		{"host 192.168.1.23 port 5000", "host 0.0.0.0 port 5000"},
		{"203.0.113.7", "0.0.0.0"},
		{"0.0.0.0", "0.0.0.0"},
		{"::", "::"},
		{"1.2.3.4:5678", "0.0.0.0:5678"},
		{"[2001:db8::1]:443", "[::]:443"},
		{"2001:db8:85a3::8a2e:370:7334", "::"},
		{"fe80::1%eth0", "::%eth0"},
		{"::ffff:192.0.2.1", "::"},
		{"64:ff9b::7f00:1", "::"},
		{"::1", "::"},
		{"ip1.2.3.4", "ip0.0.0.0"},
		{"at 10.0.0.1.", "at 0.0.0.0."},
		{"010.001.002.003", "0.0.0.0"},
		{"1.2.3.4.5.6.7.8", "0.0.0.0"},
		{"256.1.2.3.4", "0.0.0.0"},
		{"1:2:3:4:5:6:01.2.3.4", "::"},
		{"raddr 203.0.113.7 rport 54400 raddr ::1", "raddr 0.0.0.0 rport 54400 raddr ::"},
		{`{"address":"198.51.100.20","ip6":"2001:db8::20"}`, `{"address":"0.0.0.0","ip6":"::"}`},
		{"url turn:198.51.100.20:3478?transport=udp", "url turn:0.0.0.0:3478?transport=udp"},
		// Things that look like addresses but are not stay.
		{"2024-01-01T12:30:45.123Z", "2024-01-01T12:30:45.123Z"},
		{"12:30:45", "12:30:45"},
		{"4f9e1c2a-6c1d-4b7b-9a3a-6fe2c0f0b1d1.local", "4f9e1c2a-6c1d-4b7b-9a3a-6fe2c0f0b1d1.local"},
		{"Chrome/128.0.6613.84", "Chrome/128.0.6613.84"},
		{"version 1.2.3", "version 1.2.3"},
		{"macOS 10.15.7", "macOS 10.15.7"},
		{"aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"},
		{"ratio 1:2", "ratio 1:2"},
		{"jitter 0.003", "jitter 0.003"},
		// Errs on the side of privacy.
		{"Chrome/120.0.0.0", "Chrome/0.0.0.0"},
		{"sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36", "sha-256 ::"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := ScrubIPs(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, got, ScrubIPs(got), "fixed point")
		})
	}
}

// ipLiteralsIn finds, by brute force, every substring of s that netip
// parses as an address other than the unspecified ones, bounded by
// characters that cannot continue an address on either side. It is the
// independent check for the fuzz targets.
func ipLiteralsIn(s string) []string {
	var out []string
	isAddrChar := func(c byte) bool { return isHexDigit(c) || c == '.' || c == ':' }
	for i := 0; i < len(s); i++ {
		if i > 0 && isAddrChar(s[i-1]) {
			continue
		}
		for j := i + 2; j <= len(s) && j-i <= maxIPLiteralLen; j++ {
			if j < len(s) && isAddrChar(s[j]) {
				continue
			}
			if a, err := netip.ParseAddr(s[i:j]); err == nil && !a.WithZone("").Unmap().IsUnspecified() {
				out = append(out, s[i:j])
			}
		}
	}
	return out
}

func FuzzScrubIPs(f *testing.F) {
	for _, s := range []string{"", "192.168.1.23", "[2001:db8::1]:443", "fe80::1%eth0", "256.1.2.3.4",
		"2024-01-01T12:30:45.123Z", "1:2:3:4:5:6:01.2.3.4", "::ffff:10.0.0.1", chromeSrflx} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := ScrubIPs(in)
		if again := ScrubIPs(out); again != out {
			t.Fatalf("not a fixed point: %q -> %q -> %q", in, out, again)
		}
		if lits := ipLiteralsIn(out); len(lits) > 0 {
			t.Fatalf("ScrubIPs(%q) = %q still holds %q", in, out, lits)
		}
		if !strings.ContainsAny(in, ".:") && out != in {
			t.Fatalf("changed text without dots or colons: %q -> %q", in, out)
		}
	})
}
