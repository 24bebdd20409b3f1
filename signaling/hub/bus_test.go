package hub

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busRecorder is a Bus that keeps what it is told.
type busRecorder struct {
	mu  sync.Mutex
	got []string
}

func (b *busRecorder) add(what string, p *Peer, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, fmt.Sprintf("%s %s %s", what, p.ID(), name))
}

func (b *busRecorder) Registered(p *Peer)               { b.add("registered", p, "") }
func (b *busRecorder) Joined(p *Peer, r string)         { b.add("joined", p, r) }
func (b *busRecorder) Left(p *Peer, r string)           { b.add("left", p, r) }
func (b *busRecorder) Published(p *Peer, s string)      { b.add("published", p, s) }
func (b *busRecorder) Unpublished(p *Peer, s string)    { b.add("unpublished", p, s) }
func (b *busRecorder) Played(p *Peer, s string)         { b.add("played", p, s) }
func (b *busRecorder) StoppedPlaying(p *Peer, s string) { b.add("stopped", p, s) }
func (b *busRecorder) Unregistered(p *Peer)             { b.add("unregistered", p, "") }

// forwardRecorder is a remote peer's Client that keeps what is forwarded.
type forwardRecorder struct {
	recorder
	from []string
}

func (f *forwardRecorder) Forward(from, _ *Peer, ev Event) {
	f.mu.Lock()
	f.from = append(f.from, from.ID())
	f.mu.Unlock()
	f.Notify(ev)
}

// TestBusAndRemotePeers: the Bus hears every change of local peers, in
// order, and none of remote peers'; local peers get the usual events
// about remote ones; Route hands out a handle that forwards with the
// sender; per-peer limits are the ingress node's to check.
func TestBusAndRemotePeers(t *testing.T) {
	h := New(Limits{MaxRoomPeers: 2, MaxPeerRooms: 1}, nil)
	bus := &busRecorder{}
	h.Federate(bus)

	local, lrec := newTestPeer(t, h, "native")
	fw := &forwardRecorder{}
	remote := NewRemotePeer("native", "remote-id", fw)
	require.True(t, remote.Remote())
	require.False(t, local.Remote())
	require.NoError(t, h.Register(remote))

	require.NoError(t, h.Join(remote, "r", ""))
	require.NoError(t, h.Join(remote, "r2", ""), "MaxPeerRooms is not checked for remote peers")
	require.NoError(t, h.Join(local, "r", ""))
	third := NewRemotePeer("native", "third", fw)
	require.NoError(t, h.Register(third))
	require.NoError(t, h.Join(third, "r", ""), "MaxRoomPeers is not checked for remote peers")
	assert.Contains(t, lrec.take(), Event(EvPeerJoined{Room: "r", Peer: Member{ID: "third"}}))

	to, err := h.Route(local, "remote-id")
	require.NoError(t, err)
	assert.Equal(t, "remote-id", to.ID())
	to.Notify(Frame("hello"))
	assert.Equal(t, []string{local.ID()}, fw.from, "forwarded with its sender")

	require.NoError(t, h.Publish(local, "s", ""))
	require.NoError(t, h.Play(remote, "s", ""))
	assert.Same(t, local, h.Publisher("native", "s"))
	require.NoError(t, h.Unpublish(local, "s", ""))
	require.NoError(t, h.Play(local, "s2", ""))
	h.StopPlay(local, "s2")
	require.NoError(t, h.Leave(local, "r", ""))
	h.Unregister(remote)
	h.Unregister(local)

	id := local.ID()
	assert.Equal(t, []string{
		"registered " + id + " ",
		"joined " + id + " r",
		"published " + id + " s",
		"unpublished " + id + " s",
		"played " + id + " s2",
		"stopped " + id + " s2",
		"left " + id + " r",
		"unregistered " + id + " ",
	}, bus.got, "the local peer's changes, in order; nothing of the remote peers")
}
