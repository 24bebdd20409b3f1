package privacy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Candidates as Chrome and Firefox put them in trickle messages. The
// addresses are from documentation ranges, standing in for real ones.
const (
	chromeHost     = "candidate:3651431451 1 udp 2122260223 192.168.1.23 54400 typ host generation 0 ufrag EsAw network-id 1 network-cost 10"
	chromeHost6    = "candidate:1524813346 1 udp 2122197247 2001:db8:85a3::8a2e:370:7334 54401 typ host generation 0 ufrag EsAw network-id 2 network-cost 10"
	chromeMDNS     = "candidate:1840965416 1 udp 2122260223 4f9e1c2a-6c1d-4b7b-9a3a-6fe2c0f0b1d1.local 54400 typ host generation 0 ufrag EsAw network-id 1"
	chromeSrflx    = "candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 192.168.1.23 rport 54400 generation 0 ufrag EsAw network-id 1 network-cost 10"
	chromeSrflxHid = "candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-id 1 network-cost 10"
	chromeTCPHost  = "candidate:2999745851 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 ufrag EsAw network-id 1"
	chromePrflx    = "candidate:4 1 udp 1853824767 203.0.113.9 40000 typ prflx raddr 192.168.1.2 rport 40000 generation 0"
	chromeRelay    = "candidate:1982375340 1 udp 41885695 198.51.100.20 61234 typ relay raddr 203.0.113.7 rport 54400 generation 0 ufrag EsAw network-id 1 network-cost 10"
	chromeRelayOut = "candidate:1982375340 1 udp 41885695 198.51.100.20 61234 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-id 1 network-cost 10"
	chromeRelay6   = "candidate:2157334355 1 udp 41820159 2001:db8::20 61235 typ relay raddr 2001:db8:85a3::8a2e:370:7334 rport 54401 generation 0 ufrag EsAw network-id 2"
	chromeRelay6Hd = "candidate:2157334355 1 udp 41820159 2001:db8::20 61235 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-id 2"
	firefoxHost    = "candidate:0 1 UDP 2122252543 192.168.1.23 50811 typ host"
	firefoxTCP     = "candidate:2 1 TCP 2105524479 192.168.1.23 9 typ host tcptype active"
	firefoxSrflx   = "candidate:1 1 UDP 1686052863 203.0.113.7 50811 typ srflx raddr 192.168.1.23 rport 50811"
	firefoxRelay   = "candidate:4 1 UDP 92217343 198.51.100.20 55000 typ relay raddr 203.0.113.7 rport 50811"
	firefoxRelayHd = "candidate:4 1 UDP 92217343 198.51.100.20 55000 typ relay raddr 0.0.0.0 rport 0"
	tcpRelay       = "candidate:5 1 tcp 2105524479 198.51.100.20 9 typ relay raddr 10.0.0.5 rport 9 tcptype passive"
	tcpRelayHidden = "candidate:5 1 tcp 2105524479 198.51.100.20 9 typ relay raddr 0.0.0.0 rport 0 tcptype passive"
	pionRelayNoRel = "candidate:1 1 udp 16777215 198.51.100.20 5000 typ relay"
)

