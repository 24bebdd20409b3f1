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

// clusterBus is a busRecorder that is also a DirectorBus and a Claimer
// refusing the ids in refuse.
type clusterBus struct {
	busRecorder
	h      *Hub
	refuse map[string]bool
	claims []string
}

func (b *clusterBus) Directs(p *Peer, room string, joined bool) {
	b.add(fmt.Sprintf("directs(joined=%v)", joined), p, room)
}

func (b *clusterBus) Claim(p *Peer, reserve func() error) error {
	b.mu.Lock()
	b.claims = append(b.claims, p.ID())
	refuse := b.refuse[p.ID()]
	b.mu.Unlock()
	if err := reserve(); err != nil {
		return err
	}
	if refuse {
		b.h.Withdraw(p)
		return ErrIDTaken
	}
	return nil
}

// byIDRecorder is a remote peer's Client that keeps sends by id and
// migrations asked of it.
type byIDRecorder struct {
	forwardRecorder
	byID     []string
	migrated []string
}

func (f *byIDRecorder) ForwardByID(from, _ *Peer, ev Event) {
	f.mu.Lock()
	f.byID = append(f.byID, from.ID())
	f.mu.Unlock()
	f.Notify(ev)
}

func (f *byIDRecorder) ForwardMigrate(d, target *Peer, dest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.migrated = append(f.migrated, d.ID()+" "+target.ID()+" "+dest)
}

// TestBusDialectExtensions: what PeerJS and VDO.Ninja need of a federated
// hub: LookupFrom hands out a remote peer as a handle that carries the
// sender; chosen ids are claimed (a refused claim frees the id and tells
// the Bus nothing); a director's claim is told once, with or without the
// join; a migrate of a remote member is asked of its node; remote
// registrations reach the namespace's watcher.
func TestBusDialectExtensions(t *testing.T) {
	h := New(Limits{}, nil)
	bus := &clusterBus{h: h, refuse: map[string]bool{"taken-elsewhere": true}}
	h.Federate(bus)
	h.AllowByID("pj")
	h.ChosenIDs("pj")
	assert.True(t, h.ByID("pj"))
	assert.False(t, h.ByID("native"))
	var watched []string
	h.OnRemoteRegister("pj", func(p *Peer) { watched = append(watched, p.ID()) })

	// Chosen ids are claimed; server-drawn ones are not.
	sender := NewPeerWithID("pj", "alice", &recorder{})
	require.NoError(t, h.Register(sender))
	refused := NewPeerWithID("pj", "taken-elsewhere", &recorder{})
	require.ErrorIs(t, h.Register(refused), ErrIDTaken)
	assert.Nil(t, h.Lookup("pj", "taken-elsewhere"), "a refused claim frees the id")
	native, _ := newTestPeer(t, h, "native")
	assert.Equal(t, []string{"alice", "taken-elsewhere"}, bus.claims)

	// Sends by id to a remote peer carry the sender.
	fw := &byIDRecorder{}
	remote := NewRemotePeer("pj", "bob", fw)
	require.NoError(t, h.Register(remote))
	assert.Equal(t, []string{"bob"}, watched, "the watcher hears of remote registrations only")
	to := h.LookupFrom(sender, "bob")
	require.NotNil(t, to)
	to.Notify(Frame("offer"))
	assert.Equal(t, []string{"alice"}, fw.byID)
	assert.Empty(t, fw.from, "by id, not routed")
	assert.Same(t, sender, h.LookupFrom(NewPeerWithID("pj", "x", &recorder{}), "alice"), "a local peer comes back as itself")
	assert.Nil(t, h.LookupFrom(sender, "nobody"))

	// Directors: told once, with the join or after it.
	dRec := &recorder{}
	d := NewPeerWithID("vdo", "dir", dRec)
	require.NoError(t, h.Register(d))
	require.NoError(t, h.JoinClaim(d, "stage", "", true))
	m := NewPeerWithID("vdo", "member", &recorder{})
	require.NoError(t, h.Register(m))
	require.NoError(t, h.JoinClaim(m, "solo", "", false))
	require.NoError(t, h.JoinClaim(m, "solo", "", true))
	assert.True(t, h.Directs(d, "stage"))
	assert.True(t, h.Directs(m, "solo"))
	assert.False(t, h.Directs(m, "stage"))

	// Concurrent claims on two nodes settle for the smaller id.
	early := NewRemotePeer("vdo", "aaa-first", fw)
	late := NewRemotePeer("vdo", "zzz-last", fw)
	require.NoError(t, h.Register(early))
	require.NoError(t, h.Register(late))
	require.NoError(t, h.Join(early, "stage", ""))
	require.NoError(t, h.Join(late, "stage", ""))
	dRec.take()
	assert.False(t, h.SettleDirector(late, "stage"), "a greater id does not take the role")
	assert.Empty(t, dRec.take(), "the director keeps its role: nothing to tell")
	assert.True(t, h.Directs(d, "stage"))
	assert.True(t, h.SettleDirector(early, "stage"), "a smaller id does")
	assert.False(t, h.Directs(d, "stage"))
	assert.Equal(t, []Event{EvDirectorLost{Room: "stage", Director: "aaa-first"}}, dRec.take(), "the local director that lost is told")
	assert.False(t, h.SettleDirector(late, "nowhere"))
	h.Unregister(early)
	h.Unregister(late)
	assert.False(t, h.Directs(d, "stage"), "the role left with the winner")
	require.NoError(t, h.JoinClaim(d, "stage", "", true))
	require.True(t, h.Directs(d, "stage"))

	// A migrate of a remote member is asked of its node.
	rm := NewRemotePeer("vdo", "far", fw)
	require.NoError(t, h.Register(rm))
	require.NoError(t, h.Join(rm, "stage", ""))
	require.NoError(t, h.Migrate(d, "far", "breakout"))
	assert.Equal(t, []string{"dir far breakout"}, fw.migrated)
	assert.Equal(t, []string{"stage"}, rm.RoomNames(), "moved by its own node, not here")

	// Takeovers: the namespace's hook closes a local peer; none for remote
	// peers or namespaces without a hook.
	sender.SetProof([]byte("proof"))
	assert.Equal(t, []byte("proof"), sender.Proof())
	var closed []string
	h.OnTakeover("pj", func(p *Peer) { closed = append(closed, p.ID()) })
	assert.True(t, h.TakeOver(sender))
	assert.False(t, h.TakeOver(remote))
	assert.False(t, h.TakeOver(native))
	assert.Equal(t, []string{"alice"}, closed)

	bus.mu.Lock()
	defer bus.mu.Unlock()
	assert.Contains(t, bus.got, "directs(joined=true) dir stage")
	assert.Contains(t, bus.got, "joined member solo")
	assert.Contains(t, bus.got, "directs(joined=false) member solo")
	assert.NotContains(t, bus.got, "joined dir stage", "a join with a claim is told once, as Directs")
	assert.NotContains(t, bus.got, "registered taken-elsewhere ")
	assert.Contains(t, bus.got, "registered "+native.ID()+" ")
}
