package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/veilrtc/veil/privacy"
)

// acmeOptions are the flags for automatic TLS certificates (ACME, e.g.
// Let's Encrypt).
type acmeOptions struct {
	domains    []string // --acme-domain; ACME is on when any is set
	email      string   // --acme-email; contact for the CA, optional
	directory  string   // --acme-directory; default Let's Encrypt production
	cacheDir   string   // --acme-cache-dir; "" keeps everything in memory
	caFile     string   // --acme-ca-file; roots trusted for the directory
	httpListen string   // --acme-http-listen; HTTP-01 and redirect to https

	caPool *x509.CertPool // from caFile
}

// addFlags registers the ACME flags on fs.
func (o *acmeOptions) addFlags(fs *flag.FlagSet) {
	fs.Var(listFlag{&o.domains}, "acme-domain", "get and renew a TLS certificate for this `domain` with ACME (Let's Encrypt by default) and serve HTTPS/WSS on --listen (repeatable)")
	fs.StringVar(&o.email, "acme-email", "", "contact `address` given to the ACME CA (optional; expiry and policy notices)")
	fs.StringVar(&o.directory, "acme-directory", acme.LetsEncryptURL, "ACME directory `URL` (e.g. a staging CA, or your own step-ca)")
	fs.StringVar(&o.cacheDir, "acme-cache-dir", "", "`directory` where the ACME account key and certificates survive restarts (default: memory only; the one place veil ever writes)")
	fs.StringVar(&o.caFile, "acme-ca-file", "", "PEM `file` of root certificates trusted for --acme-directory (default: the system roots)")
	fs.StringVar(&o.httpListen, "acme-http-listen", "", "`address` (e.g. :80) answering ACME HTTP-01 challenges and redirecting to https (default: TLS-ALPN-01 on --listen only)")
}

// enabled tells whether veil gets its certificate with ACME.
func (o *acmeOptions) enabled() bool { return len(o.domains) > 0 }

// finish checks the ACME flags; tlsCert tells whether --tls-cert is set.
func (o *acmeOptions) finish(tlsCert bool) error {
	if !o.enabled() {
		if o.cacheDir != "" || o.httpListen != "" || o.email != "" || o.caFile != "" {
			return errors.New("--acme-email, --acme-cache-dir, --acme-ca-file and --acme-http-listen need --acme-domain")
		}
		return nil
	}
	if tlsCert {
		return errors.New("--acme-domain and --tls-cert: give one (ACME gets the certificate itself)")
	}
	for i, d := range o.domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !strings.Contains(d, ".") || strings.ContainsAny(d, "/:* ") {
			return fmt.Errorf("--acme-domain: %q is not a fully qualified domain name", o.domains[i])
		}
		o.domains[i] = d
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return fmt.Errorf("--acme-ca-file: %w", err)
		}
		o.caPool = x509.NewCertPool()
		if !o.caPool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--acme-ca-file: no PEM certificate in %s", o.caFile)
		}
	}
	return nil
}

// acmeCerts gets and renews certificates with autocert. By default its
// account key and certificates live only in memory (autocert keeps them in
// the Manager when Cache is nil): a restart asks the CA again. Safe for
// concurrent use.
type acmeCerts struct {
	m   *autocert.Manager
	log *slog.Logger

	// done ends every ACME request once veil shuts down, so a renewal in
	// flight stops instead of outliving the server.
	done      chan struct{}
	closeOnce sync.Once

	httpSrv *http.Server // with --acme-http-listen
	httpLn  net.Listener

	mu       sync.Mutex           // guards the following fields
	served   map[string]time.Time // expiry of the certificate last served, per domain
	warnedAt time.Time            // last "no certificate" warning
}

// acmeWarnInterval spaces the warnings about a certificate that could not
// be obtained: every handshake retries, the log says it once a minute.
const acmeWarnInterval = time.Minute

// acmeHTTPTimeout bounds one request to the ACME CA.
const acmeHTTPTimeout = 30 * time.Second

