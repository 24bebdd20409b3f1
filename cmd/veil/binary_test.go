package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinary builds veil, runs it as a newcomer would (no flags but
// ephemeral loopback ports), has two plain WebSocket clients join a room and
// exchange a signal, then sends SIGTERM: clients get 1001 and the process
// exits promptly.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "veil")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// At debug level: even then no address, room name or id may be logged.
	cmd := exec.CommandContext(ctx, bin, "--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0", "--log-level=debug")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// Read stderr to the end in the background, handing over the port
	// from the "veil is running" line.
	portRE := regexp.MustCompile(`http_port=(\d+)`)
	ports := make(chan string, 1)
	var waitErr error
	var logged strings.Builder    // read after exited is closed
	exited := make(chan struct{}) // closed once the process is reaped
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			t.Log(lines.Text())
			logged.WriteString(lines.Text() + "\n")
			if m := portRE.FindStringSubmatch(lines.Text()); m != nil {
				ports <- m[1]
			}
		}
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // only our own child, by its handle
		<-exited
	})
	var base string
	select {
	case port := <-ports:
		base = "http://127.0.0.1:" + port
	case <-time.After(30 * time.Second):
		t.Fatal("veil did not report its port")
	}

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	dialJSON := func() (*websocket.Conn, map[string]any) {
		// Clients come from 127.0.0.3, veil listens on 127.0.0.1: the log
		// may name veil's own address at start-up, never a client's.
		d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}).DialContext}
		c, resp, err := d.Dial(ws, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		var w map[string]any
		require.NoError(t, c.ReadJSON(&w))
		require.Equal(t, "welcome", w["type"])
		servers := w["iceServers"].([]any)
		require.Len(t, servers, 1, "the embedded TURN is offered by default")
		return c, w
	}
	a, wa := dialJSON()
	b, wb := dialJSON()
	defer a.Close()
	defer b.Close()
	readType := func(c *websocket.Conn, typ string) map[string]any {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var m map[string]any
			require.NoError(t, c.ReadJSON(&m))
			if m["type"] == typ {
				return m
			}
		}
	}
	require.NoError(t, a.WriteJSON(map[string]any{"type": "join", "room": "binary-test-room"}))
	readType(a, "joined")
	require.NoError(t, b.WriteJSON(map[string]any{"type": "join", "room": "binary-test-room"}))
	readType(b, "joined")
	readType(a, "peer-joined")
	require.NoError(t, b.WriteJSON(map[string]any{"type": "signal", "to": wa["id"], "data": map[string]any{"candidate": nil}}))
	sig := readType(a, "signal")
	assert.Equal(t, wb["id"], sig["from"])

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = a.SetReadDeadline(time.Now().Add(shutdownTimeout))
	_, _, err = a.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)
	select {
	case <-exited:
		require.NoError(t, waitErr, "veil exits 0 on SIGTERM")
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("veil did not exit after SIGTERM")
	}
	assert.Less(t, time.Since(start), 2*shutdownTimeout)
	for _, line := range strings.Split(logged.String(), "\n") {
		if strings.Contains(line, "127.0.0.1") {
			assert.Regexp(t, `msg="(open the demo|TURN URLs handed to clients|TURN relays media from)"`, line,
				"only start-up lines name veil's own address")
		}
	}
	for _, s := range []string{"127.0.0.3", "binary-test-room", wa["id"].(string), wb["id"].(string)} {
		assert.NotContains(t, logged.String(), s, "the debug log names an address, a room or an id")
	}
	assert.Contains(t, logged.String(), "level=DEBUG", "the run must have logged at debug")
}
