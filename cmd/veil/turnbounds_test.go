package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/turn"
)

// TestTURNAllocationsEndWithSignaling: a peer allocates with the
// credentials from its welcome; when its signaling connection closes, the
// allocation is gone and the credentials allocate no more.
func TestTURNAllocationsEndWithSignaling(t *testing.T) {
	a := startVeil(t, nil)
	ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	var w map[string]any
	require.NoError(t, ws.ReadJSON(&w))
	require.Equal(t, "welcome", w["type"])
	s := w["iceServers"].([]any)[0].(map[string]any)
	addr := "127.0.0.1:" + strconv.Itoa(a.udpPort)
	client := func() *pionturn.Client {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		c, err := pionturn.NewClient(&pionturn.ClientConfig{
			STUNServerAddr: addr,
			TURNServerAddr: addr,
			Conn:           conn,
			Username:       s["username"].(string),
			Password:       s["credential"].(string),
			Realm:          "veil",
		})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		require.NoError(t, c.Listen())
		return c
	}
	relay, err := client().Allocate()
	require.NoError(t, err)
	defer relay.Close()
	require.Equal(t, 1, a.turn.Stats().AllocationsActive)

	// A goodbye (1000) ends the session at once; a drop would park it
	// for a resume (TestTURNAllocationsSurviveADrop).
	require.NoError(t, ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)))
	require.Eventually(t, func() bool { return a.turn.Stats().AllocationsActive == 0 },
		5*time.Second, 20*time.Millisecond, "the allocation ends with the session")
	assert.EqualValues(t, 1, a.turn.Stats().AllocationsPeerEnded)
	_, err = client().Allocate()
	var te *stun.TurnError
	require.ErrorAs(t, err, &te, "the gone peer's credentials allocate again")
	assert.Equal(t, stun.CodeAllocQuotaReached, te.ErrorCodeAttr.Code)

	// Both show in the metrics.
	res, err := http.Get(a.URL() + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `veil_turn_refused_total{reason="peer-ended"} 1`)
	assert.Contains(t, string(body), "veil_turn_allocations_peer_ended_total 1")
	assert.Contains(t, string(body), `veil_turn_refused_total{reason="allocations-per-ip"} 0`)
}

// TestTURNTCPFloodKeepsVeilServing: hundreds of TCP connections to the
// TURN port that never send a byte leave /healthz answering, and a client
// on another address still allocates over TCP with its welcome
// credentials.
func TestTURNTCPFloodKeepsVeilServing(t *testing.T) {
	a := startVeil(t, func(o *options) {
		o.turnLimits.maxTCP = 40
		o.turnLimits.maxTCPPerIP = 20
		o.turnLimits.firstMessage = time.Second
	})
	addr := "127.0.0.1:" + strconv.Itoa(a.udpPort) // TCP shares the UDP port
	const flood = 300
	for range flood {
		c, err := net.Dial("tcp4", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
	}
	require.Eventually(t, func() bool { return a.turn.Stats().Refused[turn.ReasonTCPPerIP] == flood-20 },
		5*time.Second, 10*time.Millisecond)

	res, err := http.Get(a.URL() + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	s := welcomeOf(t, a)["iceServers"].([]any)[0].(map[string]any)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
	conn, err := d.Dial("tcp4", addr)
	require.NoError(t, err)
	c := streamTURNClient(t, addr, conn, s)
	relay, err := c.Allocate()
	require.NoError(t, err, "a TCP allocation next to the flood")
	_ = relay.Close()
}

// TestTURNLimitFlags: the TURN limit flags (and their environment
// variables) reach turn.Config and signaling.Config.
func TestTURNLimitFlags(t *testing.T) {
	o, err := parseOptions([]string{
		"--turn-max-allocations-per-ip=7",
		"--turn-max-allocation-lifetime=2h",
		"--turn-max-peers-per-allocation=5",
		"--turn-max-peers-per-ip=50",
		"--turn-request-rate-per-ip=9",
		"--turn-request-burst-per-ip=90",
		"--turn-max-tcp-connections=300",
		"--turn-max-tcp-connections-per-ip=3",
		"--turn-tcp-first-message-timeout=4s",
		"--turn-credential-rate-per-ip=2",
	}, func(k string) string {
		if k == "VEIL_TURN_TCP_IDLE_TIMEOUT" {
			return "90s"
		}
		return ""
	})
	require.NoError(t, err)
	var tc turn.Config
	o.turnLimits.applyTURN(&tc)
	assert.Equal(t, turn.Config{
		MaxAllocationsPerIP:    7,
		MaxAllocationLifetime:  2 * time.Hour,
		MaxPeersPerAllocation:  5,
		MaxPeersPerIP:          50,
		RequestRatePerIP:       9,
		RequestBurstPerIP:      90,
		MaxTCPConnections:      300,
		MaxTCPConnectionsPerIP: 3,
		TCPFirstMessageTimeout: 4 * time.Second,
		TCPIdleTimeout:         90 * time.Second,
	}, tc)
	var sc signaling.Config
	o.turnLimits.applySignaling(&sc)
	assert.Equal(t, 2, sc.CredentialRatePerIP)
	assert.Equal(t, signaling.DefaultCredentialBurstPerIP, sc.CredentialBurstPerIP)
}

// TestTURNAllocationsSurviveADrop: a peer's allocation outlives a drop of
// its signaling connection while the session is parked and after it is
// resumed (the call's relay must not die with the WebSocket), and ends only
// when a later drop is not resumed within the window.
func TestTURNAllocationsSurviveADrop(t *testing.T) {
	const grace = 2 * time.Second
	a := startVeil(t, func(o *options) { o.resume.grace, o.resume.graceSet = grace, true })
	dial := func(query string) (*websocket.Conn, map[string]any) {
		ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL()+query, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		var w map[string]any
		require.NoError(t, ws.ReadJSON(&w))
		require.Equal(t, "welcome", w["type"])
		return ws, w
	}
	ws, w := dial("")
	s := w["iceServers"].([]any)[0].(map[string]any)
	addr := "127.0.0.1:" + strconv.Itoa(a.udpPort)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: s["username"].(string), Password: s["credential"].(string), Realm: "veil",
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	_ = ws.Close() // a drop: no close frame
	time.Sleep(grace / 4)
	assert.Equal(t, 1, a.turn.Stats().AllocationsActive, "the allocation lives while the session is parked")
	ws2, w2 := dial("?resume=" + w["resume"].(string))
	require.Equal(t, true, w2["resumed"])
	require.Equal(t, w["id"], w2["id"])
	time.Sleep(grace + grace/4)
	assert.Equal(t, 1, a.turn.Stats().AllocationsActive, "the allocation outlives the window once resumed")
	assert.EqualValues(t, 0, a.turn.Stats().AllocationsPeerEnded)

	_ = ws2.Close() // another drop, not resumed
	require.Eventually(t, func() bool { return a.turn.Stats().AllocationsActive == 0 },
		5*time.Second, 20*time.Millisecond, "the allocation ends when the window ends")
	assert.EqualValues(t, 1, a.turn.Stats().AllocationsPeerEnded)
}
