package main

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxScreenshotBytes keeps docs/demo.png small enough for the README.
const maxScreenshotBytes = 500 << 10

// screenshotPath is the committed screenshot of the demo mid-call.
// VEIL_UPDATE_SCREENSHOT=1 go test -run TestDemoBrowser ./cmd/veil rewrites
// it; otherwise the test leaves the tree alone (CI must not modify it).
const screenshotPath = "../../docs/demo.png"

// TestDemoBrowser drives the demo page in Debian's Chromium against the
// whole veil (signaling + embedded TURN on loopback, relay forced):
// e2e/web/test/demo.mjs holds the assertions (chat and video between
// two pages, publish/play with a pending play, relay-only candidates with
// raddr 0.0.0.0, no third-party requests, phone-size layout, screenshot).
func TestDemoBrowser(t *testing.T) {
	browserEnv(t) // skip early, before starting veil, when there is no browser
	a := startVeil(t, nil)
	// VEIL_TEST_ARTIFACTS keeps the screenshots (demo.png, demo-phone.png)
	// for a look or a CI upload; by default they go with the test.
	artifacts := os.Getenv("VEIL_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	// runNode sets its own VEIL_ARTIFACTS first; a later duplicate wins
	// (os/exec keeps the last value of a key), so the screenshot lands here.
	out := runNode(t, "demo.mjs", a.URL(),
		"VEIL_RELAY_IP="+relayIP.String(),
		"VEIL_ARTIFACTS="+artifacts,
	)
	t.Log(out)

	shot, err := os.ReadFile(filepath.Join(artifacts, "demo.png"))
	require.NoError(t, err, "demo.mjs wrote no screenshot")
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	require.NoError(t, err, "screenshot is not a PNG")
	assert.Equal(t, 1280, cfg.Width)
	assert.Equal(t, 800, cfg.Height)
	assert.Less(t, len(shot), maxScreenshotBytes, "screenshot too large for docs/")
	if os.Getenv("VEIL_UPDATE_SCREENSHOT") == "1" {
		require.NoError(t, os.WriteFile(screenshotPath, shot, 0o644))
		t.Logf("wrote %s (%d bytes)", screenshotPath, len(shot))
	}
}

// TestDemoDisabled: --demo=false removes the page but keeps /veil.js, which
// other pages load from veil.
func TestDemoDisabled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		demo     bool
		wantPage int
	}{
		{name: "default", demo: true, wantPage: http.StatusOK},
		{name: "demo=false", demo: false, wantPage: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startVeil(t, func(o *options) { o.demo = tc.demo })
			get := func(path string) (*http.Response, string) {
				t.Helper()
				resp, err := http.Get(a.URL() + path)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp, string(body)
			}
			page, body := get("/")
			assert.Equal(t, tc.wantPage, page.StatusCode)
			if tc.wantPage == http.StatusOK {
				assert.Contains(t, body, `src="demo.js"`)
				assert.Contains(t, page.Header.Get("Content-Security-Policy"), "script-src 'self';")
			}
			js, body := get("/veil.js")
			assert.Equal(t, http.StatusOK, js.StatusCode)
			assert.True(t, strings.Contains(body, "export class VeilClient"), "/veil.js is not the client")
			http.DefaultClient.CloseIdleConnections()
		})
	}
}
