package privacy

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy/privacytest"
)

// chromeOffer is a Chrome-style offer (audio + data channel) after
// gathering: host, mDNS, srflx, relay, IPv6 and TCP candidates, a real
// address in c= and a=rtcp:, and a=remote-candidates. Each entry is one
// line; "" marks a line ScrubSDP must drop under ForceRelay and a non-empty
// second element is what it must become.
var chromeOffer = [][2]string{
	{"v=0", ""},
	{"o=- 4611731400430051336 2 IN IP4 127.0.0.1", "o=- 4611731400430051336 2 IN IP4 0.0.0.0"},
	{"s=-", ""},
	{"t=0 0", ""},
	{"a=group:BUNDLE 0 1", ""},
	{"a=extmap-allow-mixed", ""},
	{"a=msid-semantic: WMS 3f4a5e1c-7b2d-4c9e-8f1a-2b3c4d5e6f70", ""},
	{"m=audio 54400 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", ""},
	{"c=IN IP4 203.0.113.7", "c=IN IP4 0.0.0.0"},
	{"a=rtcp:9 IN IP4 0.0.0.0", ""},
	{"a=" + chromeHost, "-"},
	{"a=" + chromeHost6, "-"},
	{"a=" + chromeMDNS, "-"},
	{"a=" + chromeSrflx, "-"},
	{"a=" + chromeTCPHost, "-"},
	{"a=" + chromeRelay, "a=" + chromeRelayOut},
	{"a=" + chromeRelay6, "a=" + chromeRelay6Hd},
	{"a=ice-ufrag:EsAw", ""},
	{"a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1", ""},
	{"a=ice-options:trickle", ""},
	{"a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E", ""},
	{"a=setup:actpass", ""},
	{"a=mid:0", ""},
	{"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", ""},
	{"a=sendrecv", ""},
	{"a=msid:3f4a5e1c-7b2d-4c9e-8f1a-2b3c4d5e6f70 9c8b7a6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4", ""},
	{"a=rtcp-mux", ""},
	{"a=rtcp-rsize", ""},
	{"a=rtpmap:111 opus/48000/2", ""},
	{"a=rtcp-fb:111 transport-cc", ""},
	{"a=fmtp:111 minptime=10;useinbandfec=1", ""},
	{"a=ssrc:1001 cname:Xk2+Lw9pQb3T4Ur1", ""},
	{"a=end-of-candidates", ""},
	{"m=application 54401 UDP/DTLS/SCTP webrtc-datachannel", ""},
	{"c=IN IP6 2001:db8:85a3::8a2e:370:7334", "c=IN IP4 0.0.0.0"},
	{"a=rtcp:54401 IN IP6 2001:db8:85a3::8a2e:370:7334", "a=rtcp:54401 IN IP4 0.0.0.0"},
	{"a=remote-candidates:1 192.168.7.9 50000 2 192.168.7.9 50001", "-"},
	{"a=candidate:9 1 udp 2122260223 192.168.1.23 54401 typ host generation 0", "-"},
	{"a=candidate:10 1 udp 41885695 198.51.100.20 61236 typ relay raddr 192.168.1.23 rport 54401 generation 0",
		"a=candidate:10 1 udp 41885695 198.51.100.20 61236 typ relay raddr 0.0.0.0 rport 0 generation 0"},
	{"a=ice-ufrag:EsAw", ""},
	{"a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1", ""},
	{"a=mid:1", ""},
	{"a=sctp-port:5000", ""},
	{"a=max-message-size:262144", ""},
}

