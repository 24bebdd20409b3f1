// Package testutil holds what the tests of signaling and of each wire
// protocol share: a real server behind httptest, a raw WebSocket client of
// the native protocol, metric readers and the candidates tests send. It is
// for tests only and imports nothing of the server but the hub's codes.
package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/hub"
)

// RecvTimeout bounds how long a test waits for one message; it is a
// deadline against hangs, not a performance assertion.
const RecvTimeout = 5 * time.Second

// A host candidate and a relay candidate as Chrome sends them.
const (
	HostCand  = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 ufrag abcd network-id 1"
	RelayCand = "candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0 ufrag abcd"
)

// Serve starts h behind httptest on loopback; cleanup runs shutdown, then
// closes the listener.
func Serve(t testing.TB, h http.Handler, shutdown func(context.Context) error) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
		ts.Close()
	})
	return ts
}

// Msg is a decoded JSON message.
type Msg map[string]any

// Str is field k as a string, "" when it is none.
func (m Msg) Str(k string) string { s, _ := m[k].(string); return s }

// Client is a raw protocol client over a real WebSocket.
type Client struct {
	T       *testing.T
	WS      *websocket.Conn
	ID      string // the native protocol's id, from welcome
	Welcome Msg
}

// WSURL is the ws:// URL of path on ts.
func WSURL(ts *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// Dial connects to /ws (with an optional query) and reads the welcome.
func Dial(t *testing.T, ts *httptest.Server, query string) *Client {
	t.Helper()
	c := DialRaw(t, ts, "/ws"+query, nil)
	w := c.Recv()
	require.Equal(t, "welcome", w.Str("type"), "first frame must be welcome: %v", w)
	c.Welcome = w
	c.ID = w.Str("id")
	return c
}

// DialRaw connects to path with headers h and reads nothing.
func DialRaw(t *testing.T, ts *httptest.Server, path string, h http.Header) *Client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(WSURL(ts, path), h)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	c := &Client{T: t, WS: ws}
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

// Send sends v as JSON.
func (c *Client) Send(v any) {
	c.T.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.T, err)
	c.SendRaw(b)
}

// SendRaw sends b as a text frame.
func (c *Client) SendRaw(b []byte) {
	c.T.Helper()
	require.NoError(c.T, c.WS.WriteMessage(websocket.TextMessage, b))
}

// Recv returns the next message, failing the test after RecvTimeout.
func (c *Client) Recv() Msg {
	c.T.Helper()
	b := c.RecvRaw()
	var m Msg
	require.NoError(c.T, json.Unmarshal(b, &m), "server sent invalid JSON: %s", b)
	return m
}

// RecvRaw returns the next frame as sent, failing after RecvTimeout.
func (c *Client) RecvRaw() []byte {
	c.T.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(RecvTimeout))
	_, b, err := c.WS.ReadMessage()
	require.NoError(c.T, err)
	return b
}

// Expect reads the next message and requires its type.
func (c *Client) Expect(typ string) Msg {
	c.T.Helper()
	m := c.Recv()
	require.Equal(c.T, typ, m.Str("type"), "got %v", m)
	return m
}

// ExpectSkipping reads until a message of type typ, skipping messages of
// the types in skip (events from other peers that race with the reply).
func (c *Client) ExpectSkipping(typ string, skip ...string) Msg {
	c.T.Helper()
	for {
		m := c.Recv()
		if m.Str("type") == typ {
			return m
		}
		require.Contains(c.T, skip, m.Str("type"), "got %v while waiting for %s", m, typ)
	}
}

// ExpectError reads the next message and requires an error with code.
func (c *Client) ExpectError(code hub.Code) Msg {
	c.T.Helper()
	m := c.Expect("error")
	require.Equal(c.T, string(code), m.Str("code"), "got %v", m)
	require.NotEmpty(c.T, m.Str("message"))
	return m
}

// RoundTrip sends a ping and requires the pong, proving the connection is
// healthy and that everything sent before has been processed.
func (c *Client) RoundTrip() {
	c.T.Helper()
	c.Send(Msg{"type": "ping", "rid": "sync"})
	m := c.Expect("pong")
	require.Equal(c.T, "sync", m.Str("rid"))
}

// JoinRoom joins and returns the joined reply.
func (c *Client) JoinRoom(room string) Msg {
	c.T.Helper()
	c.Send(Msg{"type": "join", "room": room})
	return c.Expect("joined")
}

// ExpectClose reads until the server closes and returns the close code.
func (c *Client) ExpectClose() int {
	c.T.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(RecvTimeout))
	for {
		_, _, err := c.WS.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			c.T.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// MetricValue is the value of the counter or gauge name whose label has
// value label; 0 when there is none.
func MetricValue(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// MetricValueNoLabel is the value of the unlabelled counter or gauge name;
// it fails the test when there is none.
func MetricValueNoLabel(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s is not exported", name)
	return 0
}

// HostileSDP is an offer whose session name is n bytes of s: text the
// privacy filter keeps, and which json.Marshal would escape six-fold.
func HostileSDP(s string, n int) string {
	return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=" + strings.Repeat(s, n/len(s)) + "\r\nt=0 0\r\n"
}

// RawJSON undoes json.Marshal's escaping of <, >, & and U+2028/9: what a
// browser's JSON.stringify sends.
var RawJSON = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u2028`, "\u2028", `\u2029`, "\u2029")

// FitSDP returns the largest message, built by build around a HostileSDP
// of s, that fits in limit bytes as sent: escaped by json.Marshal as Go
// clients send it, or raw as browsers do.
func FitSDP(t testing.TB, s string, limit int, raw bool, build func(sdp string) any) []byte {
	t.Helper()
	enc := func(m any) []byte {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		if raw {
			b = []byte(RawJSON.Replace(string(b)))
		}
		return b
	}
	overhead := len(enc(build(HostileSDP(s, 0))))
	per := len(s)
	if !raw {
		q, err := json.Marshal(s)
		require.NoError(t, err)
		per = len(q) - 2
	}
	b := enc(build(HostileSDP(s, (limit-overhead)/per*len(s))))
	require.LessOrEqual(t, len(b), limit)
	require.Greater(t, len(b), limit-2*per-16)
	return b
}

// DialTinyWindow dials path with a 4 KiB receive buffer: a client that
// never reads then stalls the server's writes after a few kilobytes, so
// what piles up is veil's queue, not the kernel's buffers.
func DialTinyWindow(t *testing.T, ts *httptest.Server, path string) *Client {
	t.Helper()
	nd := net.Dialer{Control: TinyRcvBuf}
	d := websocket.Dialer{NetDial: nd.Dial}
	ws, resp, err := d.Dial(WSURL(ts, path), nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &Client{T: t, WS: ws}
	w := c.Recv() // the welcome of /ws, or a dialect's first frame
	c.ID = w.Str("id")
	return c
}

// TinyRcvBuf is a net.Dialer Control that sets a 4 KiB receive buffer.
func TinyRcvBuf(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	}); err != nil {
		return err
	}
	return serr
}
