package testutil

import (
	"log/slog"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Edge returns a shared layer over a fresh hub, for tests that drive a
// dialect's sessions without sockets: cfg with the zero fields that a
// session reads set to signaling's defaults (policy, message and name
// sizes, queue); rates stay off, so a session's limiter is unlimited.
func Edge(cfg edge.Config) *edge.Server {
	if cfg.Policy == (privacy.Policy{}) {
		cfg.Policy = privacy.DefaultPolicy()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxMessageBytes, 64<<10)
	def(&cfg.MaxNameBytes, 256)
	def(&cfg.SendQueue, 64)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := hub.New(hub.Limits{MaxRoomPeers: 80, MaxPeerRooms: 16, MaxPeerStreams: 4, MaxPeerPlays: 16}, nil)
	return edge.New(cfg, h)
}
