package privacy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy/privacytest"
)

// addressSpellings are IP literals and .local names in the spellings an
// attacker review found or a parser accepts. Each must be found, and
// ScrubAddresses must remove it.
var addressSpellings = []string{
	"203.0.113.77",
	"a=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=:rtcp:9 IN IP4 203.0.113.77",
	"192.168.1.20:54321",
	"010.001.002.003",
	"v1.2.3.4.5",
	"ip=10.0.0.1,",
	"2001:db8::1",
	"2001:0db8:0000:0000:0000:0000:0000:0001",
	"[2001:db8::1]:443",
	"fe80::1%eth0",
	"fe80::1%25eth0",
	"::1",
	"::ffff:127.0.0.1",
	"::ffff:7f00:1",
	"::ffff:0a00:0001",
	"64:ff9b::192.0.2.1",
	"::1.2.3.4",
	"1:2:3:4:5:6:7:8:9999",
	"addr 2001:db8:1:2:3:4:5:6:8080 end",
	"host=4f9e1c2a-1b2c-4d5e-8f90-0a1b2c3d4e5f.local",
	"printer.LOCAL.",
	"x.Local",
	"é.local",
	"１０．０．０．１",
	"10。0。0。1",
	"%31%30.0.0.1",
	"http://%5B::1%5D/",
	"abc.local\u3002",
	"ｘ．ｌｏｃａｌ",
	`{"ip":"\u0031\u0030.0.0.1"}`,
	`\x31\x30.0.0.1`,
	"&#49;&#48;.0.0.1",
	"&#x31;0.0.0.1",
	`x\u002elocal`,
	"%2531%2530.0.0.1",
	`\u0025\u0033\u0031\u0030.0.0.1`,
	// Found by an attack on the running server: what NFKC, IDNA or a
	// URL parser folds to an address, and escapes of JavaScript and HTML.
	"𝟏𝟐𝟕.𝟎.𝟎.𝟏",
	"¹²⁷.66.0.¹",
	"①②⑦.66.0.①",
	"127.6\u00ad6.0.1",
	// Found by fuzzing the fan-out dialect's invariant: folding reveals a
	// percent sign's digits, which decoding two layers at once ate.
	"x%１０．０．０．１00",
	"%１０．０．０．１",
	// More layers than FindAddress decodes: refused as unclassifiable.
	"%" + strings.Repeat("25", 30) + "310.0.0.1",
	"127.66\u200b.0.1",
	"127\u2060.66.0.1",
	"127.66.0.1\ufe0f",
	"\ufeff127.66.0.1",
	"abc.𝐥𝐨𝐜𝐚𝐥",
	"abc.lo\u00adcal",
	"abc.lo\u200bcal",
	"127&period;66&period;0&period;1",
	"abc&period;local",
	"&colon;&colon;1",
	"[&colon;&colon;1]",
	"abc&#46local",
	`127\u{2e}66\u{2e}0\u{2e}1`,
	`127\05666\0560\0561`,
	`127\.66\.0\.1`,
	// Zero-padded past three digits: a URL parser still reads an address.
	"0001.0002.0003.0004",
	"192.168.001.0001",
	"00127.66.0.1",
}

// notAddresses must not be found: legitimate SDP and statistics text.
var notAddresses = []string{
	"",
	"0.0.0.0",
	"::",
	"[::]:9",
	"c=IN IP4 0.0.0.0",
	"::ffff:0.0.0.0",
	"a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E",
	"a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
	"aa:bb:cc:dd:ee:ff",
	"12:30:45.123",
	"2026-11-23T12:30:45.123Z",
	"3f4a5e1c-7b2d-4c9e-8f1a-2b3c4d5e6f70",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"a=ice-ufrag:EsAw",
	"o=mozilla...THIS_IS_SDPARTA-128.0 6893423011617618545 0 IN IP4 0.0.0.0",
	"version 1.2.3",
	"127.1",
	"x.localhost",
	"local",
	".local",
	"my.local.example.com",
	"cafe:babe",
	"a=msid-semantic: WMS *",
	"3.14159",
	`\u00e9t\u00e9`,
	"&#49; item",
}

