package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/hub"
)

// crash stops n as a killed process would: no goodbye, NATS connection
// gone, nothing applied any more.
func (n *Node) crash() {
	n.close.Do(func() {
		close(n.stop)
		<-n.done
		n.nc.Close()
	})
}

// TestRoutingAcrossNodes: a peer reaches only peers it shares a room or
// stream with, wherever they are; for anyone else, live on another node
// or never seen, the answer is the same unknown-peer. And the node that
// holds the recipient checks again: a signal another node forwards for a
// sender the recipient is not related to is not delivered.
func TestRoutingAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b := dial(t, nodes[0]), dial(t, nodes[1])
	stranger := dial(t, nodes[2])
	const room = "routing-room-alpha"
	a.join(room)
	b.joinSeeing(room, a)
	stranger.join("routing-room-other")
	time.Sleep(5 * testHeartbeat) // every node has heard of every peer

	data := msg{"candidate": msg{"candidate": "candidate:1 1 udp 1 127.0.0.1 50000 typ host"}}
	stranger.send(msg{"type": "signal", "to": a.id, "data": data, "rid": "s1"})
	live := stranger.expect("error", nil)
	stranger.send(msg{"type": "signal", "to": "AAAAAAAAAAAAAAAAAAAAAAAA", "data": data, "rid": "s1"})
	absent := stranger.expect("error", nil)
	assert.Equal(t, "unknown-peer", live.str("code"))
	assert.Equal(t, live, absent, "a live peer on another node and no peer at all answer alike")
	a.quiet("signal", 3*testHeartbeat)

	// A node that forwards a signal its sender may not send: a second
	// Node with the cluster secret and its own hub, whose peer shares no
	// room with b, sends b a frame directly.
	rogue, err := New(Config{URLs: []string{nodes[0].node.cfg.URLs[0]}, Secret: testSecret,
		Heartbeat: testHeartbeat, DeadAfter: testDeadAfter, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	h := hub.New(hub.Limits{}, nil)
	bus, err := rogue.Attach(h)
	require.NoError(t, err)
	h.Federate(bus)
	t.Cleanup(func() { _ = rogue.Close() })
	waitNodes(t, nodes, 3)
	p := hub.NewPeer("native", nopClient{})
	require.NoError(t, h.Register(p))
	require.NoError(t, h.Join(p, "rogue-room", ""))
	time.Sleep(5 * testHeartbeat)
	rogue.sendDirect(nodes[1].node.id, &message{T: tSignal, NS: "native", Peer: p.ID(), To: b.id, Frame: []byte(`{"type":"signal","from":"x","data":{}}`)})
	// The same frame from a related sender goes through: b's node would
	// deliver it, so the refusal above is the routing rule's.
	require.NoError(t, h.Join(p, room, ""))
	b.peerJoined(room, p.ID())
	rogue.sendDirect(nodes[1].node.id, &message{T: tSignal, NS: "native", Peer: p.ID(), To: b.id, Frame: []byte(`{"type":"signal","from":"related","data":{}}`)})
	got := b.expect("signal", nil)
	assert.Equal(t, "related", got.str("from"), "only the related sender's frame arrives")
}

type nopClient struct{}

func (nopClient) Notify(hub.Event) {}

// TestDeadNodeAnnouncedAsLeft: a node that dies without a goodbye is
// taken for dead within DeadAfter plus a heartbeat, and its peers are
// announced as left on the other nodes. A node that shuts down cleanly
// says goodbye and its peers leave at once.
func TestDeadNodeAnnouncedAsLeft(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])
	const room = "dead-node-room"
	a.join(room)
	b.joinSeeing(room, a)
	c.joinSeeing(room, a, b)
	a.peerJoined(room, c.id)

	start := time.Now()
	nodes[2].node.crash()
	a.expect("peer-left", func(m msg) bool { return m.str("peer") == c.id })
	b.expect("peer-left", func(m msg) bool { return m.str("peer") == c.id })
	// The documented bound, with room for a loaded test machine.
	bound := testDeadAfter + testHeartbeat
	assert.Less(t, time.Since(start), bound+2*time.Second, "peers of a dead node leave within the bound (%v)", bound)
	waitNodes(t, nodes[:2], 1)

	// A clean shutdown: goodbye, and b leaves a's room long before a
	// dead node would be noticed.
	require.NoError(t, nodes[1].node.Close())
	a.expect("peer-left", func(m msg) bool { return m.str("peer") == b.id })
}

