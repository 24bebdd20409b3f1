package privacy

import (
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// candidateSeeds are candidates as browsers and pion write them, and
// variants at the edges of pion's grammar.
var candidateSeeds = []string{
	"", chromeHost, chromeHost6, chromeMDNS, chromeSrflx, chromeSrflxHid, chromeTCPHost, chromePrflx,
	chromeRelay, chromeRelayOut, chromeRelay6, firefoxHost, firefoxTCP, firefoxSrflx, firefoxRelay, tcpRelay,
	pionRelayNoRel, "a=" + chromeRelay, "candidate:4 1 udp 92217343 fe80::1%eth0 55000 typ relay",
	"candidate: 1 udp 1 1.2.3.4 5 typ host", "candidate:1 1 udpx 1 1.2.3.4 5 typ relay", "1 1 UDP 0 ::ffff:1.2.3.4 0 typ srflx raddr x rport 1",
	"candidate:1 65536 udp 1 1.2.3.4 5 typ host", "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host",
	"candidate:1 1 udp 1 1.2.3.4 65536 typ host", "candidate:1 1 udp 1 x.invalid 5 typ host tcptype ACTIVE",
	"candidate:1 1 tcp 1 1.2.3.4 5 typ host tcptype bogus", "candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 1.2.3.4 rport",
	"candidate:1 1 udp 1 1.2.3.4 5 typ relay a b c", "candidate:1 1 udp 1 1.2.3.4 5 typ relay a", "candidate:1 1 udp 1 1.2.3.4 5 typ relay  a",
	"candidate:1 1 udp 1 1.2.3.4 5 typ relay a \xe9 b \u00ff", "candidate:1 1 udp 1 1.2.3.4 5 typ relay a \u0100",
	"candidate:1 1 udp 1 1.2.3.4 5 typ relay tcptype so tcptype", "candidate:candidate:1 1 udp 1 1.2.3.4 5 typ relay",
	"candidate:123456789012345678901234567890123 1 udp 1 1.2.3.4 5 typ relay", "candidate:1 123456 udp 1 1.2.3.4 5 typ relay",
	"candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 10.0.0.1 rport 1 generation 0 x 192.168.1.1",
	"candidate:1 1 udp 1 1.2.3.4 5 typ relay generation 0 x [::1]:5 y a.local",
}

// FuzzParseCandidateMatchesPion holds parseCandidate to pion/ice's
// UnmarshalCandidate: the same accept/reject decision, and for accepted
// input the same fields.
func FuzzParseCandidateMatchesPion(f *testing.F) {
	for _, s := range candidateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, err := ice.UnmarshalCandidate(raw)
		got, ok := parseCandidate(raw)
		if ok != (err == nil) {
			t.Fatalf("%q: parseCandidate ok=%v, pion err=%v", raw, ok, err)
		}
		if !ok {
			return
		}
		assertSameCandidate(t, raw, want, got)
	})
}

func assertSameCandidate(t *testing.T, raw string, want ice.Candidate, got parsedCandidate) {
	t.Helper()
	fail := func(what string, w, g any) {
		t.Helper()
		t.Fatalf("%q: %s: pion %v, parseCandidate %v", raw, what, w, g)
	}
	if want.Foundation() != got.foundation {
		fail("foundation", want.Foundation(), got.foundation)
	}
	if want.Component() != got.component {
		fail("component", want.Component(), got.component)
	}
	if got.priority != 0 && want.Priority() != got.priority {
		fail("priority", want.Priority(), got.priority)
	}
	if want.Address() != got.address {
		fail("address", want.Address(), got.address)
	}
	if want.Port() != got.port {
		fail("port", want.Port(), got.port)
	}
	if want.Type().String() != got.typ {
		fail("type", want.Type(), got.typ)
	}
	// The network pion derived from the transport (mDNS hosts: udp4 always).
	if got.typ != "host" || !strings.HasSuffix(got.address, ".local") && !strings.HasSuffix(got.address, ".invalid") {
		if n := want.NetworkType().NetworkShort(); n != candNetwork(got.protocol) {
			fail("network", n, got.protocol)
		}
	}
	r := want.RelatedAddress()
	switch {
	case got.typ == "host":
		if r != nil {
			fail("related address", r, nil)
		}
	case r == nil:
		fail("related address", nil, got.relAddr)
	case r.Address != got.relAddr || r.Port != got.relPort:
		fail("related address", *r, got.relAddr+" "+strconv.Itoa(got.relPort))
	}
	var ext []ice.CandidateExtension
	bad := false
	got.extensions(func(k, v string) bool {
		ext = append(ext, ice.CandidateExtension{Key: k, Value: v})
		return true
	}, &bad)
	if bad {
		fail("extensions", "ok", "bad")
	}
	wantExt := want.Extensions()
	if got.typ == "host" && want.TCPType() != ice.TCPTypeUnspecified {
		// pion keeps tcptype for host candidates only, first in the list.
		if len(wantExt) == 0 || wantExt[0].Key != "tcptype" || wantExt[0].Value != candTCPType(got.tcpType) {
			fail("tcptype", wantExt, got.tcpType)
		}
		wantExt = wantExt[1:]
	}
	if !slices.Equal(wantExt, ext) && !(len(wantExt) == 0 && len(ext) == 0) {
		fail("extensions", wantExt, ext)
	}
}

