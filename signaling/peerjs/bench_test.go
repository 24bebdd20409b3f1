package peerjs

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

// BenchmarkSignalOffer is what the server spends on one PeerJS OFFER with
// the load tool's ~4 KB offer: decode, filter, encode and the forced-relay
// check, the path Handle takes, without sockets. One op is one relayed
// message: allocs/op is the allocations per relayed offer.
func BenchmarkSignalOffer(b *testing.B) {
	sdp, err := os.ReadFile("../../cmd/veil-load/offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	frame, err := json.Marshal(map[string]any{"type": "OFFER", "dst": "0123456789abcdefghijklmnopqrstuv",
		"payload": map[string]any{"sdp": map[string]string{"type": "offer", "sdp": strings.ReplaceAll(string(sdp), "\n", "\r\n")},
			"type": "media", "connectionId": "mc_0123456789", "browser": "chrome"}})
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
			s := &session{d: &Dialect{srv: srv}, SenderPolicy: bc.policy}
			s.peer = hub.NewPeer(Namespace, s)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var m clientMsg
				if !decodeFast(frame, &m) {
					b.Fatal("fast path refused the offer")
				}
				f, keep, ok := s.signalFrameFast(&m)
				if !ok || !keep {
					b.Fatal("fast path refused the offer")
				}
				if bc.policy.ForceRelay && !srv.LeakFree(f) {
					b.Fatal("leak")
				}
			}
		})
	}
}
