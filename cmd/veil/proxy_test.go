package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxyStartTimeout bounds how long a proxy may take to accept connections.
const proxyStartTimeout = 15 * time.Second

// needProgram finds a proxy binary: missing, the test skips, or fails in CI
// (.ci/run installs nginx-light and caddy).
func needProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing; .ci/run installs it", name)
		}
		t.Skipf("%s not installed (apt-get install nginx-light caddy)", name)
	}
	return p
}

// runDaemon starts a proxy in the foreground, its output in out, and stops
// it at cleanup: SIGTERM to its own PID, SIGKILL if it lingers.
func runDaemon(t *testing.T, env []string, name string, args ...string) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), env...)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return &out
}

// waitTLS waits until addr completes a TLS handshake trusting pool.
func waitTLS(t *testing.T, addr string, pool *x509.CertPool, out *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(proxyStartTimeout)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy on %s did not come up: %v\n%s", addr, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// substitute replaces each old string of a deploy/ snippet, failing when
// one is missing: the snippet and its test stay in step.
func substitute(t *testing.T, file string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", file))
	require.NoError(t, err)
	s := string(b)
	for i := 0; i < len(pairs); i += 2 {
		require.Contains(t, s, pairs[i], "deploy/%s changed; update its test", file)
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// proxyClient is a WebSocket client of veil through a TLS proxy.
type proxyClient struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	welcome map[string]any
}

func dialProxy(t *testing.T, addr string, pool *x509.CertPool, h http.Header) (*proxyClient, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial("wss://"+addr+"/ws", h)
	if err != nil {
		return nil, resp, err
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	c := &proxyClient{t: t, ws: ws}
	c.welcome = c.read("welcome")
	c.id, _ = c.welcome["id"].(string)
	return c, resp, nil
}

func (c *proxyClient) read(typ string) map[string]any {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m map[string]any
		require.NoError(c.t, c.ws.ReadJSON(&m))
		if m["type"] == typ {
			return m
		}
	}
}

func (c *proxyClient) send(m map[string]any) { require.NoError(c.t, c.ws.WriteJSON(m)) }

// joinAndSignal: two clients join a room through the proxy and one's
// signal reaches the other; the TURN URLs point at veil, not the proxy.
func joinAndSignal(t *testing.T, a *app, proxyAddr string, pool *x509.CertPool, ha, hb http.Header) {
	t.Helper()
	alice, _, err := dialProxy(t, proxyAddr, pool, ha)
	require.NoError(t, err)
	bob, _, err := dialProxy(t, proxyAddr, pool, hb)
	require.NoError(t, err)
	alice.send(map[string]any{"type": "join", "room": "proxy-room"})
	alice.read("joined")
	bob.send(map[string]any{"type": "join", "room": "proxy-room"})
	bob.read("joined")
	alice.read("peer-joined")
	bob.send(map[string]any{"type": "signal", "to": alice.id, "data": map[string]any{"candidate": nil}})
	sig := alice.read("signal")
	assert.Equal(t, bob.id, sig["from"])

	// TURN is not proxied: the URLs name veil's own TURN port.
	_, proxyPort, _ := net.SplitHostPort(proxyAddr)
	servers, _ := alice.welcome["iceServers"].([]any)
	require.Len(t, servers, 1)
	urls, _ := servers[0].(map[string]any)["urls"].([]any)
	require.NotEmpty(t, urls)
	for _, u := range urls {
		assert.Contains(t, u, ":"+strconv.Itoa(a.udpPort)+"?")
		assert.NotContains(t, u, ":"+proxyPort+"?")
	}
}

// TestNginxProxy runs Debian's nginx on loopback with deploy/nginx.conf in
// front of veil (--trusted-proxy 127.0.0.1): clients join and signal over
// wss:// through it, and veil sees the forwarded client addresses.
func TestNginxProxy(t *testing.T) {
	nginx := needProgram(t, "nginx")
	a := startVeil(t, func(o *options) {
		o.security.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		o.security.maxConnsPerIP = 1
	})
	dir := t.TempDir()
	pool := writeCert(t, dir, "nginx-test")
	port := strconv.Itoa(closedPort(t))
	site := substitute(t, "nginx.conf",
		"listen 443 ssl;", "listen 127.0.0.1:"+port+" ssl;",
		"listen [::]:443 ssl;", "",
		"/etc/letsencrypt/live/veil.example/fullchain.pem", filepath.Join(dir, "cert.pem"),
		"/etc/letsencrypt/live/veil.example/privkey.pem", filepath.Join(dir, "key.pem"),
		"127.0.0.1:8080", a.httpLn.Addr().String(),
	)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "veil.conf"), []byte(site), 0o600))
	main := `daemon off;
master_process off;
pid ` + dir + `/nginx.pid;
error_log ` + dir + `/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path ` + dir + `/body;
	proxy_temp_path ` + dir + `/proxy;
	fastcgi_temp_path ` + dir + `/fastcgi;
	uwsgi_temp_path ` + dir + `/uwsgi;
	scgi_temp_path ` + dir + `/scgi;
	include ` + dir + `/veil.conf;
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600))
	out := runDaemon(t, nil, nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"))
	addr := "127.0.0.1:" + port
	waitTLS(t, addr, pool, out)

	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	joinAndSignal(t, a, addr, pool, xff("198.51.100.1"), xff("198.51.100.2"))

	// --trusted-proxy: veil counts connections per forwarded client
	// address (documentation addresses, in a header only), so with one
	// connection per address two "clients" fit and a third from the first
	// address does not.
	_, _, err := dialProxy(t, addr, pool, xff("198.51.100.7"))
	require.NoError(t, err)
	_, _, err = dialProxy(t, addr, pool, xff("198.51.100.8"))
	require.NoError(t, err, "another forwarded address is another client")
	_, resp, err := dialProxy(t, addr, pool, xff("198.51.100.7"))
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

// TestCaddyProxy runs Debian's caddy on loopback with deploy/Caddyfile in
// front of veil: clients join and signal over wss:// through it.
func TestCaddyProxy(t *testing.T) {
	caddy := needProgram(t, "caddy")
	a := startVeil(t, func(o *options) {
		o.security.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	dir := t.TempDir()
	pool := writeCert(t, dir, "caddy-test")
	port := strconv.Itoa(closedPort(t))
	site := substitute(t, "Caddyfile",
		"veil.example {", "https://127.0.0.1:"+port+" {\n\ttls "+filepath.Join(dir, "cert.pem")+" "+filepath.Join(dir, "key.pem"),
		"127.0.0.1:8080", a.httpLn.Addr().String(),
	)
	// No admin endpoint, no certificate management, no redirect listener
	// on :80, state in the temporary directory.
	global := "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + filepath.Join(dir, "data") + "\n}\n"
	conf := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(conf, []byte(global+site), 0o600))
	out := runDaemon(t, []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir},
		caddy, "run", "--config", conf, "--adapter", "caddyfile")
	addr := "127.0.0.1:" + port
	waitTLS(t, addr, pool, out)

	joinAndSignal(t, a, addr, pool, nil, nil)
}