// firefoxOffer is a Firefox-style offer: version in the o= user name,
// candidates in upper-case transport, a TCP candidate.
var firefoxOffer = [][2]string{
	{"v=0", ""},
	{"o=mozilla...THIS_IS_SDPARTA-128.0 6893423011617618545 0 IN IP4 0.0.0.0", "o=- 6893423011617618545 0 IN IP4 0.0.0.0"},
	{"s=-", ""},
	{"t=0 0", ""},
	{"a=fingerprint:sha-256 5B:2F:0E:3A:91:6C:77:20:AB:4E:88:9D:10:C3:F5:62:07:1E:DA:39:84:BB:52:6E:0F:A1:C7:3D:92:48:E6:15", ""},
	{"a=group:BUNDLE 0", ""},
	{"a=ice-options:trickle", ""},
	{"a=msid-semantic:WMS *", ""},
	{"m=application 50811 UDP/DTLS/SCTP webrtc-datachannel", ""},
	{"c=IN IP4 203.0.113.7", "c=IN IP4 0.0.0.0"},
	{"a=" + firefoxHost, "-"},
	{"a=" + firefoxTCP, "-"},
	{"a=" + firefoxSrflx, "-"},
	{"a=" + firefoxRelay, "a=" + firefoxRelayHd},
	{"a=sendrecv", ""},
	{"a=end-of-candidates", ""},
	{"a=ice-pwd:6f3b1e4c9a0d2f8e7b5c3a1d9e0f2b4c", ""},
	{"a=ice-ufrag:8a1b2c3d", ""},
	{"a=mid:0", ""},
	{"a=setup:actpass", ""},
	{"a=sctp-port:5000", ""},
	{"a=max-message-size:1073741823", ""},
}

// buildSDP joins the input (want=false) or expected (want=true) lines of a
// table like chromeOffer with eol after every line.
func buildSDP(lines [][2]string, want bool, eol string) string {
	var b strings.Builder
	for _, l := range lines {
		s := l[0]
		if want && l[1] == "-" {
			continue
		}
		if want && l[1] != "" {
			s = l[1]
		}
		b.WriteString(s + eol)
	}
	return b.String()
}

func TestScrubSDPForceRelay(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lines         [][2]string
		eol           string
		kept, dropped int
	}{
		{"chrome crlf", chromeOffer, "\r\n", 3, 6},
		{"chrome lf", chromeOffer, "\n", 3, 6},
		{"firefox crlf", firefoxOffer, "\r\n", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := buildSDP(tc.lines, false, tc.eol)
			want := buildSDP(tc.lines, true, tc.eol)
			if strings.HasPrefix(tc.lines[1][0], "o=mozilla") {
				// Firefox's o= user name survives ForceRelay alone.
				want = strings.Replace(want, "o=- ", "o=mozilla...THIS_IS_SDPARTA-128.0 ", 1)
			}
			out, st, err := ScrubSDP(in, SDPOptions{ForceRelay: true})
			require.NoError(t, err)
			assert.Equal(t, want, out)
			assert.Equal(t, SDPStats{CandidatesKept: tc.kept, CandidatesDropped: tc.dropped}, st)
			assertScrubbed(t, out)

			// The result is still SDP to a real parser.
			var sd sdp.SessionDescription
			require.NoError(t, sd.UnmarshalString(out))

			// Scrubbing twice changes nothing.
			again, st2, err := ScrubSDP(out, SDPOptions{ForceRelay: true})
			require.NoError(t, err)
			assert.Equal(t, out, again)
			assert.Zero(t, st2.CandidatesDropped)
		})
	}
}

func TestScrubSDPStripSysinfo(t *testing.T) {
	in := buildSDP(firefoxOffer, false, "\r\n")
	out, st, err := ScrubSDP(in, SDPOptions{StripSysinfo: true})
	require.NoError(t, err)
	assert.Zero(t, st)
	// Only the o= line changes: candidates and c= pass when relay is not forced.
	want := strings.Replace(in, "o=mozilla...THIS_IS_SDPARTA-128.0 ", "o=- ", 1)
	assert.Equal(t, want, out)
	assert.NotContains(t, out, "SDPARTA")

	out, _, err = ScrubSDP(in, SDPOptions{StripSysinfo: true, ForceRelay: true})
	require.NoError(t, err)
	assert.Equal(t, buildSDP(firefoxOffer, true, "\r\n"), out)
}

func TestScrubSDPNoOptions(t *testing.T) {
	in := buildSDP(chromeOffer, false, "\r\n")
	out, st, err := ScrubSDP(in, SDPOptions{})
	require.NoError(t, err)
	assert.Equal(t, in, out)
	assert.Zero(t, st)
}

