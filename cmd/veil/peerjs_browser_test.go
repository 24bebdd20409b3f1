package main

import "testing"

// TestPeerJSBrowser runs the real `peerjs` 1.5.5 client in Debian's
// Chromium against the whole veil (signaling + embedded TURN on loopback,
// relay forced): examples/web/test/peerjs.mjs holds the assertions (data
// both ways, fake-camera video both ways, unavailable-id, peer-unavailable,
// relay-only remote candidates with raddr 0.0.0.0, no third-party requests).
func TestPeerJSBrowser(t *testing.T) {
	browserEnv(t) // skip early, before starting veil, when there is no browser
	a := startVeil(t, nil)
	t.Log(runNode(t, "peerjs.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String()))
}
