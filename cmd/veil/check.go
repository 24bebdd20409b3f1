package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/veilrtc/veil/turn"
)

// Limits of veil check's local probes.
const (
	// checkMaxRelayPorts bounds how many ports of --turn-relay-ports are
	// bound to see whether they are free.
	checkMaxRelayPorts = 1024
	// checkProbeTimeout bounds a probe of a port already in use.
	checkProbeTimeout = 2 * time.Second
	// certExpiryWarning is how soon before expiry a --tls-cert is flagged.
	certExpiryWarning = 14 * 24 * time.Hour
)

// Levels of a check finding.
const (
	checkOK   = "ok"
	checkNote = "note"
	checkWarn = "warn"
	checkFail = "FAIL"
)

type finding struct{ level, text string }

// runCheck is `veil check`: it reads the same flags and environment as the
// server, binds nothing for long and contacts nothing but this host's own
// ports, and prints what the deployment gets wrong. Exit status 1 when a
// finding is FAIL, 2 for bad flags.
func runCheck(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	o, err := parseOptions(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "veil check:", err)
		return 2
	}
	status := 0
	for _, f := range checkOptions(o) {
		if f.level == checkFail {
			status = 1
		}
		_, _ = fmt.Fprintf(stdout, "%-4s  %s\n", f.level, f.text)
	}
	return status
}

// checkOptions inspects o on this host.
func checkOptions(o options) []finding {
	var out []finding
	add := func(level, format string, args ...any) {
		out = append(out, finding{level, fmt.Sprintf(format, args...)})
	}

	// Signaling listener.
	if ln, err := net.Listen("tcp", o.listen); err == nil {
		_ = ln.Close()
		add(checkOK, "--listen %s can be bound", o.listen)
	} else if probeVeil(o) {
		add(checkOK, "--listen %s is in use by a veil that answers /healthz (the running server)", o.listen)
	} else {
		add(checkFail, "--listen %s cannot be bound and no veil answers there: %v", o.listen, err)
	}

	// TLS.
	switch {
	case o.security.tlsCert != "":
		checkCertFiles(o, add)
	case o.acme.enabled():
		add(checkNote, "TLS from ACME for %v (%s); issuance is not tried by veil check", o.acme.domains, o.acme.directory)
	}

	// TURN.
	var relayIP netip.Addr
	if o.turnEnabled {
		relayIP = checkTURN(o, add)
	} else if len(o.turnURLs) > 0 {
		add(checkNote, "external TURN %v: not probed", o.turnURLs)
	}

	for _, r := range deploymentRisks(o, relayIP) {
		add(checkWarn, "%s", r)
	}
	add(checkNote, "reachability from the internet is not tested: veil check contacts only this host. From another network, open the demo URL and make a call with relay forced")
	return out
}

// probeVeil tells whether a veil answers /healthz on --listen.
func probeVeil(o options) bool {
	host, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return false
	}
	if ip := listenIP(o.listen); !ip.IsValid() || ip.IsUnspecified() || host == "" {
		host = "127.0.0.1"
	}
	scheme := "http"
	tr := &http.Transport{DisableKeepAlives: true}
	if o.security.tlsCert != "" || o.acme.enabled() {
		scheme = "https"
		// Only whether veil answers; the certificate is checked apart.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a liveness probe of our own port
	}
	c := &http.Client{Transport: tr, Timeout: checkProbeTimeout}
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func checkCertFiles(o options, add func(string, string, ...any)) {
	pair, err := tls.LoadX509KeyPair(o.security.tlsCert, o.security.tlsKey)
	if err != nil {
		add(checkFail, "--tls-cert/--tls-key do not load: %v", err)
		return
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		add(checkFail, "--tls-cert: %v", err)
		return
	}
	left := time.Until(leaf.NotAfter)
	switch {
	case left <= 0:
		add(checkFail, "--tls-cert expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < certExpiryWarning:
		add(checkWarn, "--tls-cert expires on %s; is renewal running?", leaf.NotAfter.UTC().Format(time.DateOnly))
	default:
		add(checkOK, "--tls-cert loads, valid until %s for %v", leaf.NotAfter.UTC().Format(time.DateOnly), leaf.DNSNames)
	}
	if o.turnHost != "" && leaf.VerifyHostname(o.turnHost) != nil && o.turnCert == "" {
		add(checkNote, "--turn-host %s is not a name of --tls-cert (only matters for turns: URLs)", o.turnHost)
	}
}

// checkTURN binds the embedded TURN's ports and relay range for a moment
// and returns the relay address the server would use.
func checkTURN(o options, add func(string, string, ...any)) netip.Addr {
	listen := o.turnListen
	if listen == "" {
		host, _, _ := net.SplitHostPort(o.listen)
		listen = net.JoinHostPort(host, strconv.Itoa(defaultTURNPort))
	}
	if pc, ln, err := turn.ListenUDPAndTCP(listen); err == nil {
		_ = pc.Close()
		_ = ln.Close()
		add(checkOK, "TURN %s (udp+tcp) can be bound", listen)
	} else {
		add(checkWarn, "TURN %s is in use (by the running veil, or another TURN server?): %v", listen, err)
	}

	relayIP := o.turnPublicIP
	if !relayIP.IsValid() {
		var err error
		if relayIP, err = defaultRelayIP(listenIP(listen)); err != nil {
			add(checkFail, "no relay address: %v", err)
			return netip.Addr{}
		}
	}
	relayIP = relayIP.Unmap()
	bindIP := relayIP
	if pc, err := net.ListenPacket("udp", net.JoinHostPort(relayIP.String(), "0")); err == nil {
		_ = pc.Close()
		add(checkOK, "relay address %s is an address of this host", relayIP)
	} else {
		bindIP = netip.IPv4Unspecified()
		if relayIP.Is6() {
			bindIP = netip.IPv6Unspecified()
		}
		add(checkNote, "relay address %s is not on this host (1:1 NAT?): relays bind every interface; the NAT must forward TURN and the relay ports here", relayIP)
	}

	if o.turnPortMin == 0 {
		return relayIP
	}
	busy, tried := 0, 0
	for port := o.turnPortMin; port <= o.turnPortMax && tried < checkMaxRelayPorts; port++ {
		tried++
		pc, err := net.ListenPacket("udp", net.JoinHostPort(bindIP.String(), strconv.Itoa(port)))
		if err != nil {
			busy++
			continue
		}
		_ = pc.Close()
	}
	switch {
	case busy == tried:
		add(checkFail, "relay ports %d-%d: none of %d tried can be bound (in use, or not permitted)", o.turnPortMin, o.turnPortMax, tried)
	case busy > 0:
		add(checkWarn, "relay ports %d-%d: %d of %d tried are in use (by live relays of a running veil?)", o.turnPortMin, o.turnPortMax, busy, tried)
	default:
		add(checkOK, "relay ports %d-%d: all %d tried can be bound", o.turnPortMin, o.turnPortMax, tried)
	}
	return relayIP
}
