package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func welcomeOf(t *testing.T, a *app) map[string]any {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	// The peer stays connected for the test: its TURN allocations end
	// when it leaves.
	t.Cleanup(func() { _ = ws.Close() })
	var w map[string]any
	require.NoError(t, ws.ReadJSON(&w))
	require.Equal(t, "welcome", w["type"])
	return w
}

// TestEmbeddedTURNCredentials: welcome offers the embedded TURN over UDP
// and TCP with TURN REST credentials bound to the peer id.
func TestEmbeddedTURNCredentials(t *testing.T) {
	a := startVeil(t, nil)
	w := welcomeOf(t, a)
	servers := w["iceServers"].([]any)
	require.Len(t, servers, 1)
	s := servers[0].(map[string]any)
	port := strconv.Itoa(a.udpPort)
	assert.Equal(t, []any{"turn:127.0.0.1:" + port + "?transport=udp", "turn:127.0.0.1:" + port + "?transport=tcp"}, s["urls"])
	exp, id, ok := strings.Cut(s["username"].(string), ":")
	require.True(t, ok)
	assert.Equal(t, w["id"], id)
	sec, err := strconv.ParseInt(exp, 10, 64)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), time.Unix(sec, 0), time.Minute, "default TTL is 10 minutes")
	assert.Equal(t, "relay", w["iceTransportPolicy"])
}

// TestExternalTURN: --turn-url + --turn-secret hand out coturn-compatible
// credentials (use-auth-secret) for those URLs and start no embedded TURN.
func TestExternalTURN(t *testing.T) {
	a := startVeil(t, func(o *options) {
		o.turnURLs = []string{"turn:turn.example:3478?transport=udp", "turns:turn.example:5349"}
		o.turnSecret = []byte("shared-with-coturn")
		o.turnEnabled = false
	})
	assert.Nil(t, a.turn)
	w := welcomeOf(t, a)
	s := w["iceServers"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"turn:turn.example:3478?transport=udp", "turns:turn.example:5349"}, s["urls"])
	user := s["username"].(string)
	mac := hmac.New(sha1.New, []byte("shared-with-coturn"))
	mac.Write([]byte(user))
	assert.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), s["credential"], "coturn computes the same password")
}

// TestDisguisedRelayCandidateDropped: under forced relay, a candidate
// labelled relay but not at the relay transport address of a live
// allocation on the embedded TURN is a peer's own address in disguise, or
// a port of veil's relay IP that veil never allocated (someone else may
// receive there), and does not cross veil.
func TestDisguisedRelayCandidateDropped(t *testing.T) {
	a := startVeil(t, nil)
	dialJoin := func() (*websocket.Conn, map[string]any) {
		ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		var w map[string]any
		require.NoError(t, ws.ReadJSON(&w))
		require.NoError(t, ws.WriteJSON(map[string]any{"type": "join", "room": "disguise"}))
		for {
			var m map[string]any
			require.NoError(t, ws.ReadJSON(&m))
			if m["type"] == "joined" {
				return ws, w
			}
		}
	}
	x, xw := dialJoin()
	y, yw := dialJoin()
	yID := yw["id"].(string)

	// x allocates on veil's TURN, as its browser would, with the
	// credentials veil gave it; the allocation lives while x is connected.
	ice := xw["iceServers"].([]any)[0].(map[string]any)
	turnAddr := "127.0.0.1:" + strconv.Itoa(a.udpPort)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: turnAddr, TURNServerAddr: turnAddr, Conn: conn,
		Username: ice["username"].(string), Password: ice["credential"].(string), Realm: "veil",
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })
	port := relay.LocalAddr().(*net.UDPAddr).Port
	unallocated := port + 1
	if port == 65535 {
		unallocated = port - 1
	}

	send := func(cand string) {
		require.NoError(t, x.WriteJSON(map[string]any{"type": "signal", "to": yID, "data": map[string]any{"candidate": map[string]any{"candidate": cand}}}))
	}
	send("candidate:1 1 udp 41885439 127.0.0.1 50000 typ relay raddr 0.0.0.0 rport 0")                                            // x's own address
	send("candidate:2 1 udp 41885439 " + relayIP.String() + " " + strconv.Itoa(unallocated) + " typ relay raddr 0.0.0.0 rport 0") // veil's relay IP, a port veil never allocated
	send("candidate:3 1 udp 41885439 " + relayIP.String() + " " + strconv.Itoa(port) + " typ relay raddr 127.0.0.1 rport 5")      // x's allocation
	_ = y.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m map[string]any
		require.NoError(t, y.ReadJSON(&m))
		if m["type"] != "signal" {
			continue
		}
		c := m["data"].(map[string]any)["candidate"].(map[string]any)["candidate"].(string)
		assert.Contains(t, c, relayIP.String()+" "+strconv.Itoa(port)+" typ relay raddr 0.0.0.0 rport 0", "the first signal y gets is the real relay's")
		return
	}
}

// TestHTTPErrorLogScrubsAddresses: net/http's own error lines (TLS
// handshake failures name the client) reach the log without the address.
func TestHTTPErrorLogScrubsAddresses(t *testing.T) {
	var buf strings.Builder
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	httpErrorLog(l).Printf("http: TLS handshake error from 198.51.100.7:52100: EOF")
	assert.NotContains(t, buf.String(), "198.51.100.7")
	assert.Contains(t, buf.String(), "TLS handshake error")
}
