package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval spaces the checks for a renewed certificate: a
// handshake looks at the files' modification times at most this often, so
// a renewal (certbot, cert-manager) is live within seconds, without a
// restart and without a goroutine.
const certCheckInterval = 5 * time.Second

// certReloader serves a certificate and key from files, reloading them
// when either file changes. A renewal that does not load (a half-written
// file, a key that does not match) is logged and the previous certificate
// kept. Safe for concurrent use.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time // time.Now; tests move it

	mu      sync.Mutex // guards the following fields
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when cert was loaded
	checked time.Time
}

// fileStamp tells whether a file changed: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// newCertReloader loads the pair once; failing here stops start-up.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.loadLocked(); err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	r.checked = r.now()
	return r, nil
}

// loadLocked reads both files if they changed since the last load. r.mu
// must be held (or r not yet shared).
func (r *certReloader) loadLocked() error {
	var stamp [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		s, err := stampOf(f)
		if err != nil {
			return err
		}
		stamp[i] = s
	}
	if r.cert != nil && stamp == r.stamp {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= certCheckInterval {
		r.checked = now
		old := r.cert
		if err := r.loadLocked(); err != nil {
			r.log.Warn("TLS certificate reload failed; serving the previous one", "err", err)
		} else if r.cert != old {
			r.log.Info("TLS certificate reloaded")
		}
	}
	return r.cert, nil
}

// serverTLSConfig is TLS 1.2 and later with Go's default cipher suites and
// curves. Only HTTP/1.1 is offered: WebSockets here are upgraded HTTP/1.1
// requests, and a browser that negotiated h2 would try RFC 8441 WebSockets
// instead, which the upgrader does not speak.
func serverTLSConfig(r *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
