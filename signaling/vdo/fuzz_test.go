package vdo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// FuzzVDODirect feeds arbitrary frames to the VDO.Ninja decoder and direct
// message filter: they must never panic, and under the default policy
// (relay forced, sealed denied) nothing forwarded may carry a non-relay
// candidate, a real connection address or an encrypted payload.
func FuzzVDODirect(f *testing.F) {
	for _, s := range []string{
		`{"UUID":"x","description":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n"},"session":"s"}`,
		`{"UUID":"x","candidate":{"candidate":"` + testutil.HostCand + `","sdpMid":"0"},"type":"local"}`,
		`{"UUID":"x","candidates":[{"candidate":"` + testutil.RelayCand + `"}]}`,
		`{"UUID":"x","description":"abcdef","vector":"0011"}`,
		`{"UUID":"x","info":{"userAgent":"x","label":"cam 10.1.2.3"}}`,
		`{"request":"seed","streamID":"s"}`, `{"UUID":5}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	srv := testutil.Edge(edge.Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}, limiter: srv.NewLimiter(), plays: map[string]struct{}{}}
		s.peer = hub.NewPeer(Namespace, nopClient{})
		var m in
		if json.Unmarshal(b, &m) != nil {
			return
		}
		out, forward, err := s.filterDirect(&m)
		if err != nil || !forward {
			return
		}
		enc, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("forwarded message does not encode: %v", err)
		}
		text := string(enc)
		relayOnly := func(c string) {
			if c != "" && !strings.Contains(c, " typ relay") {
				t.Fatalf("non-relay candidate forwarded: %s", text)
			}
		}
		var d struct {
			Description json.RawMessage  `json:"description"`
			Candidate   json.RawMessage  `json:"candidate"`
			Candidates  []edge.Candidate `json:"candidates"`
		}
		if err := json.Unmarshal(enc, &d); err != nil {
			t.Fatalf("forwarded message is not JSON: %s", text)
		}
		var desc edge.SessionDesc
		if json.Unmarshal(d.Description, &desc) == nil {
			for _, line := range strings.Split(desc.SDP, "\n") {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(strings.ToLower(line), "a=candidate") {
					relayOnly(line)
				}
				if strings.HasPrefix(line, "c=") && line != "c=IN IP4 0.0.0.0" {
					t.Fatalf("real connection address forwarded: %s", text)
				}
			}
		}
		var c edge.Candidate
		if json.Unmarshal(d.Candidate, &c) == nil {
			relayOnly(c.Candidate)
		}
		for _, c := range d.Candidates {
			relayOnly(c.Candidate)
		}
		if out.Vector != "" {
			t.Fatalf("encrypted payload forwarded while sealed payloads are denied: %s", text)
		}
	})
}

// nopClient drops every event.
type nopClient struct{}

func (nopClient) Notify(hub.Event) {}
