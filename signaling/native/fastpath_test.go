package native

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// fastPathSeeds are frames for the fast path's differential tests: the
// hot case, and each thing it must leave to encoding/json.
var fastPathSeeds = []string{
	`{"type":"join","room":"r","rid":"1"}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"answer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x:\u00e9\u2028<&>\"\\\/\b\f\t\u0001\r\n"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\na=x:\ud83d\ude00\r\n"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\n","type":"answer"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"Type":"offer","sdp":"v=0\r\n"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"rollback"}}}`,
	`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\n"},"candidate":null}}`,
	` {"type" : "signal" , "to":"x", "data" : { "sdp" : { "type" : "offer" , "sdp" : "v=0\r\n" , "x" : [1, -2.5e3, true, false, null, {}] } } } `,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0"}}}`,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"10.0.0.1","sdpMLineIndex":65535,"usernameFragment":"u<&>"}}}`,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.HostCand + `","sdpMLineIndex":0}}}`,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMLineIndex":65536}}}`,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMLineIndex":1.0,"sdpMid":null}}}`,
	`{"type":"signal","to":"x","data":{"candidate":{"candidate":""}}}`,
	`{"type":"signal","to":"x","data":{"candidates":[{"candidate":"` + testutil.RelayCand + `"}]}}`,
	`{"type":"signal","to":"x","data":{"sealed":"YWJj"}}`,
	`{"type":"debug","to":"x","data":{"bytesSent":1}}`,
	`{"type":"sign\u0061l","to":"x"}`, `{"TYPE":"ping"}`, `{"type":"ping","type":"join"}`, `{"type":null}`,
	`{"type":5}`, `{"type":"ping","rid":{}}`, `{"\u212Aey":1}`, `[]`, `{}`, `{"a":[[[[]]]]}`, "\xff", `{"type":"ping"} x`,
}

// FuzzFastPathMatchesEncodingJSON holds the native fast path (decodeFast,
// signalFrameFast) to the encoding/json path it short-cuts: whenever the
// fast path decides, encoding/json decodes the same message, and the
// frame relayed is byte for byte the same, under every policy.
func FuzzFastPathMatchesEncodingJSON(f *testing.F) {
	for _, s := range fastPathSeeds {
		f.Add([]byte(s))
	}
	f.Add(benchOfferFrame(f))
	srv := testutil.Edge(edge.Config{})
	var sessions []*session
	for _, p := range []edge.SenderPolicy{{}, {ForceRelay: true, StripSysinfo: true}, {StripSysinfo: true}} {
		s := &session{srv: srv, SenderPolicy: p, limiter: srv.NewLimiter()}
		s.peer = hub.NewPeer(Namespace, &fuzzClient{})
		sessions = append(sessions, s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow in
		if !decodeFast(b, &fast) {
			return
		}
		partial, err := edge.Decode(b, &slow)
		require.NoError(t, err, "fast path decoded what encoding/json refuses (partial=%v)", partial)
		require.True(t, bytes.Equal(fast.Data, slow.Data), "data %q != %q", fast.Data, slow.Data)
		data := slow.Data
		fast.Data, slow.Data = nil, nil
		require.Equal(t, slow, fast)
		for _, s := range sessions {
			got, fwd, ok := s.signalFrameFast(data)
			if !ok {
				continue
			}
			payload, forward, err := s.filterSignal(data)
			require.NoError(t, err, "fast path decided what encoding/json refuses")
			require.Equal(t, forward, fwd, "forward")
			if !forward {
				continue
			}
			want := append(append(s.appendHead(nil, "signal"), payload...), '}') // as deliver builds it
			require.Equal(t, string(want), string(got))
		}
	})
}

// TestFastPathTakesTheHotCase keeps the fast path in use: the frames a
// browser sends for an offer, an answer or a candidate must not fall back to
// encoding/json (a regression would pass every other test, slower).
func TestFastPathTakesTheHotCase(t *testing.T) {
	srv := testutil.Edge(edge.Config{Policy: testutil.Policy(privacy.RelayForce, privacy.SysinfoStrip, privacy.SealedAllow)})
	s := &session{srv: srv, SenderPolicy: srv.SenderPolicy(true)}
	s.peer = hub.NewPeer(Namespace, &fuzzClient{})
	relayCand := []byte(`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}}`)
	for _, frame := range [][]byte{benchOfferFrame(t), []byte(fastPathSeeds[1]), []byte(fastPathSeeds[2]), relayCand} {
		var m in
		require.True(t, decodeFast(frame, &m), "%s", frame)
		_, _, ok := s.signalFrameFast(m.Data)
		assert.True(t, ok, "%s", frame)
	}
}
