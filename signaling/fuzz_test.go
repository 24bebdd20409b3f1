package signaling

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/veilrtc/veil/privacy"

	"github.com/veilrtc/veil/signaling/hub"
)

// fuzzClient records what a session would send instead of writing to a
// socket, so the decoder can be fuzzed without the network.
type fuzzClient struct{ frames int }

func (f *fuzzClient) Notify(hub.Event) { f.frames++ }

// FuzzNativeMessage feeds arbitrary frames to the native decoder and
// payload filter: they must never panic, and under a forced relay policy
// nothing forwarded may carry a non-relay candidate.
func FuzzNativeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"r","rid":"1"}`,
		`{"type":"signal","to":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n"}}}`,
		`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + hostCand + `","sdpMid":"0"}}}`,
		`{"type":"signal","to":"x","data":{"candidates":[{"candidate":"` + relayCand + `"}]}}`,
		`{"type":"signal","to":"x","data":{"candidate":null}}`,
		`{"type":"signal","to":"x","data":{"sealed":"YWJj"}}`,
		`{"type":"debug","to":"x","data":{"bytesSent":1,"userAgent":"x"}}`,
		`[]`, `{"type":5}`, `{"type":"ping","rid":{}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	srv, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &nativeSession{srv: srv, senderPolicy: senderPolicy{forceRelay: true, stripSysinfo: true}, limiter: srv.newConnLimiter()}
		s.peer = hub.NewPeer(nativeNS, &fuzzClient{})
		var m nativeIn
		if json.Unmarshal(b, &m) != nil {
			return
		}
		out, forward, err := s.filterSignal(m.Data)
		if err != nil || !forward {
			return
		}
		var d signalData
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("forwarded payload is not JSON: %s", out)
		}
		check := func(c string) {
			if c != "" && !strings.Contains(c, " typ relay") {
				t.Fatalf("non-relay candidate forwarded: %q", c)
			}
		}
		if d.SDP != nil {
			for _, line := range strings.Split(d.SDP.SDP, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "a=candidate") {
					check(line)
				}
			}
		}
		for _, c := range d.Candidates {
			check(c.Candidate)
		}
		if len(d.Candidate) > 0 && string(d.Candidate) != "null" {
			var c iceCandidate
			_ = json.Unmarshal(d.Candidate, &c)
			check(c.Candidate)
		}
		if d.Sealed != nil {
			t.Fatalf("sealed payload forwarded under %v", privacy.DefaultPolicy())
		}
	})
}
