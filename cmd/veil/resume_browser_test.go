package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResumeBrowser: a call between two demo pages in Debian's Chromium,
// relay forced through the embedded TURN, keeps delivering video while one
// page's signaling WebSocket is down, and the page resumes its session
// (same id, same peer connections): e2e/web/test/resume.mjs holds the
// assertions. veil counts the resume, and the TURN allocations that carry
// the call survived the drop (the video would have stopped otherwise).
func TestResumeBrowser(t *testing.T) {
	browserEnv(t)
	a := startVeil(t, nil)
	out := runNode(t, "resume.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String())
	t.Log(out)

	resp, err := http.Get(a.URL() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `veil_resumes_total{result="ok"} 1`)
	http.DefaultClient.CloseIdleConnections()
}

// TestPeerJSReconnectBrowser runs the real `peerjs` client's
// disconnect()/reconnect() against veil (e2e/web/test/peerjs-reconnect.mjs):
// the call goes on while signaling is away, the id is kept, and the same id
// with the same token takes over a socket veil still holds.
func TestPeerJSReconnectBrowser(t *testing.T) {
	browserEnv(t)
	a := startVeil(t, nil)
	t.Log(runNode(t, "peerjs-reconnect.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String()))
}