func TestFilterCandidateForced(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string // "" means dropped, unless keep is set
		keep bool
	}{
		{name: "end of candidates", in: "", want: "", keep: true},
		{name: "chrome host", in: chromeHost},
		{name: "chrome host ipv6", in: chromeHost6},
		{name: "chrome mdns", in: chromeMDNS},
		{name: "chrome srflx", in: chromeSrflx},
		{name: "chrome srflx already hidden", in: chromeSrflxHid},
		{name: "chrome tcp host", in: chromeTCPHost},
		{name: "prflx", in: chromePrflx},
		{name: "firefox host", in: firefoxHost},
		{name: "firefox tcp", in: firefoxTCP},
		{name: "firefox srflx", in: firefoxSrflx},
		{name: "chrome relay", in: chromeRelay, want: chromeRelayOut, keep: true},
		{name: "chrome relay ipv6", in: chromeRelay6, want: chromeRelay6Hd, keep: true},
		{name: "firefox relay", in: firefoxRelay, want: firefoxRelayHd, keep: true},
		{name: "tcp relay", in: tcpRelay, want: tcpRelayHidden, keep: true},
		{name: "relay without raddr", in: pionRelayNoRel, want: pionRelayNoRel, keep: true},
		{name: "sdp form relay", in: "a=" + chromeRelay, want: "a=" + chromeRelayOut, keep: true},
		{name: "sdp form host", in: "a=" + chromeHost},
		{name: "no prefix relay", in: strings.TrimPrefix(firefoxRelay, "candidate:"), want: strings.TrimPrefix(firefoxRelayHd, "candidate:"), keep: true},
		{name: "a= without candidate", in: "a=4 1 UDP 92217343 198.51.100.20 55000 typ relay"},
		{name: "relay with hostname", in: "candidate:4 1 udp 92217343 turn.example.com 55000 typ relay raddr 203.0.113.7 rport 1"},
		{name: "relay with mdns name", in: "candidate:4 1 udp 92217343 4f9e1c2a.local 55000 typ relay"},
		{name: "relay with zone", in: "candidate:4 1 udp 92217343 fe80::1%eth0 55000 typ relay"},
		{name: "relay with ip in extension", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay generation 0 x-orig 192.168.1.23",
			want: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay generation 0 x-orig 0.0.0.0", keep: true},
		{name: "raddr smuggled as extension", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay generation 0 raddr 192.168.1.23 rport 5",
			want: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay generation 0 raddr 0.0.0.0 rport 5", keep: true},
		{name: "crlf injection", in: chromeRelay + "\r\na=" + chromeHost},
		{name: "trailing crlf", in: chromeRelay + "\r\n"},
		{name: "nul", in: chromeRelay + "\x00"},
		{name: "non-ascii", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay x é"},
		{name: "typ missing", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 relay"},
		{name: "raddr without rport", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay raddr 203.0.113.7"},
		{name: "double space", in: "candidate:4 1 udp 92217343  198.51.100.20 55000 typ relay"},
		{name: "double prefix", in: "candidate:candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay"},
		{name: "double prefix with empty fields", in: "a=candidate:candidate:0  UDP  0.0.0.0  typ relay"},
		{name: "empty foundation", in: "candidate: 1 udp 92217343 198.51.100.20 55000 typ relay"},
		{name: "trailing space", in: "candidate:4 1 udp 92217343 198.51.100.20 55000 typ relay "},
		{name: "garbage", in: "hello"},
		{name: "candidate only", in: "candidate:"},
		{name: "uppercase attribute", in: "a=CANDIDATE:4 1 UDP 92217343 198.51.100.20 55000 typ relay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, keep := FilterCandidate(tc.in, true)
			assert.Equal(t, tc.keep, keep)
			assert.Equal(t, tc.want, out)
			if !keep || out == "" {
				return
			}
			c, err := ice.UnmarshalCandidate(strings.TrimPrefix(out, "a="))
			require.NoError(t, err, "kept candidate must parse")
			assert.Equal(t, ice.CandidateTypeRelay, c.Type())
			if r := c.RelatedAddress(); r != nil && r.Address != "" {
				assert.Equal(t, "0.0.0.0", r.Address)
				assert.Zero(t, r.Port)
			}
		})
	}
}

func TestFilterCandidateNotForced(t *testing.T) {
	for _, in := range []string{"", chromeHost, chromeMDNS, chromeSrflx, chromeRelay, firefoxTCP, "a=" + chromeHost, "garbage\r\n"} {
		out, keep := FilterCandidate(in, false)
		assert.True(t, keep, in)
		assert.Equal(t, in, out, "unforced candidates pass byte-identical")
	}
}

func FuzzFilterCandidate(f *testing.F) {
	for _, s := range []string{"", chromeHost, chromeHost6, chromeMDNS, chromeSrflx, chromeTCPHost, chromePrflx,
		chromeRelay, chromeRelay6, firefoxHost, firefoxTCP, firefoxSrflx, firefoxRelay, tcpRelay, pionRelayNoRel,
		"a=" + chromeRelay, "candidate:4 1 udp 92217343 fe80::1%eth0 55000 typ relay"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, keep := FilterCandidate(in, false)
		if !keep || out != in {
			t.Fatalf("unforced filter changed %q", in)
		}
		out, keep = FilterCandidate(in, true)
		if !keep {
			if out != "" {
				t.Fatalf("dropped candidate returned %q", out)
			}
			return
		}
		if out == "" {
			if in != "" {
				t.Fatalf("kept %q as empty", in)
			}
			return
		}
		assertHiddenRelay(t, out)
		// Filtering is idempotent: a second server on the path changes nothing.
		again, keep := FilterCandidate(out, true)
		if !keep || again != out {
			t.Fatalf("filter not idempotent: %q -> %q (%v)", out, again, keep)
		}
	})
}

// assertHiddenRelay fails unless cand is a relay candidate, parseable by
// pion, without control characters and without a related address.
func assertHiddenRelay(t *testing.T, cand string) {
	t.Helper()
	if strings.ContainsAny(cand, "\r\n\x00") {
		t.Fatalf("control character in kept candidate %q", cand)
	}
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(cand, "a="))
	if err != nil {
		t.Fatalf("kept candidate %q does not parse: %v", cand, err)
	}
	if c.Type() != ice.CandidateTypeRelay {
		t.Fatalf("kept non-relay candidate %q", cand)
	}
	if r := c.RelatedAddress(); r != nil && (r.Address != "" && r.Address != "0.0.0.0" || r.Port != 0) {
		t.Fatalf("kept related address %v in %q", r, cand)
	}
}

func TestFilterRelayCandidateTrusted(t *testing.T) {
	ours := netip.MustParseAddrPort("203.0.113.7:61000")
	ours6 := netip.MustParseAddrPort("[2001:db8::7]:61000")
	trusted := func(a netip.AddrPort) bool { return a == ours || a == ours6 }
	for _, tc := range []struct {
		name string
		cand string
		keep bool
	}{
		{"our relay", "candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321", true},
		{"our relay, SDP form", "a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay", true},
		{"our relay, Firefox's UDP", "candidate:3 1 UDP 41885439 203.0.113.7 61000 typ relay raddr 0.0.0.0 rport 0", true},
		{"our relay, IPv6", "candidate:3 1 udp 41885439 2001:db8::7 61000 typ relay", true},
		{"a peer's own address labelled relay", "candidate:3 1 udp 41885439 198.51.100.4 61000 typ relay raddr 0.0.0.0 rport 0", false},
		{"our relay IP, a port no allocation holds", "candidate:3 1 udp 41885439 203.0.113.7 45678 typ relay", false},
		{"our relay IP, port zero", "candidate:3 1 udp 41885439 203.0.113.7 0 typ relay", false},
		{"our relay port, another IP", "candidate:3 1 udp 41885439 203.0.113.8 61000 typ relay", false},
		{"ours, IPv4-mapped", "candidate:3 1 udp 41885439 ::ffff:203.0.113.7 61000 typ relay", true},
		{"ours, port with a leading zero", "candidate:3 1 udp 41885439 203.0.113.7 061000 typ relay", false},
		{"ours, port with a sign", "candidate:3 1 udp 41885439 203.0.113.7 +61000 typ relay", false},
		{"ours, port out of range", "candidate:3 1 udp 41885439 203.0.113.7 126536 typ relay", false},
		{"ours over TCP", "candidate:3 1 tcp 41885439 203.0.113.7 61000 typ relay tcptype passive", false},
		{"end of candidates", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, keep := FilterRelayCandidate(tc.cand, true, trusted)
			assert.Equal(t, tc.keep, keep, out)
			if keep && strings.Contains(tc.cand, "raddr") {
				assert.Contains(t, out, "raddr 0.0.0.0 rport 0")
			}
			// Without forced relay nothing is filtered, trusted or not.
			out, keep = FilterRelayCandidate(tc.cand, false, trusted)
			assert.True(t, keep)
			assert.Equal(t, tc.cand, out)
		})
	}
	// Nil trusts every address (an external TURN server), TCP included.
	_, keep := FilterRelayCandidate("candidate:3 1 tcp 41885439 203.0.113.9 45678 typ relay tcptype passive", true, nil)
	assert.True(t, keep)
	sdp := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 198.51.100.4\r\n" +
		"a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321\r\n" +
		"a=candidate:4 1 udp 41885439 198.51.100.4 61001 typ relay raddr 0.0.0.0 rport 0\r\n" +
		"a=candidate:5 1 udp 41885439 203.0.113.7 61001 typ relay raddr 0.0.0.0 rport 0\r\n"
	out, st, err := ScrubSDP(sdp, SDPOptions{ForceRelay: true, TrustedRelays: trusted})
	require.NoError(t, err)
	assert.Equal(t, 1, st.CandidatesKept)
	assert.Equal(t, 2, st.CandidatesDropped)
	assert.Contains(t, out, "203.0.113.7 61000 typ relay")
	assert.NotContains(t, out, "61001")
	assert.NotContains(t, out, "198.51.100.4")
}
