package cluster

import (
	"crypto/sha256"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
)

// startResumeCluster is startCluster with resume on, grace long.
func startResumeCluster(t *testing.T, k int, grace time.Duration) (*server.Server, []*testNode) {
	t.Helper()
	ns := startNATS(t, 0)
	nodes := make([]*testNode, k)
	for i := range nodes {
		nodes[i] = startNodeWith(t, natsURL(ns), func(c *signaling.Config) { c.ResumeGrace = grace })
	}
	waitNodes(t, nodes, k-1)
	return ns, nodes
}

// metric reads one unlabelled sample (or name{labels}) from n's metrics.
func metric(t *testing.T, n *testNode, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	n.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return 0
}

// waitParked waits until n holds want parked sessions.
func waitParked(t *testing.T, n *testNode, want float64) {
	t.Helper()
	require.Eventually(t, func() bool { return metric(t, n, "veil_parked_sessions") == want },
		recvTimeout, 5*time.Millisecond, "%v parked", want)
}

// resume dials n with token and returns the client, its welcome checked
// for resumed.
func resume(t *testing.T, n *testNode, token string) *client {
	t.Helper()
	return dialQuery(t, n, "resume="+url.QueryEscape(token))
}

// quietOf asserts that no message of the types about peer id arrives at
// c within d.
func (c *client) quietOf(d time.Duration, id string, types ...string) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, open := <-c.in:
			if !open {
				return
			}
			about := m.str("peer") == id
			if p, ok := m["peer"].(map[string]any); ok {
				about = p["id"] == id
			}
			for _, typ := range types {
				require.False(c.t, about && typ == m.str("type"), "unexpected %v", m)
			}
		case <-deadline:
			return
		}
	}
}

func candidate(n int) msg {
	return msg{"candidate": msg{"candidate": "candidate:" + strconv.Itoa(n) + " 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}
}

func candidateN(t *testing.T, data map[string]any) string {
	t.Helper()
	c, _ := data["candidate"].(map[string]any)
	s, _ := c["candidate"].(string)
	f := strings.Fields(strings.TrimPrefix(s, "candidate:"))
	require.NotEmpty(t, f)
	return f[0]
}

// TestResumeOnAnotherNode: a peer parked on node A resumes on node B with
// its token: same id, rooms, streams and pending plays; the signals sent
// to it during the gap (from B and from C) arrive once, in order, after
// the welcome; the others see no peer-left or peer-joined; signals after
// the resume reach it on B from every node; its token works once, on no
// node again.
func TestResumeOnAnotherNode(t *testing.T) {
	_, nodes := startResumeCluster(t, 3, 30*time.Second)
	const (
		room    = "resume-room"
		stream  = "resume-stream"
		pending = "resume-pending"
	)
	x := dial(t, nodes[0])
	y, z := dial(t, nodes[1]), dial(t, nodes[2])
	x.join(room)
	y.joinSeeing(room, x)
	z.joinSeeing(room, x, y)
	x.send(msg{"type": "publish", "stream": stream, "rid": "p"})
	x.expect("published", nil)
	v := dial(t, nodes[2])
	v.send(msg{"type": "play", "stream": stream, "rid": "v"})
	v.expect("playing", func(m msg) bool { return m.str("peer") == x.id })
	x.expect("viewer", func(m msg) bool { return m.str("peer") == v.id })
	x.send(msg{"type": "play", "stream": pending, "rid": "w"})
	x.expect("waiting", nil)
	time.Sleep(3 * testHeartbeat) // every node has x's state

	token := x.welcome.str("resume")
	require.Len(t, token, 43)
	x.close() // a drop: no close frame
	waitParked(t, nodes[0], 1)

	// Signals during the gap, from B and from C.
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(1)})
	z.send(msg{"type": "signal", "to": x.id, "data": candidate(2)})
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(3)})
	time.Sleep(3 * testHeartbeat)

	x2 := resume(t, nodes[1], token)
	assert.Equal(t, true, x2.welcome["resumed"], "resumed on node B")
	assert.Equal(t, true, x2.welcome["moved"], "welcome says it moved")
	assert.Equal(t, x.id, x2.id, "same id")
	assert.NotEqual(t, token, x2.welcome.str("resume"), "a fresh token")
	// The held signals, each once; y's in order.
	var got []string
	for range 3 {
		m := x2.expect("signal", nil)
		got = append(got, candidateN(t, m["data"].(map[string]any)))
	}
	assert.ElementsMatch(t, []string{"1", "2", "3"}, got)
	assert.Less(t, indexOf(got, "1"), indexOf(got, "3"), "y's signals in order")
	waitParked(t, nodes[0], 0)

	// Signals after the resume, from every node: B (local), C (remote),
	// and a peer on A, the node it left.
	u := dial(t, nodes[0])
	u.joinSeeing(room, x, y, z)
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(4)})
	assert.Equal(t, "4", candidateN(t, x2.signalFrom(y.id)))
	z.send(msg{"type": "signal", "to": x.id, "data": candidate(5)})
	assert.Equal(t, "5", candidateN(t, x2.signalFrom(z.id)))
	u.send(msg{"type": "signal", "to": x.id, "data": candidate(6)})
	assert.Equal(t, "6", candidateN(t, x2.signalFrom(u.id)))
	// And from it, to every node.
	x2.send(msg{"type": "signal", "to": z.id, "data": candidate(7)})
	assert.Equal(t, "7", candidateN(t, z.signalFrom(x.id)))
	x2.send(msg{"type": "signal", "to": v.id, "data": candidate(8)})
	assert.Equal(t, "8", candidateN(t, v.signalFrom(x.id)), "its viewer still reaches it")

	// Its stream and its pending play came along.
	w := dial(t, nodes[0])
	w.send(msg{"type": "play", "stream": stream, "rid": "w2"})
	w.expect("playing", func(m msg) bool { return m.str("peer") == x.id })
	x2.expect("viewer", func(m msg) bool { return m.str("peer") == w.id })
	p := dial(t, nodes[2])
	p.send(msg{"type": "publish", "stream": pending, "rid": "p2"})
	p.expect("published", nil)
	x2.expect("playing", func(m msg) bool { return m.str("peer") == p.id && m.str("stream") == pending })

	// Nobody saw it leave or join.
	for _, o := range []*client{y, z, v} {
		o.quietOf(2*testHeartbeat, x.id, "peer-left", "peer-joined", "stream-ended")
	}

	// The token is spent on every node: a fresh session, resume-failed.
	for _, n := range nodes {
		c := resume(t, n, token)
		assert.NotEqual(t, x.id, c.id)
		assert.Nil(t, c.welcome["resumed"])
		assert.Equal(t, "resume-failed", c.expect("error", nil).str("code"))
	}

	// It leaves for good: everyone sees it go, once.
	require.NoError(t, x2.ws.WriteMessage(1, []byte(`{"type":"leave","room":"`+room+`"}`)))
	y.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	z.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	u.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestResumeMovesTwice: a session moves A -> B -> C -> A; every node
