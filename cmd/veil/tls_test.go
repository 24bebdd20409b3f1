package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named cn to
// dir/cert.pem and dir/key.pem and returns a pool trusting it.
func writeCert(t *testing.T, dir, cn string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func leafCN(t *testing.T, c *tls.Certificate) string {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	return leaf.Subject.CommonName
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "first")
	var logs bytes.Buffer
	r, err := newCertReloader(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	now := time.Now()
	r.now = func() time.Time { return now }
	get := func() string {
		c, err := r.GetCertificate(nil)
		require.NoError(t, err)
		return leafCN(t, c)
	}
	assert.Equal(t, "first", get())

	// Renewed on disk: seen after the check interval, not before.
	writeCert(t, dir, "second")
	future := time.Now().Add(time.Minute)
	for _, f := range []string{"cert.pem", "key.pem"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, f), future, future))
	}
	assert.Equal(t, "first", get())
	now = now.Add(certCheckInterval)
	assert.Equal(t, "second", get())
	assert.Contains(t, logs.String(), "TLS certificate reloaded")

	// A broken renewal keeps the working certificate.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("half written"), 0o600))
	now = now.Add(certCheckInterval)
	assert.Equal(t, "second", get())
	assert.Contains(t, logs.String(), "reload failed")

	_, err = newCertReloader(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), slog.Default())
	require.Error(t, err, "a broken pair at start-up stops veil")
}

func TestTLSServing(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, "veil-test")
	a := startVeil(t, func(o *options) {
		o.turnEnabled = false
		o.security.tlsCert = filepath.Join(dir, "cert.pem")
		o.security.tlsKey = filepath.Join(dir, "key.pem")
	})
	require.True(t, strings.HasPrefix(a.URL(), "https://"))

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(a.URL() + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	assert.Equal(t, 1, resp.ProtoMajor, "HTTP/1.1 only, so browsers upgrade WebSockets the classic way")
	assert.Equal(t, hstsMaxAge, resp.Header.Get("Strict-Transport-Security"), "HTTPS pins itself")

	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	ws, _, err := d.Dial("wss://"+a.httpLn.Addr().String()+"/ws", nil)
	require.NoError(t, err)
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"welcome"`)
	_ = ws.Close()

	// TLS 1.1 and older are refused.
	old, err := tls.Dial("tcp", a.httpLn.Addr().String(), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		_ = old.Close()
	}
	require.Error(t, err)
}

func TestMetricsListen(t *testing.T) {
	a := startVeil(t, func(o *options) {
		o.turnEnabled = false
		o.security.metricsListen = "127.0.0.1:0"
	})
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, _ := get(a.URL() + "/metrics")
	assert.Equal(t, http.StatusNotFound, code, "metrics are not on the public listener")
	resp, err := http.Get(a.URL() + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Strict-Transport-Security"), "no HSTS over plain HTTP")
	code, body := get("http://" + a.metricsLn.Addr().String() + "/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "veil_rooms")

	plain := startVeil(t, func(o *options) { o.turnEnabled = false })
	code, body = get(plain.URL() + "/metrics")
	assert.Equal(t, http.StatusOK, code, "without --metrics-listen they stay on the main listener")
	assert.Contains(t, body, "veil_streams")
}

func TestSlowHeadersAreCutByVeil(t *testing.T) {
	a := startVeil(t, func(o *options) { o.turnEnabled = false })
	assert.Equal(t, readHeaderTimeout, a.httpSrv.ReadHeaderTimeout)
	assert.Equal(t, idleTimeout, a.httpSrv.IdleTimeout)
	assert.Equal(t, maxHeaderBytes, a.httpSrv.MaxHeaderBytes)

	c, err := net.Dial("tcp", a.httpLn.Addr().String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: veil\r\n")
	require.NoError(t, err)
	start := time.Now()
	limit := readHeaderTimeout + 3*time.Second
	cut := false
	for !cut && time.Since(start) < limit { // bounded in time
		time.Sleep(200 * time.Millisecond)
		if _, err := c.Write([]byte("X")); err != nil {
			cut = true
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, rerr := c.Read(make([]byte, 512))
		var ne net.Error
		cut = rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout())
	}
	require.True(t, cut, "a client dribbling headers must be cut")
	assert.GreaterOrEqual(t, time.Since(start), readHeaderTimeout-time.Second)
}

func TestSecurityOptions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(good, []byte(strings.Repeat("k", 40)+"\n"), 0o600))
	loose := filepath.Join(dir, "loose")
	require.NoError(t, os.WriteFile(loose, []byte(strings.Repeat("k", 40)), 0o600))
	require.NoError(t, os.Chmod(loose, 0o644))
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("tiny"), 0o600))
	noEnv := func(string) string { return "" }

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		err  string
	}{
		{name: "cert without key", args: []string{"--tls-cert=c.pem"}, err: "go together"},
		{name: "world-readable secret file", args: []string{"--auth-secret-file=" + loose}, err: "chmod 600"},
		{name: "missing secret file", args: []string{"--auth-secret-file=" + filepath.Join(dir, "nope")}, err: "no such file"},
		{name: "short secret", args: []string{"--auth-secret-file=" + short}, err: "at least 32 bytes"},
		{name: "short secret text", args: []string{"--auth-secret=tiny"}, err: "at least 32 bytes"},
		{name: "both secrets", args: []string{"--auth-secret=" + strings.Repeat("k", 40), "--auth-secret-file=" + good}, err: "give one"},
		{name: "bad proxy", args: []string{"--trusted-proxy=not-a-cidr"}, err: "--trusted-proxy"},
		{name: "negative unguessable", args: []string{"--require-unguessable=-1"}, err: "negative"},
		{name: "secret file", args: []string{"--auth-secret-file=" + good}},
		{name: "secret from env", env: map[string]string{"VEIL_AUTH_SECRET": strings.Repeat("e", 32)}},
		{name: "limits", args: []string{"--trusted-proxy=10.0.0.0/8,::1", "--max-connections=5", "--message-rate=-1", "--require-unguessable=20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := noEnv
			if tc.env != nil {
				getenv = func(k string) string { return tc.env[k] }
			}
			o, err := parseOptions(tc.args, getenv)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			switch tc.name {
			case "secret file":
				assert.Equal(t, []byte(strings.Repeat("k", 40)), o.security.authSecret, "the trailing newline is not part of the secret")
			case "secret from env":
				assert.Len(t, o.security.authSecret, 32)
			case "limits":
				var cfg signaling.Config
				o.security.apply(&cfg)
				assert.Equal(t, 5, cfg.MaxConnections)
				assert.Equal(t, -1, cfg.MessageRate)
				assert.Equal(t, signaling.DefaultActionRate, cfg.ActionRate)
				assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}, cfg.TrustedProxies)
				assert.Equal(t, 20, cfg.RequireUnguessable)
			}
		})
	}
}
