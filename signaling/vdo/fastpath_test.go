package vdo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// fastPathSeeds are messages for the fast path's differential test: the
// hot case, and what it must leave to encoding/json.
var fastPathSeeds = []string{
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n"},"session":"k3x9q2mf","streamID":"s"}`,
	`{"UUID":"x","session":"k3x9q2mf","type":"remote","description":{"type":"answer","sdp":"v=0\r\na=x:\u2028<&>\"\\\t\r\n"}}`,
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\na=x:y\r\n"},"session":"10.0.0.1","streamID":"cam","vector":"00","claim":true}`,
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\na=x:y\r\n"},"streamID":"cam.local"}`,
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\n"},"type":"other"}`,
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\n"},"session":""}`,
	`{"UUID":"x","description":{"type":"rollback"}}`,
	`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\n"},"candidate":null}`,
	`{"UUID":"x","description":"abcdef","vector":"0011"}`,
	`{"UUID":"x","candidates":[{"candidate":"` + testutil.RelayCand + `"}]}`,
	`{"UUID":"x","info":{"label":"cam"}}`, `{"request":"seed","streamID":"s","claim":false}`,
	`{"request":"play","streamID":null}`, `{"uuid":"x"}`, `{"UUID":5}`, `[]`, `{}`,
}

// FuzzFastPathMatchesEncodingJSON holds the VDO.Ninja fast path
// (decodeFast, directFrameFast) to the encoding/json path it short-cuts:
// whenever the fast path decides, encoding/json decodes the same message,
// and the frame forwarded is byte for byte the same, under every policy.
func FuzzFastPathMatchesEncodingJSON(f *testing.F) {
	for _, s := range fastPathSeeds {
		f.Add([]byte(s))
	}
	srv := testutil.Edge(edge.Config{})
	var sessions []*session
	for _, p := range []edge.SenderPolicy{{}, {ForceRelay: true, StripSysinfo: true}, {StripSysinfo: true}, {ForceRelay: true, SealedOK: true}} {
		s := &session{srv: srv, SenderPolicy: p, limiter: srv.NewLimiter(), plays: map[string]struct{}{}}
		s.peer = hub.NewPeer(Namespace, nopClient{})
		sessions = append(sessions, s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow in
		if !decodeFast(b, &fast) {
			return
		}
		_, err := edge.Decode(b, &slow)
		require.NoError(t, err, "fast path decoded what encoding/json refuses")
		require.Equal(t, slow, fast)
		for _, s := range sessions {
			got, ok := s.directFrameFast(&slow)
			if !ok {
				continue
			}
			want, forward, err := s.directFrameJSON(&slow)
			require.NoError(t, err, "fast path forwarded what encoding/json refuses (policy %+v)", s.SenderPolicy)
			require.True(t, forward)
			require.Equal(t, string(want), string(got), "policy %+v", s.SenderPolicy)
		}
	})
}

// TestFastPathTakesTheHotCase keeps the fast path in use for what the
// SDK sends with an offer or answer.
func TestFastPathTakesTheHotCase(t *testing.T) {
	srv := testutil.Edge(edge.Config{})
	s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}}
	s.peer = hub.NewPeer(Namespace, nopClient{})
	for _, frame := range fastPathSeeds[:3] {
		var m in
		require.True(t, decodeFast([]byte(frame), &m), "%s", frame)
		_, ok := s.directFrameFast(&m)
		assert.True(t, ok, "%s", frame)
	}
}
