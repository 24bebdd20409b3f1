package hub

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplace: a peer's object swapped for another of the same id (a
// session moving between nodes) keeps its rooms, streams, plays and
// directorship; nobody is told anything, the Bus neither; the old object
// is gone (changes to it fail); the new one routes, is routed to, and
// leaves as usual.
func TestReplace(t *testing.T) {
	h := New(Limits{}, nil)
	bus := &busRecorder{}
	h.Federate(bus)
	other, orec := newTestPeer(t, h, "native")
	viewer, vrec := newTestPeer(t, h, "native")

	oldRec := &recorder{}
	old := NewRemotePeer("native", "moving-id", oldRec)
	require.NoError(t, h.Register(old))
	require.NoError(t, h.JoinClaim(old, "r", "", true))
	require.NoError(t, h.Join(other, "r", ""))
	require.NoError(t, h.Publish(old, "s", ""))
	require.NoError(t, h.Play(viewer, "s", ""))
	require.NoError(t, h.Play(old, "later", ""))
	orec.take()
	vrec.take()
	bus.got = nil

	nwRec := &recorder{}
	nw := NewPeerWithID("native", "moving-id", nwRec)
	require.NoError(t, h.Replace(old, nw))
	assert.Empty(t, orec.take(), "no event for the room's members")
	assert.Empty(t, vrec.take(), "no event for the viewer")
	assert.Empty(t, bus.got, "the Bus is not told")
	assert.Same(t, nw, h.Lookup("native", "moving-id"))

	rooms, pubs, plays := nw.State()
	assert.Equal(t, []string{"r"}, rooms)
	assert.Equal(t, []string{"s"}, pubs)
	assert.Equal(t, []string{"later"}, plays)
	assert.True(t, h.Directs(nw, "r"), "the directorship came along")
	assert.Same(t, nw, h.Publisher("native", "s"))

	to, err := h.Route(other, "moving-id")
	require.NoError(t, err)
	assert.Same(t, nw, to, "routed to the new object")
	_, err = h.Route(nw, viewer.ID())
	require.NoError(t, err, "it reaches its viewer")

	assert.ErrorIs(t, h.Leave(old, "r", ""), ErrClosed, "the old object is gone")
	assert.ErrorIs(t, h.Unpublish(old, "s", ""), ErrClosed)
	assert.ErrorIs(t, h.Replace(old, NewPeerWithID("native", "moving-id", &recorder{})), ErrClosed)
	h.Unregister(old) // nothing: it is gone
	assert.Empty(t, orec.take())

	// The pending play resolves to the new object.
	p, prec := newTestPeer(t, h, "native")
	require.NoError(t, h.Publish(p, "later", ""))
	assert.Contains(t, nwRec.take(), Event(EvPlaying{Stream: "later", Peer: p.ID()}))
	assert.Contains(t, prec.take(), Event(EvViewer{Stream: "later", Peer: "moving-id"}))

	h.Unregister(nw)
	assert.Contains(t, orec.take(), Event(EvPeerLeft{Room: "r", Peer: "moving-id"}))
	assert.Contains(t, vrec.take(), Event(EvStreamEnded{Stream: "s"}))
	assert.Nil(t, h.Lookup("native", "moving-id"))

	// A nil old registers the new peer alone; its id must be free.
	a := NewPeerWithID("native", "fresh", &recorder{})
	require.NoError(t, h.Replace(nil, a))
	assert.ErrorIs(t, h.Replace(nil, NewPeerWithID("native", "fresh", &recorder{})), ErrIDTaken)
	h.Unregister(a)
}