func TestFindAddress(t *testing.T) {
	for _, s := range addressSpellings {
		t.Run(s, func(t *testing.T) {
			leak, found := FindAddress(s, nil)
			assert.True(t, found)
			assert.NotEmpty(t, leak)
		})
	}
	for _, s := range notAddresses {
		t.Run("not "+s, func(t *testing.T) {
			leak, found := FindAddress(s, nil)
			assert.False(t, found, "found %q", leak)
			assert.Empty(t, privacytest.Find(s, func(netip.AddrPort) bool { return false }), "the independent checker disagrees")
		})
	}
}

func TestFindAddressAllowed(t *testing.T) {
	relay := netip.MustParseAddr("198.51.100.20")
	relay6 := netip.MustParseAddr("2001:db8::20")
	ours := func(a netip.Addr) bool { return a == relay || a == relay6 }
	for _, tc := range []struct {
		in    string
		found bool
	}{
		{"198.51.100.20", false},
		{"198.51.100.20:3478", false},
		{"::ffff:198.51.100.20", false},
		{"[2001:db8::20]:3478", false},
		{"2001:db8:0:0::20", false},
		{"198.51.100.21", true},
		{"1.198.51.100.20", true}, // 1.198.51.100 is an address too
		{"198.51.100.20 and 10.0.0.1", true},
		{"198.51.100.20.local", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, found := FindAddress(tc.in, ours)
			assert.Equal(t, tc.found, found)
		})
	}
}

func TestScrubAddresses(t *testing.T) {
	for _, s := range addressSpellings {
		t.Run(s, func(t *testing.T) {
			out := ScrubAddresses(s)
			leak, found := FindAddress(out, nil)
			assert.False(t, found, "%q left %q", out, leak)
			assert.Empty(t, privacytest.Find(out, func(netip.AddrPort) bool { return false }))
		})
	}
	for _, s := range []string{"hello", "a=ice-ufrag:EsAw", "cam 2", "0.0.0.0", "3.14159", "x.localhost"} {
		assert.Equal(t, s, ScrubAddresses(s), "text without an address is unchanged")
	}
	assert.Equal(t, "cam at 0.0.0.0 ok", ScrubAddresses("cam at 4f9e1c2a.local ok"))
	assert.Equal(t, "[::]:80", ScrubAddresses("[::1]:80"))
}

func TestScrubAddressesDeep(t *testing.T) {
	in := map[string]any{
		"10.0.0.1": "key",
		"list":     []any{"192.168.1.2", 1.5, true, nil, map[string]any{"host": "x.local"}},
		"label":    "cam",
	}
	out := ScrubAddressesDeep(in).(map[string]any)
	assert.Equal(t, "key", out["0.0.0.0"])
	assert.Equal(t, []any{"0.0.0.0", 1.5, true, nil, map[string]any{"host": "0.0.0.0"}}, out["list"])
	assert.Equal(t, "cam", out["label"])
	assert.Contains(t, in, "10.0.0.1", "input not modified")

	var deep any = "10.0.0.1"
	for range maxSanitizeDepth + 2 {
		deep = []any{deep}
	}
	_, found := FindAddress(strings.Repeat("x", 1)+toText(ScrubAddressesDeep(deep)), nil)
	assert.False(t, found)
}

func toText(v any) string {
	switch x := v.(type) {
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(toText(e))
		}
		return b.String()
	case string:
		return x
	}
	return ""
}

