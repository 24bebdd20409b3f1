package hub

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHubJoinMigratePlayRacingDisconnects: joins, migrations and plays
// racing the target's Unregister never leave a dead member, viewer or
// publisher behind: once every peer is unregistered, every room and
// stream is gone.
func TestHubJoinMigratePlayRacingDisconnects(t *testing.T) {
	const rounds = 3000
	h := New(Limits{MaxRoomPeers: 80, MaxPeerRooms: 16, MaxPeerStreams: 4, MaxPeerPlays: 16}, nil)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < rounds && time.Now().Before(deadline); i++ {
		d := NewPeer("vdo", nopClient{})
		target := NewPeer("vdo", nopClient{})
		require.NoError(t, h.Register(d))
		require.NoError(t, h.Register(target))
		room := fmt.Sprintf("r%d", i%7)
		require.NoError(t, h.JoinClaim(d, room+"-d", "", true))
		require.NoError(t, h.JoinClaim(target, room+"-d", "", false))
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); _ = h.Migrate(d, target.ID(), room+"-dest") }()
		go func() { defer wg.Done(); _ = h.Play(target, room+"-s", "") }()
		go func() { defer wg.Done(); _ = h.JoinClaim(target, room+"-j", "", i%2 == 0) }()
		go func() { defer wg.Done(); _ = h.Publish(target, room+"-p", "") }()
		if i%2 == 0 {
			runtime.Gosched()
		}
		h.Unregister(target)
		wg.Wait()
		h.Unregister(d)
	}
	assert.Zero(t, h.Rooms(), "rooms left")
	assert.Zero(t, h.Streams(), "streams left")
	assert.Zero(t, h.Peers(), "ids left")
}

type nopClient struct{}

func (nopClient) Notify(Event) {}

// BenchmarkRouteParallel measures routing and delivery without
// sockets from every core at once (b.RunParallel): each goroutine signals
// within its own pair of a shared  With no global lock on the message
// path ns/op falls as -cpu grows.
func BenchmarkRouteParallel(b *testing.B) {
	h := New(Limits{}, nil)
	var next atomic.Int64
	frame := Frame([]byte(`{"type":"signal"}`))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1)
		a, c := NewPeer("native", nopClient{}), NewPeer("native", nopClient{})
		for _, p := range []*Peer{a, c} {
			if err := h.Register(p); err != nil {
				b.Error(err)
				return
			}
			if err := h.Join(p, "room-"+strconv.FormatInt(i, 10), ""); err != nil {
				b.Error(err)
				return
			}
		}
		for pb.Next() {
			to, err := h.Route(a, c.ID())
			if err != nil {
				b.Error(err)
				return
			}
			to.Notify(frame)
		}
		h.Unregister(a)
		h.Unregister(c)
	})
}