func TestParseCandidateMatchesPion(t *testing.T) {
	for _, raw := range candidateSeeds {
		want, err := ice.UnmarshalCandidate(raw)
		got, ok := parseCandidate(raw)
		require.Equal(t, err == nil, ok, "%q: pion err %v", raw, err)
		if ok {
			assertSameCandidate(t, raw, want, got)
		}
	}
}

func TestParseCandidateAllocatesNothing(t *testing.T) {
	for _, raw := range []string{chromeRelay, chromeHost, firefoxTCP, tcpRelay} {
		allocs := testing.AllocsPerRun(100, func() { _, _ = parseCandidate(raw) })
		assert.Zero(t, allocs, raw)
	}
}

// FuzzFilterRelayCandidateMatchesRef holds FilterRelayCandidate to the
// implementation it replaced (filterRelayCandidateRef, built on
// strings.Split and pion's parser): the same output for every input, with
// and without a trusted-relay check.
func FuzzFilterRelayCandidateMatchesRef(f *testing.F) {
	for _, s := range candidateSeeds {
		f.Add(s)
	}
	ours := netip.MustParseAddrPort("198.51.100.20:61234")
	trusted := func(a netip.AddrPort) bool { return a == ours }
	f.Fuzz(func(t *testing.T, raw string) {
		for _, tr := range []func(netip.AddrPort) bool{nil, trusted} {
			wantOut, wantKeep := filterRelayCandidateRef(raw, true, tr)
			gotOut, gotKeep := FilterRelayCandidate(raw, true, tr)
			if wantOut != gotOut || wantKeep != gotKeep {
				t.Fatalf("%q (trusted %v): ref (%q, %v), now (%q, %v)", raw, tr != nil, wantOut, wantKeep, gotOut, gotKeep)
			}
		}
	})
}

func TestFilterRelayCandidateMatchesRef(t *testing.T) {
	for _, raw := range candidateSeeds {
		wantOut, wantKeep := filterRelayCandidateRef(raw, true, nil)
		gotOut, gotKeep := FilterRelayCandidate(raw, true, nil)
		assert.Equal(t, wantKeep, gotKeep, raw)
		assert.Equal(t, wantOut, gotOut, raw)
	}
}

func TestFilterRelayCandidateAllocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  float64
	}{
		{"kept as is", chromeRelayOut, 0},
		{"host dropped", chromeHost, 0},
		{"related address rewritten", chromeRelay, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() { _, _ = FilterRelayCandidate(tc.in, true, nil) })
			assert.LessOrEqual(t, allocs, tc.max)
		})
	}
}

func BenchmarkParseCandidate(b *testing.B) {
	b.Run("pion", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ice.UnmarshalCandidate(chromeRelay)
		}
	})
	b.Run("tokenizer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parseCandidate(chromeRelay)
		}
	})
}

func BenchmarkFilterCandidate(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"relay", chromeRelay}, {"relay-hidden", chromeRelayOut}, {"host", chromeHost}, {"firefox-relay", firefoxRelay},
	} {
		b.Run(tc.name+"/before", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = filterRelayCandidateRef(tc.in, true, nil)
			}
		})
		b.Run(tc.name+"/after", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = FilterRelayCandidate(tc.in, true, nil)
			}
		})
	}
}

// refFieldRaddr and refFieldRport are where filterRelayCandidateRef finds
// "raddr" and "rport".
const (
	refFieldRaddr = 8
	refFieldRport = 10
)

// isHiddenRelayRef is the check filterRelayCandidateRef ended with.
func isHiddenRelayRef(body string) bool {
	c, err := ice.UnmarshalCandidate(body)
	if err != nil || c.Type() != ice.CandidateTypeRelay {
		return false
	}
	r := c.RelatedAddress()
	return r == nil || ((r.Address == "" || r.Address == hiddenRelatedAddr) && r.Port == 0)
}

