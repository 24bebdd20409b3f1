package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test timing: heartbeats every 100 ms and a node dead after 500 ms, so a
// dead node's peers are gone within 600 ms (plus scheduling).
const (
	testHeartbeat = 100 * time.Millisecond
	testDeadAfter = 500 * time.Millisecond
	// recvTimeout bounds a wait for one message: a guard against hangs,
	// not a performance assertion.
	recvTimeout = 5 * time.Second
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-cluster-secret")

// startNATS runs a NATS server in this process on loopback, on port (0:
// a free one), until the test ends or it is shut down.
func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, MaxControlLine: 4096})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "NATS server starts")
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func natsURL(s *server.Server) string {
	return fmt.Sprintf("nats://%s", s.Addr().(*net.TCPAddr).String())
}

// testNode is one veil node: a cluster Node attached to a signaling
// Server behind httptest.
type testNode struct {
	node *Node
	srv  *signaling.Server
	ts   *httptest.Server
}

// nodeConfig is the signaling configuration of the test nodes: relay
// off, so signals keep their addresses (what the privacy test looks for
// on NATS), and no message rate limit for the load test.
func nodeConfig() signaling.Config {
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOff
	return signaling.Config{
		Policy:      p,
		MessageRate: -1, ByteRate: -1, ActionRate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// A dropped test client leaves at once; resume_test.go turns
		// resume on.
		ResumeGrace: -1,
	}
}

func startNode(t *testing.T, url string) *testNode {
	t.Helper()
	return startNodeWith(t, url, nil)
}

// startNodeWith is startNode with the signaling configuration changed by
// edit (nil: as nodeConfig gives it).
func startNodeWith(t *testing.T, url string, edit func(*signaling.Config)) *testNode {
	t.Helper()
	n, err := New(Config{
		URLs: []string{url}, Secret: testSecret,
		Heartbeat: testHeartbeat, DeadAfter: testDeadAfter,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	cfg := nodeConfig()
	cfg.Cluster = n
	if edit != nil {
		edit(&cfg)
	}
	srv, err := signaling.New(cfg)
	require.NoError(t, err)
	tn := &testNode{node: n, srv: srv, ts: httptest.NewServer(srv.Handler())}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		tn.ts.Close()
		_ = n.Close()
	})
	return tn
}

// startCluster starts NATS and k nodes, and waits until each sees the
// others.
func startCluster(t *testing.T, k int) (*server.Server, []*testNode) {
	t.Helper()
	ns := startNATS(t, 0)
	nodes := make([]*testNode, k)
	for i := range nodes {
		nodes[i] = startNode(t, natsURL(ns))
	}
	waitNodes(t, nodes, k-1)
	return ns, nodes
}

// waitNodes waits until every node sees want others alive and in sync.
func waitNodes(t *testing.T, nodes []*testNode, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.node.Nodes() != want {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every node sees %d others", want)
}

type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }

// client is a native protocol client over a real WebSocket; a reader
// goroutine queues what arrives.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	welcome msg // the welcome the connection got
	in      chan msg
	wmu     sync.Mutex
	done    chan struct{}
	err     error // why the reader stopped; read after done
}

func dial(t *testing.T, n *testNode) *client {
	t.Helper()
	return dialQuery(t, n, "")
}

// dialQuery is dial with a query string for /ws (without "?").
func dialQuery(t *testing.T, n *testNode, query string) *client {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.ts.URL, "http") + "/ws"
	if query != "" {
		u += "?" + query
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return adoptConn(t, ws)
}

// adoptConn is dial for a connection already open: it reads the welcome.
func adoptConn(t *testing.T, ws *websocket.Conn) *client {
	t.Helper()
	c := &client{t: t, ws: ws, in: make(chan msg, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				c.err = err
				close(c.in)
				return
			}
			var m msg
			if json.Unmarshal(b, &m) == nil {
				c.in <- m
			}
		}
	}()
	t.Cleanup(c.close)
	w := c.recv()
	require.Equal(t, "welcome", w.str("type"))
	c.id, c.welcome = w.str("id"), w
	return c
}

// close drops the connection and waits for the reader.
func (c *client) close() {
	_ = c.ws.Close()
	<-c.done
}

func (c *client) send(v msg) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, b))
}

func (c *client) recv() msg {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		require.True(c.t, ok, "connection closed")
		return m
	case <-time.After(recvTimeout):
		c.t.Fatalf("no message within %v", recvTimeout)
		return nil
	}
}

// expect returns the next message of type typ that satisfies ok (nil:
// any), skipping others.
func (c *client) expect(typ string, ok func(msg) bool) msg {
	c.t.Helper()
	deadline := time.After(recvTimeout)
	for {
		select {
		case m, open := <-c.in:
			require.True(c.t, open, "connection closed waiting for %s", typ)
			if m.str("type") == typ && (ok == nil || ok(m)) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %s within %v", typ, recvTimeout)
			return nil
		}
	}
}

// quiet asserts that no message of type typ arrives within d.
func (c *client) quiet(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, open := <-c.in:
			if !open {
				return
			}
			require.NotEqual(c.t, typ, m.str("type"), "unexpected %v", m)
		case <-deadline:
			return
		}
	}
}

// join joins room and returns the ids listed in joined.
func (c *client) join(room string) []string {
	c.t.Helper()
	c.send(msg{"type": "join", "room": room, "rid": "j-" + room})
	j := c.expect("joined", func(m msg) bool { return m.str("room") == room })
	var ids []string
	for _, p := range j["peers"].([]any) {
		ids = append(ids, p.(map[string]any)["id"].(string))
	}
	return ids
}

// peerJoined waits for peer-joined of id in room.
func (c *client) peerJoined(room, id string) msg {
	c.t.Helper()
	return c.expect("peer-joined", func(m msg) bool {
		p, _ := m["peer"].(map[string]any)
		return m.str("room") == room && p["id"] == id
	})
}
