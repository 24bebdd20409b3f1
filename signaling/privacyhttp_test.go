package signaling

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
)

func TestPrivacyEndpoint(t *testing.T) {
	p := privacy.DefaultPolicy()
	p.Sealed = privacy.SealedAllow
	_, ts := newTestServer(t, Config{Policy: p})

	resp, err := http.Get(ts.URL + "/privacy")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var got map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.Equal(t, map[string]any{
		"relay": "force", "sysinfo": "strip", "sealed": "allow", "retention": "none", "logs": "redacted",
		"retained":  map[string]any{"data": []any{}, "for": "nothing"},
		"vdo_ninja": privacy.VDONinjaText(p),
	}, got)

	// The same policy a client gets in welcome.
	c := dial(t, ts, "")
	for k, v := range c.Welcome["policy"].(map[string]any) {
		assert.Equal(t, v, got[k], k)
	}

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/privacy", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	body, err := io.ReadAll(resp2.Body)
	require.NoError(t, err)
	assert.Contains(t, resp2.Header.Get("Content-Type"), "text/html")
	html := string(body)
	assert.Contains(t, html, "<html")
	assert.NotContains(t, html, "http://", "the notice loads nothing from elsewhere")
	assert.NotContains(t, html, "https://")
	// sealed=allow must be disclosed, not hidden.
	assert.Contains(t, html, "cannot")
	// What the VDO.Ninja app can rely on: the same words as the JSON.
	assert.Contains(t, html, "VDO.Ninja app")
	assert.Contains(t, html, "renegotiates its connections")

	// Without the VDO.Ninja dialects, neither says anything about them.
	_, ts2 := newTestServer(t, Config{VDO: VDOConfig{Disabled: true}})
	resp3, err := http.Get(ts2.URL + "/privacy")
	require.NoError(t, err)
	defer resp3.Body.Close()
	got = nil
	require.NoError(t, json.NewDecoder(resp3.Body).Decode(&got))
	assert.NotContains(t, got, "vdo_ninja")
}

// TestHTMLPagesHeaders: the HTML pages (demo at / and the notice at
// /privacy) refuse MIME sniffing and framing by other sites.
func TestHTMLPagesHeaders(t *testing.T) {
	_, ts := newTestServer(t, Config{Demo: true})
	for _, path := range []string{"/", "/privacy"} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/html")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		})
	}
}

// TestEveryResponseNosniff: JSON and text endpoints, errors included, are
// never to be sniffed into HTML by a browser.
func TestEveryResponseNosniff(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	for _, path := range []string{"/healthz", "/privacy", "/peerjs/", "/peerjs/peerjs/id", "/turn-credentials", "/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(ts.URL + path)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "status %d", resp.StatusCode)
		})
	}
}
