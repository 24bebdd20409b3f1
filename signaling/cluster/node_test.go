package cluster

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/vdo"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{URLs: []string{"nats://127.0.0.1:4222"}, Secret: testSecret}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"no URL", func(c *Config) { c.URLs = nil }, "URLs"},
		{"no secret", func(c *Config) { c.Secret = nil }, "Secret"},
		{"short secret", func(c *Config) { c.Secret = []byte(strings.Repeat("x", MinSecretBytes-1)) }, "Secret"},
		{"dead before two heartbeats", func(c *Config) { c.Heartbeat, c.DeadAfter = 1e9, 1e9 }, "DeadAfter"},
		{"negative queue", func(c *Config) { c.QueueLen = -1 }, "QueueLen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			_, err := New(c)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSeal: a payload opens only under the same secret and subject; the
// same plaintext never seals the same way twice.
func TestSeal(t *testing.T) {
	k, err := deriveKeys(testSecret)
	require.NoError(t, err)
	other, err := deriveKeys([]byte(strings.Repeat("y", MinSecretBytes)))
	require.NoError(t, err)
	assert.NotEqual(t, k.tag, other.tag, "clusters with other secrets use other subjects")

	plain := []byte(`{"t":"join","k":"room"}`)
	s1, s2 := k.seal("a", plain), k.seal("a", plain)
	assert.NotEqual(t, s1, s2, "a fresh nonce each time")
	got, err := k.open("a", s1)
	require.NoError(t, err)
	assert.Equal(t, plain, got)
	for name, f := range map[string]func() ([]byte, error){
		"other subject": func() ([]byte, error) { return k.open("b", s1) },
		"other secret":  func() ([]byte, error) { return other.open("a", s1) },
		"flipped bit":   func() ([]byte, error) { b := append([]byte(nil), s1...); b[len(b)-1] ^= 1; return k.open("a", b) },
		"truncated":     func() ([]byte, error) { return k.open("a", s1[:10]) },
	} {
		_, err := f()
		assert.True(t, errors.Is(err, errUnsealed), name)
	}
}

// TestWindow: each direct counter is accepted once, late ones within the
// window too, older ones never.
func TestWindow(t *testing.T) {
	var w window
	assert.False(t, w.accept(0))
	assert.True(t, w.accept(1))
	assert.False(t, w.accept(1), "replay")
	assert.True(t, w.accept(5))
	assert.True(t, w.accept(3), "late, within the window")
	assert.False(t, w.accept(3), "replayed late one")
	assert.True(t, w.accept(5+windowBits))
	assert.False(t, w.accept(5), "older than the window")
	assert.True(t, w.accept(6), "just inside")
	assert.True(t, w.accept(10*windowBits))
	assert.False(t, w.accept(10*windowBits), "replay after a jump")
}

// TestPublishConflictSettled: when two nodes accept a publish of one
// stream at once, every node settles on the publisher with the smaller
// id; a local loser is told unpublished.
func TestPublishConflictSettled(t *testing.T) {
	ns, nodes := startCluster(t, 2)
	b := dial(t, nodes[1])
	const stream = "conflict-stream"
	b.send(msg{"type": "publish", "stream": stream})
	b.expect("published", nil)
	v := dial(t, nodes[0])
	v.send(msg{"type": "play", "stream": stream})
	v.expect("playing", func(m msg) bool { return m.str("peer") == b.id })

	// Another node whose peer published the same stream before it heard
	// of b's: its peer's id sorts first ('-' precedes every other
	// character of an id).
	other, err := New(Config{URLs: []string{natsURL(ns)}, Secret: testSecret,
		Heartbeat: testHeartbeat, DeadAfter: testDeadAfter, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	h := hub.New(hub.Limits{}, nil)
	bus, err := other.Attach(h)
	require.NoError(t, err)
	h.Federate(bus)
	t.Cleanup(func() { _ = other.Close() })
	// At once: it has not heard of the others yet (that takes a
	// heartbeat and a snapshot).
	p := hub.NewPeerWithID("native", strings.Repeat("-", 24), nopClient{})
	require.NoError(t, h.Register(p))
	require.NoError(t, h.Publish(p, stream, ""))

	b.expect("unpublished", func(m msg) bool { return m.str("stream") == stream })
	v.expect("stream-ended", nil)
	v.expect("playing", func(m msg) bool { return m.str("peer") == p.ID() })
}

// TestDirectorConflictSettled: when two nodes let a peer claim one room
// at once, every node settles on the director with the smaller id, and a
// local director that lost the role gets the alert the VDO.Ninja app
// shows (the dialect has no message that takes the role back).
func TestDirectorConflictSettled(t *testing.T) {
	ns, nodes := startCluster(t, 2)
	d := testutil.DialVDO(t, nodes[1].ts, "")
	dID := localID(t, nodes[1], vdo.Namespace)
	l := d.JoinRoom("stage", true)
	require.Equal(t, true, l["claim"])
	x := testutil.DialVDO(t, nodes[0].ts, "")
	xID := localID(t, nodes[0], vdo.Namespace)
	x.JoinRoom("stage", false)
	settled(t, nodes, vdo.Namespace, "stage", dID, xID)
	assert.Equal(t, xID, d.ExpectReq("someonejoined").Str("UUID"))

	// Another node whose peer claimed the room before it heard of d's
	// claim: its peer's id sorts first.
	other, err := New(Config{URLs: []string{natsURL(ns)}, Secret: testSecret,
		Heartbeat: testHeartbeat, DeadAfter: testDeadAfter, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	h := hub.New(hub.Limits{}, nil)
	bus, err := other.Attach(h)
	require.NoError(t, err)
	h.Federate(bus)
	t.Cleanup(func() { _ = other.Close() })
	p := hub.NewPeerWithID(vdo.Namespace, strings.Repeat("-", 24), nopClient{})
	require.NoError(t, h.Register(p))
	require.NoError(t, h.JoinClaim(p, "stage", "", true))
	require.True(t, h.Directs(p, "stage"), "its own node let it claim")

	settled(t, nodes, vdo.Namespace, "stage", p.ID(), dID, xID)
	// d hears of the newcomer, then is told it lost the role.
	var joined []string
	for {
		m := d.Recv()
		if m.Str("request") == "alert" {
			assert.Contains(t, m.Str("message"), "their claim won", "the director that lost is told")
			break
		}
		require.Equal(t, "someonejoined", m.Str("request"), "got %v", m)
		require.Equal(t, p.ID(), m.Str("UUID"), "only the newcomer joins (TestStaleSnapshotIgnored)")
		joined = append(joined, m.Str("UUID"))
	}
	assert.Contains(t, joined, p.ID())
	// x, a guest, learns of the newcomer.
	for i := 0; ; i++ {
		m := x.ExpectReq("someonejoined")
		if m.Str("UUID") == p.ID() {
			break
		}
		require.Less(t, i, 2, "x never heard of the newcomer")
	}
	// d's director actions are refused from now on.
	d.Send(tmsg{"request": "migrate", "roomid": "elsewhere", "target": xID})
	d.ExpectErr(signaling.CodeUnauthorized)
}

// TestStaleSnapshotIgnored: a snapshot older than changes already applied
// (the answer to an earlier request, arriving late: snapshots travel on
// the inbox, changes on the broadcast subject, and NATS orders neither
// against the other) is ignored; applying it made a guest leave and join
// again (a second someonejoined, and for a moment unknown-peer).
func TestStaleSnapshotIgnored(t *testing.T) {
	_, nodes := startCluster(t, 2)
	d := testutil.DialVDO(t, nodes[1].ts, "")
	dID := localID(t, nodes[1], vdo.Namespace)
	d.JoinRoom("stage", false)
	x := testutil.DialVDO(t, nodes[0].ts, "")
	xID := localID(t, nodes[0], vdo.Namespace)
	x.JoinRoom("stage", false)
	settled(t, nodes, vdo.Namespace, "stage", "", dID, xID)
	assert.Equal(t, xID, d.ExpectReq("someonejoined").Str("UUID"))

	// Node 0's peers as of its first change: before x existed.
	nodes[0].node.sendDirect(nodes[1].node.id, &message{T: tSnapshot, Seq: 1, Part: 1, Parts: 1})
	require.Eventually(t, func() bool { return nodes[1].dropped("stale-snapshot") == 1 }, recvTimeout, 5*time.Millisecond)
	settled(t, nodes, vdo.Namespace, "stage", "", dID, xID)
	time.Sleep(3 * testHeartbeat) // a resync, had one been needed
	d.Sync()                      // and nothing arrived meanwhile
	x.Send(tmsg{"UUID": dID, "bye": true})
	assert.Equal(t, tmsg{"UUID": xID, "bye": true}, d.Recv())
}
