package main

import "testing"

// TestVDOBrowser runs e2e/web/test/vdo.html (a plain WebSocket +
// RTCPeerConnection client of the VDO.Ninja dialect) in Debian's Chromium
// against the whole veil (signaling + embedded TURN on loopback, relay
// forced): e2e/web/test/vdo.mjs holds the assertions (a play waiting
// for its seed, offerSDP, fake-camera video at the viewer, relay-only
// remote candidates with raddr 0.0.0.0, relay/relay pairs, no third-party
// requests).
func TestVDOBrowser(t *testing.T) {
	browserEnv(t) // skip early, before starting veil, when there is no browser
	a := startVeil(t, nil)
	t.Log(runNode(t, "vdo.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String()))
}
