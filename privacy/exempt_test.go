package privacy

import (
	"net/netip"
	"strings"
	"testing"
)

// exemptRelayAddressRef is exemptRelayAddress as it was (Split and Join),
// the reference FuzzExemptRelayAddressMatchesRef holds the one-concatenation
// version to.
func exemptRelayAddressRef(line string, trusted func(netip.AddrPort) bool) string {
	body, _ := strings.CutPrefix(line, "a=")
	body, ok := strings.CutPrefix(body, "candidate:")
	if !ok {
		return line
	}
	if out, keep := FilterRelayCandidate(line, true, trusted); !keep || out != line {
		return line
	}
	fields := strings.Split(body, " ")
	fields[candFieldAddress] = scrubbedIPv4
	return "candidate:" + strings.Join(fields, " ")
}

// FuzzExemptRelayAddressMatchesRef: the relay address of a kept candidate
// line is replaced exactly as Split/Join replaced it, on any line.
func FuzzExemptRelayAddressMatchesRef(f *testing.F) {
	for _, s := range []string{
		"a=candidate:1 1 udp 2113937151 203.0.113.7 54321 typ relay raddr 0.0.0.0 rport 0 generation 0",
		"candidate:1 1 udp 2113937151 203.0.113.7 54321 typ relay raddr 0.0.0.0 rport 0",
		"candidate:1 1 udp 2113937151 192.168.1.2 54321 typ host",
		"candidate:1 1 tcp 1 2001:db8::1 9 typ relay raddr :: rport 0 tcptype active",
		"a=candidate:", "candidate:1 1 udp 1 x", "v=0",
	} {
		f.Add(s)
	}
	trusted := func(netip.AddrPort) bool { return true }
	f.Fuzz(func(t *testing.T, line string) {
		for _, tr := range []func(netip.AddrPort) bool{nil, trusted} {
			if got, want := exemptRelayAddress(line, tr), exemptRelayAddressRef(line, tr); got != want {
				t.Fatalf("exemptRelayAddress(%q) = %q, want %q", line, got, want)
			}
		}
	})
}
