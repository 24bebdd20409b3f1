package peerjs

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// fastPathSeeds are client messages for the fast path's differential
// test: the hot case, and what it must leave to encoding/json.
var fastPathSeeds = []string{
	`{"type":"OFFER","dst":"b","payload":{"sdp":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n"},"type":"data","connectionId":"dc_1","label":"dc_1","reliable":true,"serialization":"binary","metadata":{"a": [1, 2], "ip":"10.0.0.9"},"browser":"chrome"}}`,
	`{"type":"ANSWER","dst":"b","payload":{"sdp":{"type":"answer","sdp":"v=0\r\na=x:\u2028<&>\"\\\t\r\n"},"type":"media","connectionId":"mc_10.0.0.1","label":"","metadata":" [ \"\\u2028\" , null ] "}}`,
	`{"type":"ANSWER","dst":"b","payload":{"sdp":{"type":"answer","sdp":"v=0\r\n"},"type":"","connectionId":"","metadata":null,"reliable":false}}`,
	`{"type":"OFFER","dst":"b","payload":{"sdp":{"type":"answer","sdp":"v=0\r\n"}}}`,
	`{"type":"OFFER","dst":"b","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"},"candidate":null}}`,
	`{"type":"OFFER","dst":"b","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"},"Label":"x"}}`,
	`{"type":"OFFER","dst":"b","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"},"label":null}}`,
	`{"type":"CANDIDATE","dst":"b","payload":{"candidate":{"candidate":"` + testutil.RelayCand + `"}}}`,
	`{"type":"HEARTBEAT"}`, `{"type":"OFFER","dst":5}`, `{"type":"OFFER","DST":"b"}`, `{}`, `[]`,
}

// FuzzFastPathMatchesEncodingJSON holds the PeerJS fast path (decodeFast,
// signalFrameFast) to the encoding/json path it short-cuts: whenever the
// fast path decides, encoding/json decodes the same message, and the
// frame forwarded is byte for byte the same, under every policy.
func FuzzFastPathMatchesEncodingJSON(f *testing.F) {
	for _, s := range fastPathSeeds {
		f.Add([]byte(s))
	}
	d := &Dialect{srv: testutil.Edge(edge.Config{})}
	var sessions []*session
	for _, p := range []edge.SenderPolicy{{}, {ForceRelay: true, StripSysinfo: true}, {StripSysinfo: true}, {ForceRelay: true}} {
		s := &session{d: d, SenderPolicy: p}
		s.peer = hub.NewPeer(Namespace, s)
		sessions = append(sessions, s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow clientMsg
		if !decodeFast(b, &fast) {
			return
		}
		_, err := edge.Decode(b, &slow)
		require.NoError(t, err, "fast path decoded what encoding/json refuses")
		require.True(t, bytes.Equal(fast.Payload, slow.Payload), "payload %q != %q", fast.Payload, slow.Payload)
		assert.Equal(t, slow.Type, fast.Type)
		assert.Equal(t, slow.Dst, fast.Dst)
		for _, s := range sessions {
			got, keep, ok := s.signalFrameFast(&slow)
			if !ok {
				continue
			}
			require.True(t, keep)
			want, keep, ok := s.signalFrameJSON(&slow)
			require.True(t, ok && keep, "fast path forwarded what encoding/json refuses (policy %+v)", s.SenderPolicy)
			require.Equal(t, string(want), string(got), "policy %+v", s.SenderPolicy)
		}
	})
}

// TestFastPathTakesTheHotCase keeps the fast path in use for what a
// PeerJS client sends with an offer or answer.
func TestFastPathTakesTheHotCase(t *testing.T) {
	d := &Dialect{srv: testutil.Edge(edge.Config{})}
	s := &session{d: d, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}}
	s.peer = hub.NewPeer(Namespace, s)
	for _, frame := range fastPathSeeds[1:3] { // [0] has an address in its metadata: encoding/json rebuilds it
		var m clientMsg
		require.True(t, decodeFast([]byte(frame), &m), "%s", frame)
		_, _, ok := s.signalFrameFast(&m)
		assert.True(t, ok, "%s", frame)
	}
}
