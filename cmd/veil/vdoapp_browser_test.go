package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/auth"
)

// TestVDOAppBrowser runs e2e/web/test/vdoapp.html, a stand-in for the
// VDO.Ninja web app's handshake in both of its dialects (official, as with
// the app's &wss2=, on /vdo; fan-out, as with &wss=, on /vdo-fanout), in
// Debian's Chromium against the whole veil (signaling + embedded TURN on
// loopback, relay forced, two peers per room), plus a second veil that
// requires operator tokens: e2e/web/test/vdoapp.mjs holds the
// assertions (push/view and a room with a director in each dialect,
// relay/relay pairs, no address or user agent in any frame received
// through veil, the alert the app shows on each refusal).
func TestVDOAppBrowser(t *testing.T) {
	browserEnv(t)
	a := startVeil(t, func(o *options) { o.maxRoomPeers = 2 })
	secret := []byte("0123456789abcdef0123456789abcdef-vdoapp")
	b := startVeil(t, func(o *options) { o.security.authSecret = secret })
	tok, err := auth.Mint(secret, auth.Grant{Prefix: "ok-", Actions: []auth.Action{auth.ActionPublish}}, time.Hour, time.Now())
	require.NoError(t, err)
	t.Log(runNode(t, "vdoapp.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String(),
		"VEIL_AUTH_URL="+b.URL(), "VEIL_AUTH_TOKEN="+tok))
}
