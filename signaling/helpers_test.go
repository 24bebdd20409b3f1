package signaling

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// recvTimeout bounds how long a test waits for one message; it is a
// deadline against hangs, not a performance assertion.
const recvTimeout = 5 * time.Second

// newTestServer starts a real Server behind httptest on loopback.
func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return srv, ts
}

type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }

// wsClient is a raw protocol client over a real WebSocket.
type wsClient struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	welcome msg
}

func wsURL(ts *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// dial connects to /ws (with an optional query) and reads the welcome.
func dial(t *testing.T, ts *httptest.Server, query string) *wsClient {
	t.Helper()
	c := dialRaw(t, ts, "/ws"+query, nil)
	w := c.recv()
	require.Equal(t, "welcome", w.str("type"), "first frame must be welcome: %v", w)
	c.welcome = w
	c.id = w.str("id")
	return c
}

func dialRaw(t *testing.T, ts *httptest.Server, path string, h http.Header) *wsClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, path), h)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	c := &wsClient{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, b))
}

// recv returns the next message, failing the test after recvTimeout.
func (c *wsClient) recv() msg {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(recvTimeout))
	_, b, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	var m msg
	require.NoError(c.t, json.Unmarshal(b, &m), "server sent invalid JSON: %s", b)
	return m
}

// expect reads the next message and requires its type.
func (c *wsClient) expect(typ string) msg {
	c.t.Helper()
	m := c.recv()
	require.Equal(c.t, typ, m.str("type"), "got %v", m)
	return m
}

// expectSkipping reads until a message of type typ, skipping messages of
// the types in skip (events from other peers that race with the reply).
func (c *wsClient) expectSkipping(typ string, skip ...string) msg {
	c.t.Helper()
	for {
		m := c.recv()
		if m.str("type") == typ {
			return m
		}
		require.Contains(c.t, skip, m.str("type"), "got %v while waiting for %s", m, typ)
	}
}

// expectError reads the next message and requires an error with code.
func (c *wsClient) expectError(code Code) msg {
	c.t.Helper()
	m := c.expect("error")
	require.Equal(c.t, string(code), m.str("code"), "got %v", m)
	require.NotEmpty(c.t, m.str("message"))
	return m
}

// roundTrip sends a ping and requires the pong, proving the connection is
// healthy and that everything sent before has been processed.
func (c *wsClient) roundTrip() {
	c.t.Helper()
	c.send(msg{"type": "ping", "rid": "sync"})
	m := c.expect("pong")
	require.Equal(c.t, "sync", m.str("rid"))
}

// joinRoom joins and returns the joined reply.
func (c *wsClient) joinRoom(room string) msg {
	c.t.Helper()
	c.send(msg{"type": "join", "room": room})
	return c.expect("joined")
}

// expectClose reads until the server closes and returns the close code.
func (c *wsClient) expectClose() int {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(recvTimeout))
	for {
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errorsAs(err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}
