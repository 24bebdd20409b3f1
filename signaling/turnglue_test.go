package signaling

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/turn"
)

// TestConfigTURNWiresRelay: Config.TURN alone hands peers the embedded
// server's URLs (at the host they reached veil on) with credentials that
// allocate, and under forced relay lets only the relay transport address of
// a live allocation through as a relay candidate.
func TestConfigTURNWiresRelay(t *testing.T) {
	relay, turnAddr := startTURN(t) // relays from 127.0.0.2
	_, ts := newTestServer(t, Config{TURN: relay})

	ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws"), http.Header{"Host": {"veil.example:8443"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	c := &wsClient{T: t, WS: ws}
	t.Cleanup(func() { _ = ws.Close() })
	w := c.Expect("welcome")
	servers := w["iceServers"].([]any)
	require.Len(t, servers, 1)
	s := servers[0].(map[string]any)
	assert.Contains(t, s["urls"].([]any)[0], "turn:veil.example:", "URLs name the host the client used")
	assert.NoError(t, allocateWith(t, turnAddr, s["username"].(string), s["credential"].(string)))

	ours := holdAllocation(t, turnAddr, s["username"].(string), s["credential"].(string))
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	disguised := relayCandAt(netip.MustParseAddrPort("198.51.100.9:61000"))
	real := relayCandAt(ours)
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidates": []any{msg{"candidate": disguised}, msg{"candidate": real}}}})
	cs := b.Expect("signal")["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1, "only the embedded TURN's relay address passes")
	assert.Contains(t, cs[0].(map[string]any)["candidate"], ours.Addr().String()+" "+strconv.Itoa(int(ours.Port()))+" typ relay")
}

// holdAllocation allocates on the TURN server at turnAddr with the
// credentials, from 127.0.0.1, and returns the relay transport address;
// the allocation lives until the test ends.
func holdAllocation(t *testing.T, turnAddr, user, pass string) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: turnAddr, TURNServerAddr: turnAddr, Conn: conn,
		Username: user, Password: pass, Realm: turn.DefaultRealm,
	})
	require.NoError(t, err)
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = relay.Close()
		c.Close()
		_ = conn.Close()
	})
	ua, ok := relay.LocalAddr().(*net.UDPAddr)
	require.True(t, ok)
	return ua.AddrPort()
}

// relayCandAt is a relay candidate, as Chrome trickles it, at ap.
func relayCandAt(ap netip.AddrPort) string {
	return fmt.Sprintf("candidate:3 1 udp 41885439 %s %d typ relay raddr 198.51.100.4 rport 54321 generation 0 ufrag abcd", ap.Addr(), ap.Port())
}

// offerWith is an offer whose only candidates are relay candidates at aps.
func offerWith(aps ...netip.AddrPort) string {
	sdp := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
	for _, ap := range aps {
		sdp += "a=" + relayCandAt(ap) + "\r\n"
	}
	return sdp + "a=mid:0\r\n"
}

// TestConfigTURNRelayPortChecked: with the embedded TURN, under forced
// relay, a relay candidate passes only at the relay transport address of a
// live allocation: veil's relay IP at a port no allocation holds (where a
// co-tenant could receive a policy-ignoring victim's connectivity checks)
// is dropped, in trickle and in SDP, in the native and the PeerJS dialect;
// and once the allocation has ended, the candidate that passed before is
// dropped too.
func TestConfigTURNRelayPortChecked(t *testing.T) {
	relay, turnAddr := startTURN(t)
	_, ts := newTestServer(t, Config{TURN: relay})
	creds := relay.Credentials("holder")
	ours := holdAllocation(t, turnAddr, creds.Username, creds.Password)
	require.True(t, relay.IsRelayAddr(ours))
	other := netip.AddrPortFrom(ours.Addr(), ours.Port()+1)
	if ours.Port() == 65535 {
		other = netip.AddrPortFrom(ours.Addr(), ours.Port()-1)
	}
	require.False(t, relay.IsRelayAddr(other), "no allocation holds the other port")
	oursText := ours.Addr().String() + " " + strconv.Itoa(int(ours.Port())) + " typ relay"
	otherText := other.Addr().String() + " " + strconv.Itoa(int(other.Port())) + " typ relay"

	// Native.
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("r")
	b.JoinRoom("r")
	a.Expect("peer-joined")
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": relayCandAt(other)}}})
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": msg{"candidate": relayCandAt(ours)}}})
	got := b.Expect("signal")["data"].(map[string]any)["candidate"].(map[string]any)["candidate"].(string)
	assert.Contains(t, got, oursText, "the first candidate b gets is the live allocation's")
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"sdp": msg{"type": "offer", "sdp": offerWith(other, ours)}}})
	sdp := b.Expect("signal")["data"].(map[string]any)["sdp"].(map[string]any)["sdp"].(string)
	assert.Contains(t, sdp, oursText)
	assert.NotContains(t, sdp, otherText)

	// PeerJS.
	pa, pb := testutil.PJDial(t, ts, "alice", "ta"), testutil.PJDial(t, ts, "bob", "tb")
	pa.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(relayCandAt(other))})
	pa.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(relayCandAt(ours))})
	got = testutil.PJPayload(t, pb.Expect("CANDIDATE"))["candidate"].(map[string]any)["candidate"].(string)
	assert.Contains(t, got, oursText, "the first candidate bob gets is the live allocation's")
	pa.Send(msg{"type": "OFFER", "dst": "bob", "payload": msg{
		"sdp": msg{"type": "offer", "sdp": offerWith(other, ours)}, "type": "data", "connectionId": "dc_1",
	}})
	sdp = testutil.PJPayload(t, pb.Expect("OFFER"))["sdp"].(map[string]any)["sdp"].(string)
	assert.Contains(t, sdp, oursText)
	assert.NotContains(t, sdp, otherText)

	// The allocation ends: the candidate that passed no longer does.
	relay.EndPeer("holder")
	require.False(t, relay.IsRelayAddr(ours))
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidates": []any{msg{"candidate": relayCandAt(ours)}, msg{"candidate": ""}}}})
	cs := b.Expect("signal")["data"].(map[string]any)["candidates"].([]any)
	require.Len(t, cs, 1, "only end-of-candidates is left: %v", cs)
	assert.Empty(t, cs[0].(map[string]any)["candidate"])
	pa.Send(msg{"type": "CANDIDATE", "dst": "bob", "payload": testutil.PJCand(relayCandAt(ours))})
	pa.Send(msg{"type": "LEAVE", "dst": "bob", "payload": msg{"connectionId": "dc_1"}})
	pb.Expect("LEAVE")
}