// follows it (the move generations order the news), and its peers on all
// nodes keep reaching it.
func TestResumeMovesTwice(t *testing.T) {
	_, nodes := startResumeCluster(t, 3, 30*time.Second)
	const room = "resume-twice"
	x := dial(t, nodes[0])
	peers := []*client{dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])}
	x.join(room)
	for _, p := range peers {
		p.joinSeeing(room, x)
	}
	time.Sleep(3 * testHeartbeat)
	cur := x
	for i, to := range []int{1, 2, 0} {
		tok := cur.welcome.str("resume")
		cur.close()
		waitParked(t, nodes[(to+2)%3], 1)
		next := resume(t, nodes[to], tok)
		require.Equal(t, true, next.welcome["resumed"], "move %d", i)
		require.Equal(t, x.id, next.id)
		for j, p := range peers {
			p.send(msg{"type": "signal", "to": x.id, "data": candidate(10*i + j)})
			assert.Equal(t, strconv.Itoa(10*i+j), candidateN(t, next.signalFrom(p.id)), "move %d, peer on node %d", i, j)
		}
		cur = next
	}
	for _, p := range peers {
		p.quietOf(2*testHeartbeat, x.id, "peer-left", "peer-joined")
	}
}

// TestResumeWindowEndsAcrossNodes: a session parked on A and not resumed
// in time leaves everywhere at the window's end; its token then fails on
// every node with the same answer as a token never issued.
func TestResumeWindowEndsAcrossNodes(t *testing.T) {
	_, nodes := startResumeCluster(t, 3, 400*time.Millisecond)
	const room = "resume-expire"
	x := dial(t, nodes[0])
	y, z := dial(t, nodes[1]), dial(t, nodes[2])
	x.join(room)
	y.joinSeeing(room, x)
	z.joinSeeing(room, x, y)
	tok := x.welcome.str("resume")
	x.close()
	y.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	z.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	never := strings.Repeat("A", 43)
	for _, n := range nodes {
		for _, k := range []string{tok, never} {
			c := resume(t, n, k)
			assert.Nil(t, c.welcome["resumed"])
			e := c.expect("error", nil)
			assert.Equal(t, "resume-failed", e.str("code"))
			assert.Equal(t, "session cannot be resumed; this is a new session", e.str("message"))
		}
	}
}

