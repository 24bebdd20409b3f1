package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/cluster"
	"github.com/veilrtc/veil/turn"
)

// HTTP server limits: a slow client cannot hold a connection open by
// dribbling headers (slowloris), and headers are capped.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
)

// app is a running veil: the signaling server on its HTTP listener and,
// unless external TURN is configured, the embedded TURN server.
type app struct {
	log  *slog.Logger
	sig  *signaling.Server
	turn *turn.Server  // nil with external TURN or --turn=false
	node *cluster.Node // with --cluster (cluster.go)

	httpSrv *http.Server
	httpLn  net.Listener
	scheme  string // http, or https with --tls-cert

	acme *acmeCerts // with --acme-domain (acme.go)

	metricsSrv *http.Server // with --metrics-listen
	metricsLn  net.Listener

	turnHost string // host put in TURN URLs; "" = the host the client used
	udpPort  int
	tlsPort  int // TURN over TLS, with --turn-cert

	errc chan error
}

// newApp binds every socket and builds the servers; serve starts them.
func newApp(o options, log *slog.Logger) (_ *app, err error) {
	a := &app{log: log, errc: make(chan error, 4)}
	defer func() {
		if err != nil {
			a.closeListeners()
		}
	}()
	a.httpLn, err = net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.listen, err)
	}
	a.scheme = "http"
	var tlsCfg *tls.Config // applied over the connection caps, below
	if o.security.tlsCert != "" {
		certs, err := newCertReloader(o.security.tlsCert, o.security.tlsKey, log)
		if err != nil {
			return nil, err
		}
		tlsCfg = serverTLSConfig(certs)
		a.scheme = "https"
	}
	if o.acme.enabled() {
		if a.acme, err = newACMECerts(o.acme, log); err != nil {
			return nil, err
		}
		a.httpLn = tls.NewListener(a.httpLn, a.acme.tlsConfig())
		a.scheme = "https"
	}

	sigCfg := signaling.Config{
		Policy:          o.policy,
		AllowedOrigins:  o.allowedOrigins,
		MaxMessageBytes: o.maxMessageBytes,
		MaxRoomPeers:    o.maxRoomPeers,
		MaxPeerRooms:    o.maxPeerRooms,
		Demo:            o.demo,
		PeerJS:          o.peerjs,
		VDO:             o.vdo,
		Notice:          noticeInfo(o),
		Logger:          log,
	}
	o.security.apply(&sigCfg)
	o.resume.apply(&sigCfg, o.cluster.enabled())
	o.turnLimits.applySignaling(&sigCfg)
	switch {
	case len(o.turnURLs) > 0:
		// External TURN: veil knows neither its relay addresses (every
		// relay candidate passes) nor anything but the shared secret.
		urls, secret, ttl := o.turnURLs, o.turnSecret, o.turnTTL
		sigCfg.ICEServers = func(_ *http.Request, peerID string) []signaling.ICEServer {
			c := turn.NewCredentials(secret, peerID, ttl, time.Now())
			return []signaling.ICEServer{{URLs: urls, Username: c.Username, Credential: c.Password}}
		}
	case o.turnEnabled:
		if err := a.startTURN(o); err != nil {
			return nil, err
		}
		// The same one step an embedder takes (examples/embed): URLs and
		// credentials per peer, only its relay address trusted, and a
		// peer's relays ended with its signaling session.
		sigCfg.TURN, sigCfg.TURNHost = a.turn, a.turnHost
	}
	if o.cluster.enabled() {
		if a.node, err = o.cluster.newNode(a.relayIP(), log); err != nil {
			return nil, err
		}
		sigCfg.Cluster = a.node
		if a.turn != nil {
			// Own relays exactly (live allocations), other nodes' by
			// their announced relay address: a peer may hold
			// credentials from another node's TURN.
			own, node := a.turn, a.node
			sigCfg.TrustedRelays = func(ap netip.AddrPort) bool { return own.IsRelayAddr(ap) || node.IsRelayAddr(ap) }
		}
	}
	a.sig, err = signaling.New(sigCfg)
	if err != nil {
		return nil, err
	}
	if a.node != nil {
		if err := a.sig.MetricsRegistry().Register(a.node); err != nil {
			return nil, fmt.Errorf("cluster metrics: %w", err)
		}
	}
	// Every TCP connection counts against the caps, plain requests too;
	// refused ones are closed before any TLS handshake.
	a.httpLn = a.sig.LimitListener(a.httpLn)
	if tlsCfg != nil {
		a.httpLn = tls.NewListener(a.httpLn, tlsCfg)
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.sig.Handler())
	if o.security.metricsListen == "" {
		mux.Handle("GET /metrics", a.sig.MetricsHandler())
	} else {
		// Metrics only on their own (typically loopback) address.
		if a.metricsLn, err = net.Listen("tcp", o.security.metricsListen); err != nil {
			return nil, fmt.Errorf("--metrics-listen %s: %w", o.security.metricsListen, err)
		}
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", a.sig.MetricsHandler())
		a.metricsSrv = &http.Server{
			Handler:           mm,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          httpErrorLog(log),
		}
	}
	var handler http.Handler = mux
	if a.scheme == "https" {
		handler = withHSTS(mux)
	}
	a.httpSrv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          httpErrorLog(log),
	}
	// http.Server.Shutdown ignores hijacked WebSocket connections; the
	// signaling server closes them itself (1001).
	a.httpSrv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = a.sig.Shutdown(ctx)
	})
	return a, nil
}

