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

	require.NoError(t, ws.Close())
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