// TestResumeNodeDiesWhileParked: the node holding a parked session dies;
// the peer is announced as left within the dead-node bound, and its token
// fails elsewhere.
func TestResumeNodeDiesWhileParked(t *testing.T) {
	_, nodes := startResumeCluster(t, 2, 30*time.Second)
	const room = "resume-dies"
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join(room)
	y.joinSeeing(room, x)
	tok := x.welcome.str("resume")
	x.close()
	waitParked(t, nodes[0], 1)
	nodes[0].ts.CloseClientConnections()
	nodes[0].node.nc.Close() // dies: no bye
	y.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	c := resume(t, nodes[1], tok)
	assert.Nil(t, c.welcome["resumed"])
	assert.Equal(t, "resume-failed", c.expect("error", nil).str("code"))
}

// TestResumeRaceHalfOpen: the client resumes on B while A still takes its
// old socket for open: the newer connection wins, the old one is closed
// (4001) and the session moves.
func TestResumeRaceHalfOpen(t *testing.T) {
	_, nodes := startResumeCluster(t, 2, 30*time.Second)
	const room = "resume-race"
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join(room)
	y.joinSeeing(room, x)
	time.Sleep(3 * testHeartbeat)
	x2 := resume(t, nodes[1], x.welcome.str("resume")) // x's socket still open
	assert.Equal(t, true, x2.welcome["resumed"])
	assert.Equal(t, x.id, x2.id)
	<-x.done
	assert.Contains(t, x.err.Error(), "4001", "the old connection was replaced")
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(1)})
	assert.Equal(t, "1", candidateN(t, x2.signalFrom(y.id)))
	y.quietOf(2*testHeartbeat, x.id, "peer-left", "peer-joined")
}

// TestPeerAwayAcrossNodes: signals from another node for a parked peer
// that holds all it may are refused to their sender with peer-away, as on
// one node; what was held arrives after the resume; nothing is lost
// silently.
func TestPeerAwayAcrossNodes(t *testing.T) {
	ns := startNATS(t, 0)
	var nodes []*testNode
	for range 2 {
		nodes = append(nodes, startNodeWith(t, natsURL(ns), func(c *signaling.Config) {
			c.ResumeGrace = 30 * time.Second
			c.SendQueue = 4 // holds 3 frames while parked
		}))
	}
	waitNodes(t, nodes, 1)
	const room = "resume-away"
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join(room)
	y.joinSeeing(room, x)
	time.Sleep(3 * testHeartbeat)
	tok := x.welcome.str("resume")
	x.close()
	waitParked(t, nodes[0], 1)
	for i := range 5 {
		y.send(msg{"type": "signal", "to": x.id, "data": candidate(i)})
	}
	for range 2 {
		e := y.expect("error", nil)
		assert.Equal(t, "peer-away", e.str("code"))
		assert.Equal(t, "signal", e.str("ref"))
	}
	x2 := resume(t, nodes[1], tok)
	require.Equal(t, true, x2.welcome["resumed"])
	for i := range 3 {
		assert.Equal(t, strconv.Itoa(i), candidateN(t, x2.signalFrom(y.id)))
	}
	y.quietOf(2*testHeartbeat, x.id, "peer-left", "peer-joined")
}

// TestNATSSeesNoResume: a NATS operator watching a session move between
// nodes reads neither the token, nor its hash (what the nodes look it up
// by), nor the new token, nor the peer's id, room or held signals.
func TestNATSSeesNoResume(t *testing.T) {
	ns, nodes := startResumeCluster(t, 3, 30*time.Second)
	spy := spyOn(t, ns)
	const room = "secret-resume-room-5521"
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join(room)
	y.joinSeeing(room, x)
	time.Sleep(3 * testHeartbeat)
	tok := x.welcome.str("resume")
	x.close()
	waitParked(t, nodes[0], 1)
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(424242)})
	time.Sleep(2 * testHeartbeat)
	x2 := resume(t, nodes[2], tok)
	require.Equal(t, true, x2.welcome["resumed"])
	assert.Equal(t, "424242", candidateN(t, x2.signalFrom(y.id)))
	time.Sleep(2 * testHeartbeat)
	h := sha256.Sum256([]byte(tok))
	spy.check(t, map[string]string{
		"token": tok, "token hash": string(h[:]), "new token": x2.welcome.str("resume"),
		"peer x": x.id, "peer y": y.id, "room": room, "candidate": "typ host", "client address": "127.0.0.1",
	})
}

