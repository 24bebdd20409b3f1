package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/auth"
)

// TestPeerJSBrowser runs the real `peerjs` 1.5.5 client in Debian's
// Chromium against the whole veil (signaling + embedded TURN on loopback,
// relay forced): e2e/web/test/peerjs.mjs holds the assertions (data
// both ways, fake-camera video both ways, unavailable-id, peer-unavailable,
// relay-only remote candidates with raddr 0.0.0.0, no third-party requests).
func TestPeerJSBrowser(t *testing.T) {
	browserEnv(t) // skip early, before starting veil, when there is no browser
	a := startVeil(t, nil)
	t.Log(runNode(t, "peerjs.mjs", a.URL(), "VEIL_RELAY_IP="+relayIP.String()))
}

// TestPeerJSBrowserWithTokens runs the real `peerjs` client against a veil
// with an operator secret: e2e/web/test/peerjs-auth.mjs checks that
// TURN credentials need a token, that the client's `token` option carries
// it and must grant join on the id, and that token holders connect.
func TestPeerJSBrowserWithTokens(t *testing.T) {
	browserEnv(t)
	secret := []byte("0123456789abcdef0123456789abcdef-browser")
	a := startVeil(t, func(o *options) { o.security.authSecret = secret })
	mint := func(id string) string {
		tok, err := auth.Mint(secret, auth.Grant{Room: id, Actions: []auth.Action{auth.ActionJoin}}, time.Hour, time.Now())
		require.NoError(t, err)
		return tok
	}
	idA, idB := "alice-Kq3vN8zz", "bob-Zt5pW2yy"
	t.Log(runNode(t, "peerjs-auth.mjs", a.URL(),
		"VEIL_ID_A="+idA, "VEIL_TOKEN_A="+mint(idA), "VEIL_ID_B="+idB, "VEIL_TOKEN_B="+mint(idB)))
}
