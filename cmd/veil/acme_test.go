package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acmeTestDomain is the name veil gets a certificate for in these tests;
// the test's own DNS server resolves it to 127.0.0.1 for pebble only.
const acmeTestDomain = "veil.test"

// pebble is Let's Encrypt's ACME test server, run in this process on
// loopback: its web front end over TLS, its CA, and its validation
// authority, which validates for real (no PEBBLE_VA_ALWAYS_VALID) by
// connecting to veil's listeners.
type pebble struct {
	dirURL string         // ACME directory
	caFile string         // PEM trusting pebble's front end (--acme-ca-file)
	roots  *x509.CertPool // pebble's issuing root, for veil's clients
	srv    *httptest.Server
	ca     *ca.CAImpl
}

// newPebble binds pebble's front end; start finishes it once veil's ports
// are known (the validation authority dials them).
func newPebble(t *testing.T) *pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // validate at once
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no random badNonce
	p := &pebble{srv: httptest.NewUnstartedServer(nil)}
	p.dirURL = "https://" + p.srv.Listener.Addr().String() + wfe.DirectoryPath
	// The front end's certificate, for 127.0.0.1, is what veil trusts
	// through --acme-ca-file.
	dir := t.TempDir()
	writeCert(t, dir, "pebble-wfe")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	p.caFile = filepath.Join(dir, "cert.pem")
	return p
}

// start runs pebble issuing certificates valid for validity, validating
// TLS-ALPN-01 on tlsPort and HTTP-01 on httpPort of 127.0.0.1.
func (p *pebble) start(t *testing.T, tlsPort, httpPort int, validity time.Duration) {
	t.Helper()
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Ltime)
	}
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)},
	})
	vaImpl := va.New(logger, httpPort, tlsPort, false, startTestDNS(t), store)
	w := wfe.New(logger, store, vaImpl, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p.srv.Config.Handler = w.Handler()
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	root, err := x509.ParseCertificate(p.ca.GetRootCert(0).DER)
	require.NoError(t, err)
	p.roots = x509.NewCertPool()
	p.roots.AddCert(root)
}

// startTestDNS answers pebble's queries (over TCP, as its VA asks) with
// 127.0.0.1 for every A question and nothing for AAAA: the validation
// connects to veil on loopback.
func startTestDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		wg.Wait()
	})
	return ln.Addr().String()
}

// startACMEVeil runs veil with --acme-domain against p, mutate adjusting
// the options, and starts pebble validating on veil's ports.
func startACMEVeil(t *testing.T, p *pebble, validity time.Duration, mutate func(*options)) *app {
	t.Helper()
	a := startVeil(t, func(o *options) {
		o.turnEnabled = false
		o.acme.domains = []string{acmeTestDomain}
		o.acme.directory = p.dirURL
		o.acme.caFile = p.caFile
		if mutate != nil {
			mutate(o)
		}
		require.NoError(t, o.acme.finish(false))
	})
	httpPort := 0
	if a.acme.httpLn != nil {
		httpPort = a.acme.httpLn.Addr().(*net.TCPAddr).Port
	}
	tlsPort := a.port()
	if httpPort != 0 {
		tlsPort = closedPort(t) // TLS-ALPN-01 fails: autocert falls back to HTTP-01
	}
	p.start(t, tlsPort, httpPort, validity)
	return a
}