// httpErrorLog turns net/http's error lines ("http: TLS handshake error
// from 198.51.100.7:52100: ...") into debug logs scrubbed with
// privacy.ScrubLog (addresses, ports, identifiers): even at debug level
// veil does not log who connected.
func httpErrorLog(l *slog.Logger) *stdlog.Logger {
	return stdlog.New(scrubWriter{l}, "", 0)
}

type scrubWriter struct{ log *slog.Logger }

func (w scrubWriter) Write(p []byte) (int, error) {
	w.log.Debug(privacy.ScrubLog(strings.TrimSpace(string(p))))
	return len(p), nil
}

// startTURN binds the embedded TURN server's sockets and starts it.
func (a *app) startTURN(o options) error {
	listen := o.turnListen
	if listen == "" {
		host, _, err := net.SplitHostPort(o.listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		listen = net.JoinHostPort(host, strconv.Itoa(defaultTURNPort))
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--turn-listen: %w", err)
	}
	listenIP, _ := netip.ParseAddr(host)

	relayIP := o.turnPublicIP
	if !relayIP.IsValid() {
		relayIP, err = defaultRelayIP(listenIP)
		if err != nil {
			return err
		}
	}
	a.turnHost = o.turnHost
	if a.turnHost == "" && listenIP.IsValid() && !listenIP.IsUnspecified() {
		a.turnHost = listenIP.String()
	}

	pc, tcpLn, err := turn.ListenUDPAndTCP(listen)
	if err != nil {
		return err
	}
	a.udpPort = pc.LocalAddr().(*net.UDPAddr).Port
	listeners := []net.Listener{tcpLn}
	if o.turnCert != "" {
		tlsAddr := o.turnTLS
		if tlsAddr == "" {
			tlsAddr = net.JoinHostPort(host, strconv.Itoa(defaultTURNSPort))
		}
		cert, err := tls.LoadX509KeyPair(o.turnCert, o.turnKey)
		if err != nil {
			_ = pc.Close()
			_ = tcpLn.Close()
			return fmt.Errorf("--turn-cert/--turn-key: %w", err)
		}
		ln, err := net.Listen("tcp", tlsAddr)
		if err != nil {
			_ = pc.Close()
			_ = tcpLn.Close()
			return fmt.Errorf("turn tls %s: %w", tlsAddr, err)
		}
		a.tlsPort = ln.Addr().(*net.TCPAddr).Port
		listeners = append(listeners, tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		}))
	}
	cfg := turn.Config{
		PacketConns:           []net.PacketConn{pc},
		Listeners:             listeners,
		Secret:                o.turnSecret,
		CredentialTTL:         o.turnTTL,
		RelayIP:               relayIP,
		AllowPeers:            o.turnAllow,
		SharedRelayPortMin:    o.turnSharedMin,
		SharedRelayPortMax:    o.turnSharedMax,
		DenyPeers:             o.turnDeny,
		MaxAllocationsPerUser: o.turnMaxUser,
		MaxAllocations:        o.turnMaxAll,
		RelayPortMin:          o.turnPortMin,
		RelayPortMax:          o.turnPortMax,
		Logger:                a.log,
	}
	o.turnLimits.applyTURN(&cfg)
	a.turn, err = turn.New(cfg)
	if err != nil {
		_ = pc.Close()
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	return nil
}

// defaultRelayIP picks the relay address when --turn-public-ip is unset:
// the TURN listen IP when it is specific, else this host's first global
// unicast interface address, else loopback.
func defaultRelayIP(listenIP netip.Addr) (netip.Addr, error) {
	if listenIP.IsValid() && !listenIP.IsUnspecified() {
		return listenIP.Unmap(), nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find a relay address (set --turn-public-ip): %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			ip := p.Addr().Unmap()
			if ip.Is4() && ip.IsGlobalUnicast() && !ip.IsLoopback() {
				return ip, nil
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}

// serve starts serving; errors arrive on errc.
func (a *app) serve() {
	go func() {
		if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.errc <- err
		}
	}()
	if a.acme != nil {
		a.acme.serve(a.errc)
	}
	if a.metricsSrv != nil {
		go func() {
			if err := a.metricsSrv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.errc <- err
			}
		}()
	}
}

// port is the signaling server's TCP port.
func (a *app) port() int { return a.httpLn.Addr().(*net.TCPAddr).Port }

// URL is the signaling server's base URL.
func (a *app) URL() string { return a.scheme + "://" + a.httpLn.Addr().String() }

func (a *app) turnSummary() string {
	if a.turn == nil {
		return "external or off"
	}
	return fmt.Sprintf("embedded, udp+tcp port %d", a.udpPort)
}

// Shutdown stops accepting, closes every WebSocket with 1001 and stops
// the TURN server.
func (a *app) Shutdown(ctx context.Context) error {
	err := a.httpSrv.Shutdown(ctx)
	err = errors.Join(err, a.sig.Shutdown(ctx))
	if a.node != nil {
		// After the peers' connections closed (their leaves went out):
		// goodbye, so the others forget this node at once.
		err = errors.Join(err, a.node.Close())
	}
	if a.metricsSrv != nil {
		err = errors.Join(err, a.metricsSrv.Shutdown(ctx))
	}
	if a.acme != nil {
		err = errors.Join(err, a.acme.shutdown(ctx))
	}
	if a.turn != nil {
		err = errors.Join(err, a.turn.Close())
	}
	return err
}

func (a *app) closeListeners() {
	if a.httpLn != nil {
		_ = a.httpLn.Close()
	}
	if a.metricsLn != nil {
		_ = a.metricsLn.Close()
	}
	if a.acme != nil {
		a.acme.closeListeners()
	}
	if a.turn != nil {
		_ = a.turn.Close()
	}
	if a.node != nil {
		_ = a.node.Close()
	}
}
