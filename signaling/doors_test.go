package signaling

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/turn"

	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// startTURN runs a real embedded TURN server on 127.0.0.1 (UDP) relaying
// from 127.0.0.2, and returns it with its UDP address.
func startTURN(t *testing.T) (*turn.Server, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv, err := turn.New(turn.Config{
		PacketConns: []net.PacketConn{pc},
		RelayIP:     netip.MustParseAddr("127.0.0.2"),
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return srv, pc.LocalAddr().String()
}

// allocateWith tries a TURN Allocate at server with the credentials.
func allocateWith(t *testing.T, server, user, pass string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer conn.Close()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server, Conn: conn,
		Username: user, Password: pass, Realm: turn.DefaultRealm,
	})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	if err == nil {
		_ = relay.Close()
	}
	return err
}

// getCredentials fetches path with header h and returns status and body.
func getCredentials(t *testing.T, base, path string, h http.Header) (int, turnCredentials) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var c turnCredentials
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, c
}

// TestTURNCredentialsDoor: with an AuthSecret both TURN credential
// endpoints need a valid token (query or Bearer), and without one nobody
// gets credentials that allocate: a guessed credential fails at the TURN
// server. With a token the credentials allocate on the real TURN server.
func TestTURNCredentialsDoor(t *testing.T) {
	relay, turnAddr := startTURN(t)
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret, TURN: relay})
	tok := testutil.Mint(t, auth.Grant{Room: "r", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)

	for _, path := range []string{"/turn-credentials", "/peerjs/peerjs/turn"} {
		for _, tc := range []struct {
			name   string
			query  string
			header http.Header
			want   int
		}{
			{"no token", "", nil, http.StatusUnauthorized},
			{"bad token", "?token=" + url.QueryEscape(tok+"x"), nil, http.StatusUnauthorized},
			{"other secret", "?token=" + url.QueryEscape(mintWith(t, []byte("another-secret-another-secret-32b!"))), nil, http.StatusUnauthorized},
			{"bearer", "", http.Header{"Authorization": {"Bearer " + tok}}, http.StatusOK},
			{"query", "?token=" + url.QueryEscape(tok), nil, http.StatusOK},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				code, c := getCredentials(t, ts.URL, path+tc.query, tc.header)
				require.Equal(t, tc.want, code)
				if code == http.StatusOK {
					assert.NoError(t, allocateWith(t, turnAddr, c.Username, c.Password), "credentials from the endpoint allocate")
				}
			})
		}
	}
	// Without the endpoint a client can only guess: Allocate fails.
	assert.Error(t, allocateWith(t, turnAddr, "9999999999:guess", "guess"))
}

