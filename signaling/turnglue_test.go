package signaling

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
)

// TestConfigTURNWiresRelay: Config.TURN alone hands peers the embedded
// server's URLs (at the host they reached veil on) with credentials that
// allocate, and under forced relay lets only its relay address through as
// a relay candidate.
func TestConfigTURNWiresRelay(t *testing.T) {
	relay, turnAddr := startTURN(t) // relays from 127.0.0.2
	_, ts := newTestServer(t, Config{TURN: relay})

	ws, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, "/ws"), http.Header{"Host": {"veil.example:8443"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	c := &wsClient{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	w := c.expect("welcome")
	servers := w["iceServers"].([]any)
	require.Len(t, servers, 1)
	s := servers[0].(map[string]any)
	assert.Contains(t, s["urls"].([]any)[0], "turn:veil.example:", "URLs name the host the client used")
	assert.NoError(t, allocateWith(t, turnAddr, s["username"].(string), s["credential"].(string)))

	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.joinRoom("r")
	b.joinRoom("r")
	a.expect("peer-joined")
	disguised := "candidate:9 1 udp 41885439 198.51.100.9 61000 typ relay raddr 0.0.0.0 rport 0"
	real := "candidate:3 1 udp 41885439 127.0.0.2 61000 typ relay raddr 0.0.0.0 rport 0"
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"candidates": []any{msg{"candidate": disguised}, msg{"candidate": real}}}})
	cs := b.expect("signal")["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1, "only the embedded TURN's relay address passes")
	assert.Contains(t, cs[0].(map[string]any)["candidate"], "127.0.0.2")
}

// noRelays is a TURN that cannot say where it relays from.
type noRelays struct{}

func (noRelays) ICEServer(host, _ string) ([]string, string, string) {
	return []string{"turn:" + host + ":3478"}, "u", "p"
}
func (noRelays) RelayAddrs() []netip.Addr { return nil }
func (noRelays) EndPeer(string)           {}

// TestConfigTURNWithoutRelayAddrsRefused: filtering relay candidates with
// an embedded TURN whose relay addresses are unknown would accept any
// "typ relay" address, so New refuses it unless relay is off.
func TestConfigTURNWithoutRelayAddrsRefused(t *testing.T) {
	_, err := New(Config{TURN: noRelays{}})
	require.ErrorIs(t, err, errInvalidConfig)
	p := privacy.DefaultPolicy()
	p.Relay = privacy.RelayOptional
	_, err = New(Config{TURN: noRelays{}, Policy: p})
	require.ErrorIs(t, err, errInvalidConfig)
	p.Relay = privacy.RelayOff
	_, err = New(Config{TURN: noRelays{}, Policy: p})
	require.NoError(t, err)
}
