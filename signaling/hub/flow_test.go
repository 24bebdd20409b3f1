package hub

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Client that keeps every event it is told.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) Notify(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

// take returns and forgets the events so far.
func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

func newTestPeer(t *testing.T, h *Hub, ns string) (*Peer, *recorder) {
	t.Helper()
	rec := &recorder{}
	p := NewPeer(ns, rec)
	require.NoError(t, h.Register(p))
	t.Cleanup(func() { h.Unregister(p) })
	return p, rec
}

// TestRoomFlow: members learn of each other, only members reach each
// other, and leaving tells the rest.
func TestRoomFlow(t *testing.T) {
	h := New(Limits{MaxRoomPeers: 2, MaxPeerRooms: 1}, nil)
	a, ra := newTestPeer(t, h, "native")
	b, rb := newTestPeer(t, h, "native")
	c, rc := newTestPeer(t, h, "native")
	other, _ := newTestPeer(t, h, "vdo")

	assert.Same(t, a, h.Lookup("native", a.ID()))
	assert.Nil(t, h.Lookup("vdo", a.ID()), "ids are per namespace")
	assert.Equal(t, "native", a.Namespace())
	assert.Same(t, ra, a.Client())
	assert.ErrorIs(t, h.Register(NewPeerWithID("native", a.ID(), ra)), ErrIDTaken)

	require.NoError(t, h.Join(a, "r", "1"))
	assert.Equal(t, []Event{EvJoined{Room: "r", Peers: []Member{}, Rid: "1"}}, ra.take())
	require.NoError(t, h.Join(b, "r", "2"))
	assert.Equal(t, []Event{EvJoined{Room: "r", Peers: []Member{{ID: a.ID()}}, Rid: "2"}}, rb.take())
	assert.Equal(t, []Event{EvPeerJoined{Room: "r", Peer: Member{ID: b.ID()}}}, ra.take())
	assert.ErrorIs(t, h.Join(c, "r", ""), ErrRoomFull)
	assert.ErrorIs(t, h.Join(a, "r2", ""), ErrTooManyRooms)
	assert.Equal(t, []string{"r"}, a.RoomNames())
	assert.EqualValues(t, 1, h.Rooms())

	to, err := h.Route(a, b.ID())
	require.NoError(t, err)
	assert.Same(t, b, to)
	for _, id := range []string{c.ID(), other.ID(), a.ID(), "no-such-id"} {
		_, err := h.Route(a, id)
		assert.ErrorIs(t, err, ErrUnknownPeer, "a stranger, another namespace, oneself, nobody: one answer")
	}

	require.NoError(t, h.Leave(b, "r", "3"))
	assert.Equal(t, []Event{EvLeft{Room: "r", Rid: "3"}}, rb.take())
	assert.Equal(t, []Event{EvPeerLeft{Room: "r", Peer: b.ID()}}, ra.take())
	assert.ErrorIs(t, h.Leave(b, "r", ""), ErrNotInRoom)
	_, err = h.Route(a, b.ID())
	assert.ErrorIs(t, err, ErrUnknownPeer)
	assert.Empty(t, rc.take())
}

// TestStreamFlow: a waiting play is served on publish, publisher and
// viewer reach each other, an unpublish sends the viewer back to waiting.
func TestStreamFlow(t *testing.T) {
	h := New(Limits{MaxPeerStreams: 1, MaxPeerPlays: 1}, nil)
	pub, rp := newTestPeer(t, h, "native")
	view, rv := newTestPeer(t, h, "native")

	require.NoError(t, h.Play(view, "s", "1"))
	assert.Equal(t, []Event{EvWaiting{Stream: "s", Rid: "1"}}, rv.take())
	assert.ErrorIs(t, h.Play(view, "s2", ""), ErrTooManyPlays)
	assert.ErrorIs(t, h.Publish(view, "s", ""), ErrOwnStream)

	require.NoError(t, h.Publish(pub, "s", "2"))
	assert.Equal(t, []Event{EvPublished{Stream: "s", Rid: "2"}, EvViewer{Stream: "s", Peer: view.ID()}}, rp.take())
	assert.Equal(t, []Event{EvPlaying{Stream: "s", Peer: pub.ID()}}, rv.take())
	assert.ErrorIs(t, h.Publish(view, "s", ""), ErrStreamInUse)
	assert.ErrorIs(t, h.Publish(pub, "s3", ""), ErrStreamInUse, "MaxPeerStreams")

	to, err := h.Route(view, pub.ID())
	require.NoError(t, err)
	assert.Same(t, pub, to)
	to, err = h.Route(pub, view.ID())
	require.NoError(t, err)
	assert.Same(t, view, to)

	require.NoError(t, h.Unpublish(pub, "s", "3"))
	assert.Equal(t, []Event{EvUnpublished{Stream: "s", Rid: "3"}}, rp.take())
	assert.Equal(t, []Event{EvStreamEnded{Stream: "s"}}, rv.take())
	assert.ErrorIs(t, h.Unpublish(pub, "s", ""), ErrNotPublisher)
	assert.EqualValues(t, 1, h.Streams(), "the play stays pending")

	h.StopPlay(view, "s")
	h.StopPlay(view, "never-played")
	assert.Zero(t, h.Streams())
}

// TestDirectedRoom: the first claimer directs the room, a later claimer
// learns who does, and only the director may migrate a member.
func TestDirectedRoom(t *testing.T) {
	h := New(Limits{}, nil)
	d, rd := newTestPeer(t, h, "vdo")
	m, rm := newTestPeer(t, h, "vdo")

	require.NoError(t, h.JoinClaim(d, "r", "", true))
	assert.Equal(t, []Event{EvJoined{Room: "r", Peers: []Member{}, ClaimAsked: true, Claimed: true}}, rd.take())
	require.NoError(t, h.JoinClaim(m, "r", "", true))
	assert.Equal(t, []Event{EvJoined{Room: "r", Peers: []Member{{ID: d.ID()}}, Director: d.ID(), ClaimAsked: true}}, rm.take())
	assert.Equal(t, []Event{EvPeerJoined{Room: "r", Peer: Member{ID: m.ID()}}}, rd.take())

	assert.ErrorIs(t, h.Migrate(m, d.ID(), "elsewhere"), ErrNotDirector)
	assert.ErrorIs(t, h.Migrate(d, d.ID(), "elsewhere"), ErrUnknownPeer)
	require.NoError(t, h.Migrate(d, m.ID(), "r2"))
	assert.Equal(t, []Event{EvJoined{Room: "r2", Peers: []Member{}, Transferred: true}}, rm.take())
	assert.Equal(t, []Event{EvPeerLeft{Room: "r", Peer: m.ID()}}, rd.take())
	assert.Equal(t, []string{"r2"}, m.RoomNames())
}