// filterRelayCandidateRef is FilterRelayCandidate as it was before the
// allocation-free tokenizer (commit 578cff3), kept as the reference the
// current one must equal.
func filterRelayCandidateRef(cand string, forceRelay bool, trusted func(netip.AddrPort) bool) (out string, keep bool) {
	if cand == "" || !forceRelay {
		return cand, true
	}
	for i := 0; i < len(cand); i++ {
		if c := cand[i]; c < 0x20 || c >= 0x7f {
			return "", false
		}
	}

	prefix := ""
	body := cand
	if rest, ok := strings.CutPrefix(body, "a="); ok {
		// In SDP form the attribute name is mandatory.
		if !strings.HasPrefix(rest, "candidate:") {
			return "", false
		}
		prefix, body = "a=", rest
	}
	if rest, ok := strings.CutPrefix(body, "candidate:"); ok {
		prefix += "candidate:"
		body = rest
	}

	// pion strips one more "candidate:" and reads empty fields (double
	// spaces) as zero values; a browser may read either differently, and the
	// field positions below assume neither.
	if strings.HasPrefix(body, "candidate:") {
		return "", false
	}
	fields := strings.Split(body, " ")
	if len(fields) < candMinFields || slices.Contains(fields, "") || !isFoundation(fields[0]) ||
		fields[candFieldTyp] != "typ" || fields[candFieldType] != "relay" {
		return "", false
	}
	c, err := ice.UnmarshalCandidate(body)
	if err != nil || c.Type() != ice.CandidateTypeRelay {
		return "", false
	}
	// pion drops an IPv6 zone before parsing; a zone names the sender's
	// interface and has no business in a relay address.
	a, err := netip.ParseAddr(fields[candFieldAddress])
	if err != nil || a.Zone() != "" {
		return "", false
	}
	if trusted != nil && !trustedRelay(fields[candFieldTransport], fields[candFieldPort], a, trusted) {
		return "", false
	}
	ext := candMinFields
	if len(fields) > refFieldRaddr && fields[refFieldRaddr] == "raddr" {
		if len(fields) <= refFieldRport+1 || fields[refFieldRport] != "rport" {
			return "", false
		}
		fields[refFieldRaddr+1] = hiddenRelatedAddr
		fields[refFieldRport+1] = hiddenRelatedPort
		ext = refFieldRport + 2
	}
	for i := ext; i < len(fields); i++ {
		if fields[i] = ScrubAddresses(fields[i]); fields[i] == "" {
			return "", false
		}
	}
	body = strings.Join(fields, " ")

	if !isHiddenRelayRef(body) {
		return "", false
	}
	return prefix + body, true
}

// FuzzMayHoldAddress: where the fast path says no address can be found,
// the full search finds none and scrubbing changes nothing.
func FuzzMayHoldAddress(f *testing.F) {
	for _, s := range append(slices.Clone(candidateSeeds), "a=rtpmap:111 opus/48000/2", "c=IN IP4 0.0.0.0",
		"x.LOCAL", "1.2.3", "::", "a:b", "1.2.3.4", "ab.cd.ef.01", "host.local.", "1%2e2.3.4", "&#49;.2.3.4", "ｘ.local") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if mayHoldAddress(s) {
			return
		}
		for _, v := range spellings(s) {
			if leak, found := findAddress(v, nil); found {
				t.Fatalf("%q: fast path said no address, the search found %q", s, leak)
			}
		}
		if out := scrubMDNS(ScrubIPs(s)); out != s {
			t.Fatalf("%q: fast path said no address, scrubbing gave %q", s, out)
		}
	})
}

// BenchmarkScrubSDPOffer scrubs the load tool's ~4.4 KB offer under
// forced relay (cmd/veil-load/offer.sdp, CRLF as browsers send it).
func BenchmarkScrubSDPOffer(b *testing.B) {
	raw, err := os.ReadFile("../cmd/veil-load/offer.sdp")
	require.NoError(b, err)
	sdp := strings.ReplaceAll(string(raw), "\n", "\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(sdp)))
	for b.Loop() {
		if _, _, err := ScrubSDP(sdp, SDPOptions{ForceRelay: true, StripSysinfo: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHiddenConnLineIsClean: ScrubSDP skips the leak check for the c=
// line it writes itself; the check would pass it.
func TestHiddenConnLineIsClean(t *testing.T) {
	_, found := FindLeak(hiddenConnLine, nil)
	assert.False(t, found)
}