// newACMECerts configures autocert for o and binds --acme-http-listen;
// serve starts that listener.
func newACMECerts(o acmeOptions, log *slog.Logger) (*acmeCerts, error) {
	c := &acmeCerts{log: log, done: make(chan struct{}), served: map[string]time.Time{}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// A request every few weeks needs no idle connection (nor the two
	// goroutines one holds).
	tr.DisableKeepAlives = true
	if o.caPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.caPool, MinVersion: tls.VersionTLS12}
	}
	c.m = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(o.domains...),
		Email:      o.email,
		Client: &acme.Client{
			DirectoryURL: o.directory,
			UserAgent:    "veil",
			HTTPClient: &http.Client{
				Transport: stopTransport{&orderLocator{next: tr}, c.done},
				Timeout:   acmeHTTPTimeout,
			},
		},
	}
	if o.cacheDir != "" {
		if err := os.MkdirAll(o.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("--acme-cache-dir: %w", err)
		}
		c.m.Cache = autocert.DirCache(o.cacheDir)
	}
	if o.httpListen != "" {
		ln, err := net.Listen("tcp", o.httpListen)
		if err != nil {
			return nil, fmt.Errorf("--acme-http-listen %s: %w", o.httpListen, err)
		}
		c.httpLn = ln
		// Challenges are answered; anything else is redirected to https.
		acmeHandler := c.m.HTTPHandler(nil)
		c.httpSrv = &http.Server{
			// Without the port: autocert's host policy compares bare
			// names, and the redirect goes to https's default port.
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if h, _, err := net.SplitHostPort(r.Host); err == nil {
					r.Host = h
				}
				acmeHandler.ServeHTTP(w, r)
			}),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          httpErrorLog(log),
		}
	}
	return c, nil
}

// tlsConfig is serverTLSConfig's policy (TLS 1.2+, HTTP/1.1 only) with
// certificates from ACME and the TLS-ALPN-01 challenge protocol.
func (c *acmeCerts) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.getCertificate,
		NextProtos:     []string{"http/1.1", acme.ALPNProto},
	}
}

// getCertificate is autocert's, and says once per certificate (first
// issue, each renewal) that it is ready, and at most once a minute that a
// configured domain has none. Names a client made up are not logged: they
// are the client's, not the operator's.
func (c *acmeCerts) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert, err := c.m.GetCertificate(hello)
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c.m.HostPolicy(context.Background(), name) != nil || (len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto) {
		return cert, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch now := time.Now(); {
	case err != nil:
		if now.Sub(c.warnedAt) >= acmeWarnInterval {
			c.warnedAt = now
			c.log.Warn("ACME: no certificate for a configured domain yet", "err", privacy.ScrubIPs(err.Error()))
		}
	case cert.Leaf != nil && !c.served[name].Equal(cert.Leaf.NotAfter):
		c.served[name] = cert.Leaf.NotAfter
		c.log.Info("ACME: certificate ready", "expires", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, err
}

// serve starts the --acme-http-listen server, if any; errors go to errc.
func (c *acmeCerts) serve(errc chan<- error) {
	if c.httpSrv == nil {
		return
	}
	go func() {
		if err := c.httpSrv.Serve(c.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
}

// shutdown stops the HTTP-01 listener and every later ACME request.
func (c *acmeCerts) shutdown(ctx context.Context) error {
	c.closeOnce.Do(func() { close(c.done) })
	if c.httpSrv != nil {
		return c.httpSrv.Shutdown(ctx)
	}
	return nil
}

func (c *acmeCerts) closeListeners() {
	if c.httpLn != nil {
		_ = c.httpLn.Close()
	}
}

// maxACMEJSON bounds an ACME JSON response read by orderLocator.
const maxACMEJSON = 1 << 20

// maxPendingOrders bounds the order URLs orderLocator remembers.
const maxPendingOrders = 64

// orderLocator supplies the Location header that x/crypto/acme needs on
// a finalize response while the order is still processing. RFC 8555 does
// not require it: Let's Encrypt sends it, but other CAs (Buypass) and
// pebble since v2.10 do not, and then acme.Client.CreateOrderCert polls ""
// and fails. The order's URL is known from the new-order response, which
// names the same finalize URL. Safe for concurrent use.
type orderLocator struct {
	next http.RoundTripper

	mu     sync.Mutex        // guards the following fields
	orders map[string]string // finalize URL -> order URL
}

// RoundTrip is http.RoundTripper's.
func (l *orderLocator) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxACMEJSON+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxACMEJSON {
		return nil, errors.New("veil: ACME response too large")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var order struct {
		Finalize string `json:"finalize"`
	}
	if json.Unmarshal(body, &order) != nil || order.Finalize == "" {
		return resp, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch loc := resp.Header.Get("Location"); {
	case loc != "":
		if l.orders == nil || len(l.orders) >= maxPendingOrders {
			l.orders = map[string]string{}
		}
		l.orders[order.Finalize] = loc
	case r.URL.String() == order.Finalize:
		if loc, ok := l.orders[order.Finalize]; ok {
			resp.Header.Set("Location", loc)
			delete(l.orders, order.Finalize)
		}
	}
	return resp, nil
}

var errACMEStopped = errors.New("veil: shutting down, no more ACME requests")

// stopTransport refuses requests once done is closed: autocert has no way
// to stop its renewal timers, but a renewal that cannot reach the CA ends.
type stopTransport struct {
	http.RoundTripper
	done <-chan struct{}
}

func (t stopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-t.done:
		return nil, errACMEStopped
	default:
		return t.RoundTripper.RoundTrip(r)
	}
}
