package vdo

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// BenchmarkDirectOffer is what the server spends on one direct message
// carrying the load tool's ~4 KB offer, as the SDK sends it: decode,
// filter, encode and the forced-relay check, the path Handle takes,
// without sockets. One op is one relayed message: allocs/op is the
// allocations per relayed offer.
func BenchmarkDirectOffer(b *testing.B) {
	sdp, err := os.ReadFile("../../cmd/veil-load/offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	frame, err := json.Marshal(map[string]any{"UUID": "0123456789abcdefghijklmnopqrstuv",
		"description": map[string]string{"type": "offer", "sdp": strings.ReplaceAll(string(sdp), "\n", "\r\n")},
		"session":     "k3x9q2mf", "streamID": "loadstream"})
	if err != nil {
		b.Fatal(err)
	}
	srv := testutil.Edge(edge.Config{Logger: slog.New(slog.DiscardHandler)})
	for _, bc := range []struct {
		name   string
		policy edge.SenderPolicy
	}{
		{"relay=off", edge.SenderPolicy{}},
		{"relay=force", edge.SenderPolicy{ForceRelay: true, StripSysinfo: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &session{srv: srv, SenderPolicy: bc.policy}
			s.peer = hub.NewPeer(Namespace, nopClient{})
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var m in
				if !decodeFast(frame, &m) {
					b.Fatal("fast path refused the offer")
				}
				f, ok := s.directFrameFast(&m)
				if !ok {
					b.Fatal("fast path refused the offer")
				}
				if bc.policy.ForceRelay && !srv.LeakFree(f) {
					b.Fatal("leak")
				}
			}
		})
	}
}