func TestScrubSDPEdges(t *testing.T) {
	force := SDPOptions{ForceRelay: true}
	for _, tc := range []struct {
		name string
		in   string
		opt  SDPOptions
		want string
		err  bool
	}{
		{name: "empty", in: "", opt: force, err: true},
		{name: "not sdp", in: "hello\r\n", opt: force, err: true},
		{name: "json", in: `{"type":"offer"}`, opt: SDPOptions{}, err: true},
		{name: "leading space", in: " v=0\r\n", opt: force, err: true},
		{name: "no trailing newline", in: "v=0\r\nc=IN IP4 203.0.113.7", opt: force, want: "v=0\r\nc=IN IP4 0.0.0.0"},
		{name: "mixed endings kept", in: "v=0\nc=IN IP4 203.0.113.7\r\ns=-\n", opt: force, want: "v=0\nc=IN IP4 0.0.0.0\r\ns=-\n"},
		{name: "multicast c= with ttl", in: "v=0\r\nc=IN IP4 233.252.0.1/127\r\n", opt: force, want: "v=0\r\nc=IN IP4 0.0.0.0\r\n"},
		{name: "upper-case line type", in: "v=0\r\nC=IN IP4 203.0.113.7\r\n", opt: force, want: "v=0\r\nc=IN IP4 0.0.0.0\r\n"},
		{name: "upper-case candidate dropped", in: "v=0\r\na=CANDIDATE:1 1 udp 1 198.51.100.20 1 typ relay\r\n", opt: force, want: "v=0\r\n"},
		{name: "spaced candidate dropped", in: "v=0\r\na= candidate:1 1 udp 1 198.51.100.20 1 typ relay\r\n", opt: force, want: "v=0\r\n"},
		{name: "rtcp without address", in: "v=0\r\na=rtcp:9\r\n", opt: force, want: "v=0\r\na=rtcp:9\r\n"},
		{name: "rtcp-fb untouched", in: "v=0\r\na=rtcp-fb:96 nack pli\r\n", opt: force, want: "v=0\r\na=rtcp-fb:96 nack pli\r\n"},
		{name: "address in another attribute dropped", in: "v=0\r\na=rtcp-fb:96 nack 203.0.113.7\r\n", opt: force, want: "v=0\r\n"},
		{name: "colon before attribute name", in: "v=0\r\na=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host\r\na=:rtcp:9 IN IP4 203.0.113.77\r\n", opt: force, want: "v=0\r\n"},
		{name: "tab before attribute name", in: "v=0\r\na=\tcandidate:1 1 udp 1 198.51.100.20 1 typ relay\r\n", opt: force, want: "v=0\r\n"},
		{name: "unicode space before attribute name", in: "v=0\r\na=\u00a0rtcp:9 IN IP4 203.0.113.77\r\n", opt: force, want: "v=0\r\n"},
		{name: "space inside attribute name", in: "v=0\r\na=rtcp :9 IN IP4 203.0.113.77\r\n", opt: force, want: "v=0\r\n"},
		{name: "upper-case rtcp rewritten", in: "v=0\r\na=RTCP:9 IN IP6 ::1\r\n", opt: force, want: "v=0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"},
		{name: "mdns name in attribute dropped", in: "v=0\r\na=x-host:4f9e1c2a.local\r\ns=-\r\n", opt: force, want: "v=0\r\ns=-\r\n"},
		{name: "mapped address in session name dropped", in: "v=0\r\ns=::ffff:7f00:1\r\n", opt: force, want: "v=0\r\n"},
		{name: "address in o= user name", in: "v=0\r\no=10.1.2.3 1 2 IN IP4 10.1.2.3\r\n", opt: force, want: "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"},
		{name: "address in o= session id dropped", in: "v=0\r\no=- 10.1.2.3 2 IN IP4 10.1.2.3\r\n", opt: force, want: "v=0\r\n"},
		{name: "address in candidate foundation dropped", in: "v=0\r\na=candidate:10.1.2.3 1 udp 1 198.51.100.20 1 typ relay\r\n", opt: force, want: "v=0\r\n"},
		{name: "fingerprint kept", in: "v=0\r\na=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E\r\n", opt: force,
			want: "v=0\r\na=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E\r\n"},
		{name: "rtcp bad port", in: "v=0\r\na=rtcp:198.51.100.4\r\n", opt: force, err: true},
		{name: "stray cr", in: "v=0\r\na=x\ra=candidate:1 1 udp 1 192.168.1.2 1 typ host\r\n", opt: force, err: true},
		{name: "nul", in: "v=0\r\na=x\x00\r\n", opt: force, err: true},
		{name: "garbage line", in: "v=0\r\nhello\r\n", opt: force, err: true},
		{name: "garbage line without force", in: "v=0\r\nhello\r\n", opt: SDPOptions{StripSysinfo: true}, want: "v=0\r\nhello\r\n"},
		{name: "short o=", in: "v=0\r\no=- 1 2 IN IP4\r\n", opt: SDPOptions{StripSysinfo: true}, err: true},
		{name: "blank line kept", in: "v=0\r\n\r\ns=-\r\n", opt: force, want: "v=0\r\n\r\ns=-\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := ScrubSDP(tc.in, tc.opt)
			if tc.err {
				require.ErrorIs(t, err, ErrBadSDP)
				assert.Empty(t, out)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
		})
	}
}