// TestNATSRestart: while NATS is down each node serves its own peers and
// says so (/healthz degraded, still 200; veil_cluster_connected 0); once
// NATS is back the nodes find each other again and peers on different
// nodes see and signal each other.
func TestNATSRestart(t *testing.T) {
	ns, nodes := startCluster(t, 3)
	port := ns.Addr().(interface{ String() string }).String()
	a, b := dial(t, nodes[0]), dial(t, nodes[1])
	const room = "restart-room"
	a.join(room)
	b.joinSeeing(room, a)
	a.peerJoined(room, b.id)

	ns.Shutdown()
	ns.WaitForShutdown()
	require.Eventually(t, func() bool { return nodes[0].node.Health() != "" }, recvTimeout, 10*time.Millisecond)
	resp, err := http.Get(nodes[0].ts.URL + "/healthz")
	require.NoError(t, err)
	body := make([]byte, 64)
	k, _ := resp.Body.Read(body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "degraded: cluster unreachable\n", string(body[:k]))
	// Cut off, each side sees the other's peers leave.
	a.expect("peer-left", func(m msg) bool { return m.str("peer") == b.id })
	// Local peers are still served.
	a2 := dial(t, nodes[0])
	a2.joinSeeing(room, a)

	_, p, _ := splitHostPort(port)
	startNATS(t, p)
	waitNodes(t, nodes, 2)
	assert.Empty(t, nodes[0].node.Health())
	a.peerJoined(room, b.id)
	b.peerJoined(room, a2.id)
	a2.send(msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	b.signalFrom(a2.id)
}

func splitHostPort(s string) (string, int, error) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			p, err := strconv.Atoi(s[i+1:])
			return s[:i], p, err
		}
	}
	return "", 0, fmt.Errorf("no port in %q", s)
}

// TestSignalsExactlyOnceInOrder: under a bounded load between live nodes
// (both directions at once, up to inFlight signals in flight each way:
// well within a receiver's send queue), each side's signals arrive once
// each, in the order sent.
func TestSignalsExactlyOnceInOrder(t *testing.T) {
	const (
		perSide  = 400
		inFlight = 16
	)
	_, nodes := startCluster(t, 3)
	a, b := dial(t, nodes[0]), dial(t, nodes[2])
	const room = "load-room"
	a.join(room)
	b.joinSeeing(room, a)
	a.peerJoined(room, b.id)

	type side struct {
		from, to *client
		got      []int
		n        atomic.Int64
	}
	run := func(s *side, wg *sync.WaitGroup) {
		defer wg.Done()
		for i := range perSide {
			for int64(i)-s.n.Load() >= inFlight {
				time.Sleep(time.Millisecond)
			}
			s.from.send(msg{"type": "signal", "to": s.to.id, "data": msg{"candidate": msg{
				"candidate": "candidate:1 1 udp 1 127.0.0.1 50000 typ host", "sdpMid": strconv.Itoa(i)}}})
		}
	}
	collect := func(s *side, wg *sync.WaitGroup) {
		defer wg.Done()
		deadline := time.After(30 * time.Second)
		for len(s.got) < perSide {
			select {
			case m, ok := <-s.to.in:
				if !ok {
					return
				}
				if m.str("type") != "signal" || m.str("from") != s.from.id {
					continue
				}
				i, _ := strconv.Atoi(m["data"].(map[string]any)["candidate"].(map[string]any)["sdpMid"].(string))
				s.got = append(s.got, i)
				s.n.Add(1)
			case <-deadline:
				return
			}
		}
	}
	ab, ba := &side{from: a, to: b}, &side{from: b, to: a}
	var wg sync.WaitGroup
	wg.Add(4)
	go collect(ab, &wg)
	go collect(ba, &wg)
	go run(ab, &wg)
	go run(ba, &wg)
	wg.Wait()
	b.quiet("signal", 3*testHeartbeat) // and nothing more
	a.quiet("signal", 3*testHeartbeat)
	want := make([]int, perSide)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, ab.got, "a to b")
	assert.Equal(t, want, ba.got, "b to a")
}