// mintWith mints a valid-looking token with another secret.
func mintWith(t *testing.T, secret []byte) string {
	t.Helper()
	tok, err := auth.Mint(secret, auth.Grant{Room: "r", Actions: []auth.Action{auth.ActionJoin}}, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// TestNativeICEServersNeedToken: with an AuthSecret, welcome carries TURN
// credentials only when the connection URL has a valid token; otherwise
// the first authorized action releases them (ice-servers, once), and a
// refused action does not.
func TestNativeICEServersNeedToken(t *testing.T) {
	relay, turnAddr := startTURN(t)
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret, TURN: relay})
	tok := testutil.Mint(t, auth.Grant{Room: "lobby", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)

	anon := dial(t, ts, "")
	assert.Empty(t, anon.Welcome["iceServers"], "no TURN credentials without a token")
	anon.Send(msg{"type": "join", "room": "lobby"})
	anon.ExpectError(CodeUnauthorized)
	anon.Send(msg{"type": "join", "room": "lobby", "token": tok})
	ice := anon.Expect("ice-servers")
	anon.Expect("joined")
	servers := ice["iceServers"].([]any)
	require.Len(t, servers, 1)
	s := servers[0].(map[string]any)
	assert.NoError(t, allocateWith(t, turnAddr, s["username"].(string), s["credential"].(string)))
	anon.Send(msg{"type": "join", "room": "lobby", "token": tok})
	anon.Expect("joined") // once only: no second ice-servers

	withTok := dial(t, ts, "?token="+url.QueryEscape(tok))
	require.Len(t, withTok.Welcome["iceServers"], 1, "a valid URL token gets TURN in welcome")
	bad := dial(t, ts, "?token=x")
	assert.Empty(t, bad.Welcome["iceServers"])
}

// TestPeerJSNeedsToken: with an AuthSecret the PeerJS client's token is
// the operator token and must grant join on its id; the refusal comes
// before the id is looked up, so it says nothing about the id.
func TestPeerJSNeedsToken(t *testing.T) {
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret})
	alice := testutil.Mint(t, auth.Grant{Room: "alice", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
	pfx := testutil.Mint(t, auth.Grant{Prefix: "team-", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
	play := testutil.Mint(t, auth.Grant{Stream: "alice", Actions: []auth.Action{auth.ActionPlay}}, time.Hour)

	for _, tc := range []struct{ name, id, token string }{
		{"random token", "bob", "tb"},
		{"token for another id", "bob", alice},
		{"token without join", "alice", play},
		{"forged", "alice", alice + "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts, testutil.PJWS(tc.id, tc.token), nil)
			m := c.Expect("ERROR")
			assert.Equal(t, "Invalid token provided", testutil.PJPayload(t, m)["msg"])
			c.ExpectClose()
		})
	}
	a := testutil.PJDial(t, ts, "alice", alice)
	b := testutil.PJDial(t, ts, "team-b", pfx)
	a.Send(msg{"type": "OFFER", "dst": "team-b", "payload": msg{"sdp": msg{"type": "offer", "sdp": testutil.PJOfferSDP}, "type": "data", "connectionId": "dc_1"}})
	assert.Equal(t, "alice", b.Expect("OFFER").Str("src"))
	// A token-holding thief with another id's token cannot take alice over,
	// and is refused as any bad token is, whether or not alice is live.
	c := dialRaw(t, ts, testutil.PJWS("alice", pfx), nil)
	assert.Equal(t, "Invalid token provided", testutil.PJPayload(t, c.Expect("ERROR"))["msg"])
}

// TestPeerJSRequireUnguessable: a PeerJS id is a name like any other:
// shorter than RequireUnguessable, it is refused as an invalid id.
func TestPeerJSRequireUnguessable(t *testing.T) {
	_, ts := newTestServer(t, Config{RequireUnguessable: 16})
	c := dialRaw(t, ts, testutil.PJWS("alice", "ta"), nil)
	assert.Equal(t, "Invalid id provided", testutil.PJPayload(t, c.Expect("ERROR"))["msg"])
	testutil.PJDial(t, ts, "alice-Kq3vN8zzTt5p", "ta")
}

// TestPeerJSDiscoveryNeedsToken: with an AuthSecret the id list, when
// discovery is on, is for token holders only.
func TestPeerJSDiscoveryNeedsToken(t *testing.T) {
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret, PeerJS: PeerJSConfig{Discovery: true}})
	tok := testutil.Mint(t, auth.Grant{Room: "alice", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
	testutil.PJDial(t, ts, "alice", tok)
	code, _ := getCredentials(t, ts.URL, "/peerjs/peerjs/peers", nil)
	assert.Equal(t, http.StatusUnauthorized, code)
	resp, err := http.Get(ts.URL + "/peerjs/peerjs/peers?token=" + url.QueryEscape(tok))
	require.NoError(t, err)
	var ids []string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ids))
	_ = resp.Body.Close()
	assert.Equal(t, []string{"alice"}, ids)
}

// TestVDOURLToken: with an AuthSecret a VDO.Ninja request without a token
// uses the connection URL's; without either it is refused.
func TestVDOURLToken(t *testing.T) {
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret})
	tok := testutil.Mint(t, auth.Grant{Prefix: "s-", Actions: []auth.Action{auth.ActionPublish, auth.ActionPlay, auth.ActionJoin}}, time.Hour)

	anon := testutil.DialVDO(t, ts, "")
	anon.Send(msg{"request": "seed", "streamID": "s-1"})
	anon.ExpectErr(CodeUnauthorized)
	anon.ExpectAlert("&auth=TOKEN")
	anon.Send(msg{"request": "joinroom", "roomid": "s-room"})
	anon.ExpectErr(CodeUnauthorized) // alerted once per connection

	pub := testutil.DialVDO(t, ts, "?token="+url.QueryEscape(tok))
	pub.Send(msg{"request": "seed", "streamID": "s-1"})
	pub.Sync()
	pub.Send(msg{"request": "seed", "streamID": "x-2"})
	pub.ExpectErr(CodeUnauthorized) // the URL token grants s-* only
	pub.ExpectAlert("access token")

	viewer := testutil.DialVDO(t, ts, "?token="+url.QueryEscape(tok))
	viewer.Send(msg{"request": "play", "streamID": "s-1"})
	pub.ExpectReq("offerSDP")
}

// TestNativePlayThenPublishRefused: a connection playing a stream cannot
// publish it (it would be told it is its own viewer), as the other order
// and the VDO.Ninja dialect's seed already refuse.
func TestNativePlayThenPublishRefused(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	a := dial(t, ts, "")
	a.Send(msg{"type": "play", "stream": "s"})
	a.Expect("waiting")
	a.Send(msg{"type": "publish", "stream": "s"})
	a.ExpectError(CodeStreamInUse)
	a.Send(msg{"type": "publish", "stream": "t"})
	a.Expect("published")
	a.Send(msg{"type": "play", "stream": "t"})
	a.ExpectError(CodeStreamInUse)
	a.RoundTrip()

	// The stream stays usable by others.
	b := dial(t, ts, "")
	b.Send(msg{"type": "publish", "stream": "s"})
	b.Expect("published")
	b.Expect("viewer")
	a.Expect("playing")
}
