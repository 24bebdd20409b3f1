package native

// Benchmarks and pins of the native protocol's hot path without sockets;
// the socket benchmarks are package signaling's (bench_test.go there).

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// benchOfferSDP is the load tool's ~4 KB Chrome-like offer, with the CRLF
// line endings browsers send (the same description package signaling's
// benchmarks use).
var benchOfferSDP = strings.ReplaceAll(string(must(os.ReadFile("../../cmd/veil-load/offer.sdp"))), "\n", "\r\n")

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// benchOfferFrame is a native signal message carrying benchOfferSDP.
func benchOfferFrame(tb testing.TB) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"type": "signal", "to": "0123456789abcdefghijklmnopqrstuv",
		"data": map[string]any{"sdp": map[string]string{"type": "offer", "sdp": benchOfferSDP}}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// benchRouteClient drops every event.
type benchRouteClient struct{}

func (benchRouteClient) Notify(hub.Event) {}

// BenchmarkDecodeOffer compares what the server spends on one ~4 KB
// offer: encoding/json alone (the baseline, into a generic map and into
// veil's own structs) against veil's whole decode, validate, filter and
// re-encode (decodeFast, signalFrameFast and send, the path Handle takes
// for an offer) under each policy. One op is one relayed message: allocs/op is
// the allocations per relayed offer.
func BenchmarkDecodeOffer(b *testing.B) {
	frame := benchOfferFrame(b)
	b.Logf("frame: %d bytes, sdp: %d bytes", len(frame), len(benchOfferSDP))
	srv := testutil.Edge(edge.Config{Logger: slog.New(slog.DiscardHandler)})
	b.Run("json=any", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(frame, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json=struct", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var m in
			var d signalData
			if err := json.Unmarshal(frame, &m); err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(m.Data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name          string
		filter, strip bool
	}{
		{"veil/relay=off", false, false},
		{"veil/relay=force", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// inLen as Handle sets it: without it the growth check
			// refuses the frame before LeakFree (which the benchmark
			// before issue #14 phase 2 left out that way, unnoticed).
			s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: bc.filter, StripSysinfo: bc.strip, SealedOK: true}, inLen: len(frame)}
			s.peer = hub.NewPeer(Namespace, benchRouteClient{})
			to := hub.NewPeer(Namespace, benchRouteClient{})
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var m in
				if !decodeFast(frame, &m) {
					b.Fatal("fast path refused the offer")
				}
				f, _, ok := s.signalFrameFast(m.Data)
				if !ok {
					b.Fatal("fast path refused the offer")
				}
				if err := s.relay(to, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// captureClient keeps the last frame it was given.
type captureClient struct{ last []byte }

func (c *captureClient) Notify(ev hub.Event) {
	if f, ok := ev.(hub.Frame); ok {
		c.last = f
	}
}

// TestDeliverMatchesMarshal pins the hand-built relay frame of deliver to
// what marshal of outSignal gives, so the shortcut that
// BenchmarkDecodeOffer measures cannot drift from the wire format.
func TestDeliverMatchesMarshal(t *testing.T) {
	srv := testutil.Edge(edge.Config{Policy: testutil.Policy(privacy.RelayOff, privacy.SysinfoPass, privacy.SealedAllow)})
	for _, tc := range []struct{ name, typ, data string }{
		{"candidate", "signal", `{"candidate":{"candidate":"candidate:1 1 udp 1 203.0.113.7 1 typ relay raddr 0.0.0.0 rport 0"}}`},
		{"html escaped", "debug", `{"note":"\u003cb\u003e \u0026"}`},
		{"offer", "signal", string(must(json.Marshal(map[string]any{"sdp": map[string]string{"type": "offer", "sdp": benchOfferSDP}})))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := &captureClient{}
			// The client's message held the same data and an envelope.
			s := &session{srv: srv, inLen: len(tc.data) + 64}
			s.peer = hub.NewPeer(Namespace, benchRouteClient{})
			s.deliver(hub.NewPeer(Namespace, got), tc.typ, []byte(tc.data))
			want, err := edge.Marshal(outSignal{Type: tc.typ, From: s.peer.ID(), Data: json.RawMessage(tc.data)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.last) != string(want) {
				t.Fatalf("deliver built\n%s\nwant\n%s", got.last, want)
			}
		})
	}
}

// BenchmarkDecodeCandidate is one trickle candidate (a relay candidate,
// kept under forced relay) through the path Handle takes: the fast path,
// and for comparison the encoding/json path it short-cuts (filterSignal
// and deliver). One op is one relayed message.
func BenchmarkDecodeCandidate(b *testing.B) {
	frame := []byte(`{"type":"signal","to":"0123456789abcdefghijklmnopqrstuv","data":{"candidate":{"candidate":"` +
		testutil.RelayCand + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}}`)
	srv := testutil.Edge(edge.Config{Logger: slog.New(slog.DiscardHandler)})
	s := &session{srv: srv, SenderPolicy: edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}, inLen: len(frame)}
	s.peer = hub.NewPeer(Namespace, benchRouteClient{})
	to := hub.NewPeer(Namespace, benchRouteClient{})
	b.Run("path=fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m in
			if !decodeFast(frame, &m) {
				b.Fatal("fast path refused the frame")
			}
			f, fwd, ok := s.signalFrameFast(m.Data)
			if !ok || !fwd {
				b.Fatal("fast path refused the candidate")
			}
			if err := s.relay(to, f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m in
			if _, err := edge.Decode(frame, &m); err != nil {
				b.Fatal(err)
			}
			data, fwd, err := s.filterSignal(m.Data)
			if err != nil || !fwd {
				b.Fatal(err)
			}
			if err := s.deliver(to, "signal", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