// assertScrubbed checks the ForceRelay invariants on a scrubbed SDP,
// independently of how ScrubSDP reaches them.
func assertScrubbed(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.ContainsAny(line, "\r\x00") {
			t.Fatalf("stray CR or NUL in %q", line)
		}
		low := strings.ToLower(line)
		switch {
		case strings.HasPrefix(low, "a=") && strings.HasPrefix(strings.TrimLeft(low[2:], " \t"), "remote-candidates"):
			t.Fatalf("remote-candidates kept: %q", line)
		case strings.HasPrefix(low, "a=") && strings.HasPrefix(strings.TrimLeft(low[2:], " \t"), "candidate"):
			// Whatever a lenient parser might read as a candidate must be
			// exactly a hidden relay candidate.
			if !strings.HasPrefix(line, "a=candidate:") {
				t.Fatalf("candidate-like line kept: %q", line)
			}
			assertHiddenRelay(t, line)
		case strings.HasPrefix(low, "c="):
			if line != "c=IN IP4 0.0.0.0" {
				t.Fatalf("c= line kept an address: %q", line)
			}
		case strings.HasPrefix(low, "o="):
			if !strings.HasSuffix(line, " IN IP4 0.0.0.0") {
				t.Fatalf("o= line kept an address: %q", line)
			}
		case strings.HasPrefix(low, "a=rtcp:"):
			if strings.Contains(line, " ") && !strings.HasSuffix(line, " IN IP4 0.0.0.0") {
				t.Fatalf("a=rtcp: line kept an address: %q", line)
			}
		}
	}
}

func FuzzScrubSDP(f *testing.F) {
	f.Add(buildSDP(chromeOffer, false, "\r\n"), true, false)
	f.Add(buildSDP(chromeOffer, false, "\n"), true, true)
	f.Add(buildSDP(firefoxOffer, false, "\r\n"), true, true)
	f.Add(buildSDP(firefoxOffer, false, "\r\n"), false, true)
	f.Add("v=0\r\nC=IN IP6 ::1/3\r\na=RTCP:1 IN IP6 ::1\r\na= candidate:1 1 udp 1 198.51.100.20 1 typ relay\r\n", true, false)
	f.Add("v=0\r\na=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host\r\na=:rtcp:9 IN IP4 203.0.113.77\r\n", true, false)
	f.Add("v=0\r\na=\u00a0candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host\r\ns=::ffff:7f00:1\r\na=x:[fe80::1%eth0]:9\r\n", true, true)
	f.Add("v=0\r\na=candidate:1 1 udp 1 198.51.100.20 1 typ relay network-id x.local\r\na=x:１０．０．０．１\r\n", true, false)
	f.Fuzz(func(t *testing.T, in string, force, strip bool) {
		opt := SDPOptions{ForceRelay: force, StripSysinfo: strip}
		out, st, err := ScrubSDP(in, opt)
		if err != nil {
			if out != "" {
				t.Fatalf("output %q with error %v", out, err)
			}
			return
		}
		if !force && !strip && out != in {
			t.Fatalf("no options changed the input")
		}
		if len(out) > len(in)+len(in)/2+64 && strings.Count(in, "\n") < 4 {
			// Rewrites are bounded ("c=X" -> "c=IN IP4 0.0.0.0"); growth
			// beyond that means lines were duplicated.
			t.Fatalf("output grew from %d to %d", len(in), len(out))
		}
		if !force {
			return
		}
		if st.CandidatesKept < 0 || st.CandidatesDropped < 0 {
			t.Fatalf("bad stats %+v", st)
		}
		assertScrubbed(t, out)
		// The invariant, checked independently: nothing but 0.0.0.0 and
		// the address of a kept relay candidate.
		if leak := privacytest.Find(out, nil); leak != "" {
			t.Fatalf("address %q left in %q", leak, out)
		}
		again, _, err := ScrubSDP(out, opt)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
	})
}
