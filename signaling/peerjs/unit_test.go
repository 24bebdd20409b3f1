package peerjs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

func TestPeerJSConfig(t *testing.T) {
	d := Config{}.WithDefaults()
	assert.Equal(t, "/peerjs/", d.Path)
	assert.Equal(t, "peerjs", d.Key)
	assert.Equal(t, 5*time.Second, d.ExpireTimeout)
	assert.Equal(t, 90*time.Second, d.AliveTimeout)
	assert.False(t, d.Discovery)
	assert.Equal(t, "/p/q/", Config{Path: "p/q"}.WithDefaults().Path)

	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"root", Config{Path: "/"}, true},
		{"pattern in path", Config{Path: "/{x}/"}, false},
		{"space in path", Config{Path: "/a b/"}, false},
		{"double slash", Config{Path: "/a//b/"}, false},
		{"slash in key", Config{Key: "a/b"}, false},
		{"negative expire", Config{ExpireTimeout: -1}, false},
		{"disabled ignores the rest", Config{Disabled: true, Key: "a/b"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errConfig)
			}
		})
	}
}

func TestPeerJSValidID(t *testing.T) {
	for id, ok := range map[string]bool{
		"alice": true, "a-b_c d": true, "A1": true, newID(): true,
		"": false, "-a": false, "a-": false, "a--b": false, "a b": true, "a  b": false,
		"a.b": false, "ä": false, strings.Repeat("a", maxIDLen): true, strings.Repeat("a", maxIDLen+1): false,
	} {
		assert.Equal(t, ok, validID(id), "%q", id)
	}
}

// FuzzPeerJSSignal feeds arbitrary OFFER/ANSWER/CANDIDATE payloads through
// the decoder and the privacy filter: never a panic, and under forced relay
// nothing but relay candidates with a hidden related address comes out.
func FuzzPeerJSSignal(f *testing.F) {
	for _, seed := range []string{
		`{"sdp":{"type":"offer","sdp":"v=0\r\nc=IN IP4 10.0.0.1\r\n"},"type":"data","connectionId":"dc_1","browser":"chrome"}`,
		`{"candidate":{"candidate":"` + testutil.HostCand + `","sdpMid":"0","sdpMLineIndex":0},"connectionId":"x"}`,
		`{"candidate":{"candidate":"` + testutil.RelayCand + `"}}`,
		`{"metadata":{"a":[1,2]},"label":"l","reliable":true,"serialization":"json"}`,
		`null`, `5`, `{"sdp":null}`,
	} {
		for _, typ := range []string{"OFFER", "ANSWER", "CANDIDATE"} {
			f.Add(typ, []byte(seed))
		}
	}
	sess := &session{d: &Dialect{srv: testutil.Edge(edge.Config{})}, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}}
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		var p payload
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		out, keep, ok := sess.filterPayload(typ, p)
		if !ok || !keep {
			return
		}
		if out.Browser != nil {
			t.Fatalf("browser name forwarded under strip")
		}
		if out.Candidate != nil && out.Candidate.Candidate != "" {
			if !strings.Contains(out.Candidate.Candidate, " typ relay") || strings.Contains(out.Candidate.Candidate, "typ host") {
				t.Fatalf("non-relay candidate forwarded: %q", out.Candidate.Candidate)
			}
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("forwarded payload does not encode: %v", err)
		}
	})
}