func TestFindLeak(t *testing.T) {
	relay := netip.MustParseAddrPort("198.51.100.20:55000")
	trusted := func(a netip.AddrPort) bool { return a == relay }
	kept := "candidate:4 1 udp 92217343 203.0.113.9 55000 typ relay raddr 0.0.0.0 rport 0"
	for _, tc := range []struct {
		name    string
		in      string
		trusted func(netip.AddrPort) bool
		found   bool
	}{
		{"kept relay candidate, relays unknown", kept, nil, false},
		{"kept relay candidate in sdp, relays unknown", "v=0\r\na=" + kept + "\r\nc=IN IP4 0.0.0.0\r\n", nil, false},
		{"untrusted relay candidate", kept, trusted, true},
		{"trusted relay candidate", strings.Replace(kept, "203.0.113.9", "198.51.100.20", 1), trusted, false},
		{"trusted relay IP, untrusted port", strings.Replace(strings.Replace(kept, "203.0.113.9", "198.51.100.20", 1), "55000", "45678", 1), trusted, true},
		{"trusted relay IP outside a candidate line", "c=IN IP4 198.51.100.20", trusted, true},
		{"raddr not hidden", "candidate:4 1 udp 92217343 203.0.113.9 55000 typ relay raddr 10.0.0.1 rport 9", nil, true},
		{"host candidate", "candidate:1 1 udp 2122260223 203.0.113.9 54321 typ host", nil, true},
		{"relay candidate text inside other text", "note: " + kept, nil, true},
		{"smuggled line", "a=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host", nil, true},
		{"address next to a kept candidate", "a=" + kept + "\r\na=x:10.0.0.1\r\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, found := FindLeak(tc.in, tc.trusted)
			assert.Equal(t, tc.found, found)
		})
	}
}

func TestFindLeakJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		found bool
	}{
		{"clean", `{"type":"signal","data":{"candidate":null}}`, false},
		{"plain", `{"metadata":{"ip":"10.0.0.1"}}`, true},
		{"escaped digits", `{"m":"\u0031\u0030.0.0.1"}`, true},
		{"escaped dot", `{"m":"x\u002elocal"}`, true},
		{"in a key", `{"10.0.0.1":1}`, true},
		{"deep", `[[[[[[[[[[[[[[[[[[[[[[[[{"a":["::1"]}]]]]]]]]]]]]]]]]]]]]]]]`, true},
		{"escaped quote before", `{"m":"\"","n":"2001:db8::1"}`, true},
		{"not json", `{"m":`, true},
		{"numbers are not addresses", `{"n":1.5,"m":[1,2,3,4]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, found := FindLeakJSON([]byte(tc.in), nil)
			assert.Equal(t, tc.found, found)
		})
	}
}

// FuzzFindAddress: on arbitrary text, FindAddress finds whatever the
// independent checker finds, and nothing either can find survives
// ScrubAddresses.
func FuzzFindAddress(f *testing.F) {
	for _, s := range append(append([]string{}, addressSpellings...), notAddresses...) {
		f.Add(s)
	}
	none := func(netip.AddrPort) bool { return false }
	f.Fuzz(func(t *testing.T, s string) {
		_, found := FindAddress(s, nil)
		if leak := privacytest.Find(s, none); leak != "" && !found {
			t.Fatalf("FindAddress missed %q in %q", leak, s)
		}
		out := ScrubAddresses(s)
		if leak, found := FindAddress(out, nil); found {
			t.Fatalf("ScrubAddresses(%q) = %q still holds %q", s, out, leak)
		}
		if leak := privacytest.Find(out, none); leak != "" {
			t.Fatalf("ScrubAddresses(%q) = %q still holds %q (independent check)", s, out, leak)
		}
	})
}

// FuzzFindLeakJSON: a JSON document FindLeakJSON passes holds nothing the
// independent checker finds in any decoded string.
func FuzzFindLeakJSON(f *testing.F) {
	for _, s := range []string{`{"a":"10.0.0.1"}`, `{"m":"\u0031\u0030.0.0.1"}`, `["x\u002elocal"]`, `{"k":{"::1":2}}`,
		`{"c":"candidate:4 1 udp 92217343 203.0.113.9 55000 typ relay raddr 0.0.0.0 rport 0"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, found := FindLeakJSON(b, nil); found {
			return
		}
		leak, err := privacytest.FindJSON(b, nil)
		require.NoError(t, err, "FindLeakJSON passed invalid JSON %q", b)
		if leak != "" {
			t.Fatalf("FindLeakJSON passed %q in %q", leak, b)
		}
	})
}
