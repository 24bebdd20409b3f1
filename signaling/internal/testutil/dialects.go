package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
)

// Secret is the AuthSecret of the tests' servers.
var Secret = []byte("0123456789abcdef0123456789abcdef-test-only")

// Mint returns a token for g, signed with Secret, valid for ttl.
func Mint(t testing.TB, g auth.Grant, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Mint(Secret, g, ttl, time.Now())
	require.NoError(t, err)
	return tok
}

// Policy is the default policy with relay, sysinfo and sealed set.
func Policy(relay privacy.RelayPolicy, sysinfo privacy.SysinfoPolicy, sealed privacy.SealedPolicy) privacy.Policy {
	p := privacy.DefaultPolicy()
	p.Relay, p.Sysinfo, p.Sealed = relay, sysinfo, sealed
	return p
}

// PJWS is the WebSocket path of the default PeerJS mount.
func PJWS(id, token string) string {
	return "/peerjs/peerjs?key=peerjs&id=" + url.QueryEscape(id) + "&token=" + url.QueryEscape(token) + "&version=1.5.5"
}

// PJDial connects a PeerJS client with id and token and requires OPEN.
func PJDial(t *testing.T, ts *httptest.Server, id, token string) *Client {
	t.Helper()
	c := DialRaw(t, ts, PJWS(id, token), nil)
	c.Expect("OPEN")
	c.ID = id
	return c
}

// VDOClient is a raw VDO.Ninja dialect client over a real WebSocket.
type VDOClient struct{ *Client }

// DialVDO connects to the official VDO.Ninja dialect at /vdo.
func DialVDO(t *testing.T, ts *httptest.Server, query string) *VDOClient {
	t.Helper()
	return &VDOClient{DialRaw(t, ts, "/vdo"+query, nil)}
}

// ExpectReq reads the next message and requires its request.
func (c *VDOClient) ExpectReq(req string) Msg {
	c.T.Helper()
	m := c.Recv()
	require.Equal(c.T, req, m.Str("request"), "got %v", m)
	return m
}

// ExpectErr reads the next message and requires an error with code.
func (c *VDOClient) ExpectErr(code hub.Code) Msg {
	c.T.Helper()
	m := c.ExpectReq("error")
	require.Equal(c.T, string(code), m.Str("code"), "got %v", m)
	require.NotEmpty(c.T, m.Str("message"))
	return m
}

// ExpectAlert reads the next message and requires an alert whose text
// contains want: what the VDO.Ninja app shows its user.
func (c *VDOClient) ExpectAlert(want string) Msg {
	c.T.Helper()
	m := c.ExpectReq("alert")
	require.Contains(c.T, m.Str("message"), want)
	return m
}

// Sync proves the connection is healthy and everything sent before has
// been processed, and that nothing else arrived meanwhile.
func (c *VDOClient) Sync() {
	c.T.Helper()
	c.Send(Msg{"request": "ping"})
	c.ExpectReq("pong")
}

// JoinRoom joins and returns the listing.
func (c *VDOClient) JoinRoom(room string, claim bool) Msg {
	c.T.Helper()
	m := Msg{"request": "joinroom", "roomid": room}
	if claim {
		m["claim"] = true
	}
	c.Send(m)
	return c.ExpectReq("listing")
}

// VDOPair sets up a publisher of stream and a viewer playing it, and
// returns them with each other's UUIDs (learned from offerSDP and from a
// first direct message).
func VDOPair(t *testing.T, ts *httptest.Server, query, stream string) (pub, viewer *VDOClient, pubID, viewerID string) {
	t.Helper()
	pub, viewer = DialVDO(t, ts, query), DialVDO(t, ts, query)
	pub.Send(Msg{"request": "seed", "streamID": stream})
	viewer.Send(Msg{"request": "play", "streamID": stream})
	viewerID = pub.ExpectReq("offerSDP").Str("UUID")
	require.NotEmpty(t, viewerID)
	pub.Send(Msg{"UUID": viewerID, "session": "s1", "iceRestartRequest": true})
	m := viewer.Recv()
	pubID = m.Str("UUID")
	require.NotEmpty(t, pubID)
	return pub, viewer, pubID, viewerID
}

// FanClient is a raw fan-out dialect client over a real WebSocket: it adds
// its label as "from" to everything it sends, as the VDO.Ninja app does.
type FanClient struct {
	*VDOClient
	Label string
}

// FanLabel returns a label shaped like the app's (20 characters).
func FanLabel(prefix string) string {
	return (prefix + "xxxxxxxxxxxxxxxxxxxxxxxx")[:20]
}

// DialFan connects to the fan-out dialect at /vdo-fanout as label.
func DialFan(t *testing.T, ts *httptest.Server, label, query string) *FanClient {
	t.Helper()
	return &FanClient{&VDOClient{DialRaw(t, ts, "/vdo-fanout"+query, nil)}, label}
}

// Say sends m with the client's label as "from".
func (c *FanClient) Say(m Msg) {
	c.T.Helper()
	m["from"] = c.Label
	c.Send(m)
}

// Sync: everything sent before was processed and nothing else arrived.
func (c *FanClient) Sync() {
	c.T.Helper()
	c.Say(Msg{"request": "ping"})
	c.ExpectReq("pong")
}

// PJOfferSDP is an offer as Chrome writes it, with a host, a
// server-reflexive and a relay candidate and the addresses they reveal in
// c= and o=.
const PJOfferSDP = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 4611731400430051336 2 IN IP4 192.168.1.20\r\n" +
	"s=-\r\nt=0 0\r\n" +
	"m=application 54321 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 192.168.1.20\r\n" +
	"a=candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0\r\n" +
	"a=candidate:2 1 udp 1686052607 198.51.100.4 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0\r\n" +
	"a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0\r\n" +
	"a=mid:0\r\n"

// PJCand is a CANDIDATE payload as peerjs 1.5.5 sends it.
func PJCand(cand string) Msg {
	return Msg{"candidate": Msg{"candidate": cand, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"},
		"type": "data", "connectionId": "dc_1"}
}

// PJPayload returns m's payload object.
func PJPayload(t *testing.T, m Msg) map[string]any {
	t.Helper()
	p, ok := m["payload"].(map[string]any)
	require.True(t, ok, "no payload object in %v", m)
	return p
}

// PJID returns a fresh PeerJS id: 144 random bits in hex, as the
// dialect's own ids.
func PJID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// HTTPGet gets u with headers h and returns the response and its body.
func HTTPGet(t *testing.T, u string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}
