package signaling

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		resp, _ := httpGet(t, ts.URL+"/turn-credentials", from("198.51.100.7"))
		require.Equal(t, http.StatusOK, resp.StatusCode, "set %d within the burst", i)
	}
	resp, _ := httpGet(t, ts.URL+"/turn-credentials", from("198.51.100.7"))
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, _ = httpGet(t, ts.URL+"/turn-credentials", from("198.51.100.8"))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another address is not affected")
}

// TestOnPeerGoneCalledWhenConnectionCloses: the hook gets the peer id
// from welcome once the peer's connection has closed.
func TestOnPeerGoneCalledWhenConnectionCloses(t *testing.T) {
	gone := make(chan string, 1)
	_, ts := newTestServer(t, Config{OnPeerGone: func(id string) { gone <- id }})
	c := dial(t, ts, "")
	require.NotEmpty(t, c.id)
	require.NoError(t, c.ws.Close())
	select {
	case id := <-gone:
		assert.Equal(t, c.id, id)
	case <-time.After(5 * time.Second):
		t.Fatal("OnPeerGone was not called")
	}
}
