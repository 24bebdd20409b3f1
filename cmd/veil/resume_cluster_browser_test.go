package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResumeBrowserCluster is TestResumeBrowser across two nodes of a
// cluster (issue 15): page A reaches veil through a balancer that sends
// every request to node 1 except a WebSocket with a resume token, which
// it sends to node 2; page B is on node 1. The call (relay forced through
// the nodes' embedded TURN servers on 127.0.0.1, relay address 127.0.0.2)
// keeps delivering video while A's signaling is down, A resumes on node 2
// with the same id and peer connections (the session moved: welcome.moved,
// veil.js restarts ICE through node 2's TURN), and video still flows after
// node 1 ended A's old relays one grace window after the move.
func TestResumeBrowserCluster(t *testing.T) {
	browserEnv(t)
	const grace = 20 * time.Second
	apps := startClusterAppsWith(t, 2, func(o *options) { o.resume.grace, o.resume.graceSet = grace, true })
	target := func(a *app) *httputil.ReverseProxy {
		u, err := url.Parse(a.URL())
		require.NoError(t, err)
		return httputil.NewSingleHostReverseProxy(u)
	}
	first, second := target(apps[0]), target(apps[1])
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" && r.URL.Query().Get("resume") != "" {
			second.ServeHTTP(w, r)
			return
		}
		first.ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)

	t.Cleanup(func() {
		if t.Failed() {
			for i, a := range apps {
				for _, l := range strings.Split(scrapeMetrics(t, a), "\n") {
					if strings.HasPrefix(l, "veil_resumes") || strings.HasPrefix(l, "veil_cluster_dropped") || strings.HasPrefix(l, "veil_parked") || strings.HasPrefix(l, "veil_errors") || strings.HasPrefix(l, "veil_rate_limited") {
						t.Logf("node %d: %s", i+1, l)
					}
				}
			}
		}
	})
	out := runNode(t, "resume.mjs", lb.URL, "VEIL_RELAY_IP="+relayIP.String(),
		"VEIL_URL_B="+apps[0].URL(), "VEIL_HOLD_MS="+strconv.FormatInt((grace+8*time.Second).Milliseconds(), 10))
	t.Log(out)

	assert.Contains(t, scrapeMetrics(t, apps[0]), `veil_resumes_total{result="moved"} 1`, "node 1 handed the session over")
	m2 := scrapeMetrics(t, apps[1])
	assert.Contains(t, m2, `veil_resumes_total{result="ok"} 1`, "node 2 resumed it")
	// Only page A ever had node 2's credentials: an allocation there is
	// its ICE restart through node 2's TURN after the move.
	assert.Regexp(t, `veil_turn_allocations_total\{[^}]*\} [1-9]`, m2, "A's relay moved to node 2's TURN")
	http.DefaultClient.CloseIdleConnections()
}

func scrapeMetrics(t *testing.T, a *app) string {
	t.Helper()
	resp, err := http.Get(a.URL() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}