// TestResumeMovedTURNEnds: the node a session moved away from ends its
// TURN allocations (OnPeerGone) one grace window after the move, not at
// the move (the call's media still flows through them until the client's
// ICE restart), and the node it moved to does not end them while it
// lives there.
func TestResumeMovedTURNEnds(t *testing.T) {
	const grace = 1500 * time.Millisecond
	ns := startNATS(t, 0)
	gone := []chan string{make(chan string, 8), make(chan string, 8)}
	var nodes []*testNode
	for i := range 2 {
		nodes = append(nodes, startNodeWith(t, natsURL(ns), func(c *signaling.Config) {
			c.ResumeGrace = grace
			c.OnPeerGone = func(id string) { gone[i] <- id }
		}))
	}
	waitNodes(t, nodes, 1)
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join("turn-room")
	y.joinSeeing("turn-room", x)
	time.Sleep(3 * testHeartbeat)
	tok := x.welcome.str("resume")
	x.close()
	waitParked(t, nodes[0], 1)
	x2 := resume(t, nodes[1], tok)
	require.Equal(t, true, x2.welcome["resumed"])
	select {
	case id := <-gone[0]:
		t.Fatalf("node A ended %s's allocations at the move", id)
	default:
	}
	select {
	case id := <-gone[0]:
		assert.Equal(t, x.id, id, "node A ends the moved peer's allocations after the window")
	case <-time.After(grace + recvTimeout):
		t.Fatal("node A never ended the moved peer's allocations")
	}
	assert.Empty(t, gone[1], "node B keeps them while the session lives there")
	// It leaves on B: B ends its own.
	require.NoError(t, x2.ws.WriteMessage(1, []byte(`{"type":"leave","room":"turn-room"}`)))
	y.expect("peer-left", func(m msg) bool { return m.str("peer") == x.id })
	require.NoError(t, x2.ws.WriteControl(8, []byte{0x03, 0xe8}, time.Now().Add(time.Second)))
	select {
	case id := <-gone[1]:
		assert.Equal(t, x.id, id)
	case <-time.After(recvTimeout):
		t.Fatal("node B never ended its allocations")
	}
}

// TestResumeConcurrentOnTwoNodes: one token presented on two nodes at
// once: exactly one connection gets the session, the other a fresh one
// with resume-failed.
func TestResumeConcurrentOnTwoNodes(t *testing.T) {
	_, nodes := startResumeCluster(t, 3, 30*time.Second)
	x := dial(t, nodes[0])
	y := dial(t, nodes[1])
	x.join("resume-twice-at-once")
	y.joinSeeing("resume-twice-at-once", x)
	time.Sleep(3 * testHeartbeat)
	tok := x.welcome.str("resume")
	x.close()
	waitParked(t, nodes[0], 1)
	// Both dial at once; the welcomes are read here (require only on the
	// test's goroutine).
	type dialed struct {
		ws  *websocket.Conn
		err error
	}
	got := make(chan dialed, 2)
	for _, n := range nodes[1:] {
		go func() {
			ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.ts.URL, "http")+"/ws?resume="+tok, nil)
			if err == nil {
				_ = resp.Body.Close()
			}
			got <- dialed{ws, err}
		}()
	}
	var cs []*client
	for range 2 {
		d := <-got
		require.NoError(t, d.err)
		cs = append(cs, adoptConn(t, d.ws))
	}
	a, b := cs[0], cs[1]
	if a.welcome["resumed"] != true {
		a, b = b, a
	}
	assert.Equal(t, true, a.welcome["resumed"], "one resumed")
	assert.Equal(t, x.id, a.id)
	assert.Nil(t, b.welcome["resumed"], "the other did not")
	assert.NotEqual(t, x.id, b.id)
	assert.Equal(t, "resume-failed", b.expect("error", nil).str("code"))
	y.send(msg{"type": "signal", "to": x.id, "data": candidate(9)})
	assert.Equal(t, "9", candidateN(t, a.signalFrom(y.id)))
}
