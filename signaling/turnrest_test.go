package signaling

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// TestTURNCredentialsRateLimitedPerAddress: one client address gets
// CredentialBurstPerIP credential sets, then 429 with Retry-After, while
// another address still gets its own.
func TestTURNCredentialsRateLimitedPerAddress(t *testing.T) {
	_, ts := newTestServer(t, Config{
		TrustedProxies:       loopbackProxy,
		CredentialBurstPerIP: 3,
		CredentialRatePerIP:  1,
		ICEServers: func(_ *http.Request, id string) []ICEServer {
			user := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":" + id
			return []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: user, Credential: "pw"}}
		},
	})
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	for i := range 3 {
		resp, _ := testutil.HTTPGet(t, ts.URL+"/turn-credentials", from("198.51.100.7"))
		require.Equal(t, http.StatusOK, resp.StatusCode, "set %d within the burst", i)
	}
	resp, _ := testutil.HTTPGet(t, ts.URL+"/turn-credentials", from("198.51.100.7"))
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, _ = testutil.HTTPGet(t, ts.URL+"/turn-credentials", from("198.51.100.8"))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another address is not affected")
}

// TestOnPeerGoneCalledWhenConnectionCloses: the hook gets the peer id
// from welcome once the peer's connection has closed.
func TestOnPeerGoneCalledWhenConnectionCloses(t *testing.T) {
	gone := make(chan string, 1)
	_, ts := newTestServer(t, Config{OnPeerGone: func(id string) { gone <- id }})
	c := dial(t, ts, "")
	require.NotEmpty(t, c.ID)
	// A goodbye (1000): the peer leaves at once, no resume is waited for.
	require.NoError(t, c.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)))
	select {
	case id := <-gone:
		assert.Equal(t, c.ID, id)
	case <-time.After(5 * time.Second):
		t.Fatal("OnPeerGone was not called")
	}
}

func TestTURNCredentialsFrom(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		servers []ICEServer
		ok      bool
		ttl     int64
	}{
		{"none", nil, false, 0},
		{"stun only", []ICEServer{{URLs: []string{"stun:x"}}}, false, 0},
		{"rest username", []ICEServer{{URLs: []string{"turn:x"}, Username: "1700000600:id", Credential: "p"}}, true, 600},
		{"static username", []ICEServer{{URLs: []string{"turn:x"}, Username: "user", Credential: "p"}}, true, 0},
		{"expired", []ICEServer{{URLs: []string{"turn:x"}, Username: "1600000000:id", Credential: "p"}}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := turnCredentialsFrom(tc.servers, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.ttl, c.TTL)
		})
	}
}