// closedPort is a loopback TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// servedCert does a TLS handshake with veil for acmeTestDomain, trusting
// only pebble's root, and returns the leaf veil served.
func servedCert(t *testing.T, a *app, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", a.httpLn.Addr().String(),
		&tls.Config{ServerName: acmeTestDomain, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	return c.ConnectionState().PeerCertificates[0]
}

// joinOverWSS opens wss:// to veil as acmeTestDomain and reads welcome.
func joinOverWSS(t *testing.T, a *app, roots *x509.CertPool) {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{ServerName: acmeTestDomain, RootCAs: roots},
		HandshakeTimeout: time.Minute,
	}
	ws, resp, err := d.Dial("wss://"+a.httpLn.Addr().String()+"/ws", http.Header{"Host": {acmeTestDomain}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = ws.Close() }()
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join", "room": "acme-room"}))
	var got struct{ Type string }
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got.Type != "joined" {
		require.NoError(t, ws.ReadJSON(&got))
	}
}

// TestACMETLSALPN: veil gets its certificate from pebble through the
// TLS-ALPN-01 challenge on its own TLS listener, serves it, a WebSocket
// client joins over wss:// trusting only pebble's CA, and the certificate
// is renewed before it expires. Nothing is written to disk.
func TestACMETLSALPN(t *testing.T) {
	p := newPebble(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	// 15 s certificates: autocert renews at two thirds of the lifetime, so
	// the renewal is due after 10 s and leaves 5 s to spare.
	a := startACMEVeil(t, p, 15*time.Second, nil)
	assert.Equal(t, "https", a.scheme)
	assert.Nil(t, a.acme.m.Cache, "the ACME state stays in memory by default")

	first := servedCert(t, a, p.roots)
	assert.Equal(t, []string{acmeTestDomain}, first.DNSNames)
	joinOverWSS(t, a, p.roots)

	var renewed *x509.Certificate
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if c := servedCert(t, a, p.roots); c.SerialNumber.Cmp(first.SerialNumber) != 0 {
			renewed = c
			break
		}
	}
	require.NotNil(t, renewed, "the certificate is renewed before it expires")
	assert.True(t, renewed.NotAfter.After(first.NotAfter))

	entries, err := os.ReadDir(cwd)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written at run time")
}

// TestACMEHTTP01: with --acme-http-listen, a CA that cannot reach the TLS
// listener validates over HTTP-01 instead; the HTTP listener sends
// everything else to https. With --acme-cache-dir the certificate is kept
// there, and only there.
func TestACMEHTTP01(t *testing.T) {
	p := newPebble(t)
	cache := filepath.Join(t.TempDir(), "acme")
	a := startACMEVeil(t, p, time.Hour, func(o *options) {
		o.acme.httpListen = "127.0.0.1:0"
		o.acme.cacheDir = cache
	})
	leaf := servedCert(t, a, p.roots)
	assert.Equal(t, []string{acmeTestDomain}, leaf.DNSNames)
	joinOverWSS(t, a, p.roots)

	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	assert.NotEmpty(t, entries, "account key and certificate are cached in --acme-cache-dir")
	info, err := os.Stat(cache)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", "http://"+a.acme.httpLn.Addr().String()+"/room?x=1", nil)
	require.NoError(t, err)
	req.Host = acmeTestDomain
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "https://"+acmeTestDomain+"/room?x=1", resp.Header.Get("Location"))
}

// TestACMEOptions: the flags' rules.
func TestACMEOptions(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("nope"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{name: "domain", args: []string{"--acme-domain=Veil.Example."}},
		{name: "two domains", args: []string{"--acme-domain=a.example,b.example", "--acme-cache-dir=" + dir}},
		{name: "single label", args: []string{"--acme-domain=localhost"}, err: "fully qualified"},
		{name: "port", args: []string{"--acme-domain=veil.example:443"}, err: "fully qualified"},
		{name: "with tls-cert", args: []string{"--acme-domain=veil.example", "--tls-cert=c", "--tls-key=k"}, err: "give one"},
		{name: "cache without domain", args: []string{"--acme-cache-dir=" + dir}, err: "need --acme-domain"},
		{name: "bad ca file", args: []string{"--acme-domain=veil.example", "--acme-ca-file=" + notPEM}, err: "no PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, func(string) string { return "" })
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			if tc.name == "domain" {
				assert.Equal(t, []string{"veil.example"}, o.acme.domains)
				assert.Equal(t, "https://acme-v02.api.letsencrypt.org/directory", o.acme.directory)
				assert.Empty(t, o.acme.cacheDir, "no cache directory unless asked")
			}
		})
	}
}
