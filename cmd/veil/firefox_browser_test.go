package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// firefoxEnv finds Firefox (VEIL_FIREFOX, default Debian's
// /usr/bin/firefox-esr) and puppeteer-core, which drives it over WebDriver
// BiDi. Outside CI a missing piece skips the test; in CI it fails it.
func firefoxEnv(t *testing.T) (firefox, webDir string) {
	t.Helper()
	firefox = os.Getenv("VEIL_FIREFOX")
	if firefox == "" {
		firefox = "/usr/bin/firefox-esr"
	}
	webDir, err := filepath.Abs("../../e2e/web")
	require.NoError(t, err)
	_, errF := os.Stat(firefox)
	_, errN := os.Stat(filepath.Join(webDir, "node_modules", "puppeteer-core"))
	_, errNode := exec.LookPath("node")
	if errF != nil || errN != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Firefox test needs firefox-esr (%v), node (%v) and e2e/web/node_modules/puppeteer-core (%v); .ci/run installs them", errF, errNode, errN)
		}
		t.Skip("firefox-esr, node or e2e/web/node_modules/puppeteer-core missing; run .ci/run or npm ci in e2e/web")
	}
	return firefox, webDir
}

// TestFirefoxVictimSmuggledCandidates runs e2e/web/test/firefox-victim.mjs
// in Debian's firefox-esr against the whole veil (signaling + embedded TURN
// on loopback, relay forced), in the native protocol and the VDO.Ninja
// dialect. The victim ignores veil's relay hint (iceTransportPolicy 'all')
// and answers every offer; attackers in the same room offer with SDP lines a
// lenient parser reads as candidates or addresses (a=:candidate:...,
// a=\fcandidate:..., a=:rtcp:... and more: Firefox lists a=:candidate:...
// in getStats and sends it connectivity checks) and trickle candidates and
// side fields (sdpMid, usernameFragment, VDO's session...) that carry
// addresses, all in 127.66.0.0/16 where the script counts datagrams. The
// victim's getStats must list only relay remote candidates on veil's relay
// address, no frame it receives may carry a smuggled address, no datagram
// may reach one, each smuggled offer must be answered or refused (never
// lost), and a clean control call must connect relay to relay.
func TestFirefoxVictimSmuggledCandidates(t *testing.T) {
	firefox, webDir := firefoxEnv(t) // skip early, before starting veil
	a := startVeil(t, nil)
	t.Log(runScript(t, webDir, "firefox-victim.mjs", a.URL(),
		"VEIL_FIREFOX="+firefox,
		"VEIL_RELAY_IP="+relayIP.String(),
	))
}
