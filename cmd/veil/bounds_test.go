package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHTTPConnectionsBounded: veil serves through the signaling server's
// LimitListener, so open TCP connections are counted (WebSockets and plain
// requests alike), and a request that announces a body it never sends is
// answered and closed at once instead of holding its connection.
func TestHTTPConnectionsBounded(t *testing.T) {
	a := startVeil(t, nil)
	ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()

	c, err := net.DialTimeout("tcp", a.httpLn.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_ = r.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.StatusCode)
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if assert.Error(t, err) && errors.As(err, &ne) {
		assert.False(t, ne.Timeout(), "closed right after the answer")
	}

	m, err := http.Get(a.URL() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(m.Body)
	_ = m.Body.Close()
	require.NoError(t, err)
	var open string
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "veil_http_connections "); ok {
			open = v
		}
	}
	assert.NotEmpty(t, open, "veil_http_connections is exported")
	assert.NotEqual(t, "0", open, "the open WebSocket and this request are counted")
}
