package native

import (
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
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
		`{"type":"signal","to":"x","data":{"candidate":{"candidate":"` + testutil.HostCand + `","sdpMid":"0"}}}`,
		`{"type":"signal","to":"x","data":{"candidates":[{"candidate":"` + testutil.RelayCand + `"}]}}`,
		`{"type":"signal","to":"x","data":{"candidate":null}}`,
		`{"type":"signal","to":"x","data":{"sealed":"YWJj"}}`,
		`{"type":"debug","to":"x","data":{"bytesSent":1,"userAgent":"x"}}`,
		`[]`, `{"type":5}`, `{"type":"ping","rid":{}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	srv := testutil.Edge(edge.Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}, limiter: srv.NewLimiter()}
		s.peer = hub.NewPeer(Namespace, &fuzzClient{})
		var m in
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
			var c edge.Candidate
			_ = json.Unmarshal(d.Candidate, &c)
			check(c.Candidate)
		}
		if d.Sealed != nil {
			t.Fatalf("sealed payload forwarded under %v", privacy.DefaultPolicy())
		}
	})
}

// FuzzForwardedFrameSize feeds arbitrary signal and debug payloads to a
// native session routed to a peer: whatever is forwarded is at most
// edge.MaxFrameGrowth bytes larger than the message that carried it.
func FuzzForwardedFrameSize(f *testing.F) {
	for _, s := range []string{
		`{"sdp":{"type":"offer","sdp":"v=0\r\ns=<<<\u2028\r\n"}}`,
		`{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"<"}}`,
		`{"candidates":[{"candidate":"` + testutil.RelayCand + `"}]}`,
		`{"bytesSent":1e20,"x":"<>&"}`, `{"a":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
	} {
		for _, signal := range []bool{true, false} {
			f.Add(s, signal, true)
			f.Add(s, signal, false)
		}
	}
	// One sender and one recipient per policy: the default (filter and
	// strip) and pass (nothing removed, so nothing shrinks).
	type rig struct {
		s  *session
		to *sizeClient
		id string
	}
	var rigs [2]rig
	for i, pol := range []privacy.Policy{privacy.DefaultPolicy(), testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedAllow)} {
		srv := testutil.Edge(edge.Config{Policy: pol})
		to := &sizeClient{}
		target := hub.NewPeer(Namespace, to)
		require.NoError(f, srv.Hub.Register(target))
		s := &session{srv: srv, c: edge.NewDetachedConn(1024), SenderPolicy: srv.SenderPolicy(false), limiter: srv.NewLimiter()}
		s.peer = hub.NewPeer(Namespace, s)
		require.NoError(f, srv.Hub.Register(s.peer))
		require.NoError(f, srv.Hub.Join(target, "r", ""))
		require.NoError(f, srv.Hub.Join(s.peer, "r", ""))
		rigs[i] = rig{s, to, target.ID()}
	}
	var mu sync.Mutex // the rigs are shared by parallel fuzz workers
	f.Fuzz(func(t *testing.T, data string, signal, pass bool) {
		mu.Lock()
		defer mu.Unlock()
		r := rigs[0]
		if pass {
			r = rigs[1]
		}
		typ := "debug"
		if signal {
			typ = "signal"
		}
		in := []byte(`{"type":"` + typ + `","to":"` + r.id + `","data":` + data + `}`)
		r.to.max = 0
		r.s.Handle(in)
		r.s.c.TakeQueued()
		if r.to.max > len(in)+edge.MaxFrameGrowth {
			t.Fatalf("forwarded %d bytes for a %d byte message", r.to.max, len(in))
		}
	})
}

// sizeClient records the largest frame it is sent.
type sizeClient struct{ max int }

func (c *sizeClient) Notify(ev hub.Event) {
	if f, ok := ev.(hub.Frame); ok {
		c.max = max(c.max, len(f))
	}
}

// TestForcedRelayFinalCheck: a frame that would still hold an address when
// it is about to be queued is refused with bad-message and counted, and
// the recipient gets nothing. Reached here through deliver directly, since
// every field the dialects know is scrubbed before.
func TestForcedRelayFinalCheck(t *testing.T) {
	relay := netip.MustParseAddrPort("203.0.113.7:61000")
	srv := testutil.Edge(edge.Config{TrustedRelays: func(a netip.AddrPort) bool { return a == relay }})
	rec := &fuzzClient{}
	to := hub.NewPeer(Namespace, rec)
	s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: true}}
	s.peer = hub.NewPeer(Namespace, &fuzzClient{})
	for _, data := range []string{`{"x":"10.0.0.1"}`, `{"x":"\u0031\u0030.0.0.1"}`, `{"10.0.0.1":1}`, `{"x":"a.local"}`, `{"x":[{"y":"2001:db8::1"}]}`,
		// The trusted relay address outside a relay candidate, and in one
		// at a port the trusted relay does not hold.
		`{"x":"203.0.113.7"}`, `{"c":"candidate:3 1 udp 41885439 203.0.113.7 61001 typ relay raddr 0.0.0.0 rport 0"}`} {
		err := s.deliver(to, "signal", []byte(data))
		require.ErrorIs(t, err, edge.ErrAddressLeak, data)
		code, _ := edge.ToWire(err)
		assert.Equal(t, hub.CodeBadMessage, code)
	}
	assert.Zero(t, rec.frames, "nothing reached the recipient")
	assert.Equal(t, 7.0, testutil.MetricValueNoLabel(t, srv.Metrics.Reg, "veil_address_refused_total"))

	require.NoError(t, s.deliver(to, "signal", []byte(`{"c":"candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 0.0.0.0 rport 0","y":"0.0.0.0"}`)),
		"a trusted relay candidate and 0.0.0.0 pass")
	assert.Equal(t, 1, rec.frames)
	s.ForceRelay = false
	require.NoError(t, s.deliver(to, "signal", []byte(`{"x":"10.0.0.1"}`)), "unfiltered senders are not checked")
}
