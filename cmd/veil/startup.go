package main

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/veilrtc/veil/privacy"
)

// logStartup tells the operator what to do next: the URL to open, the TURN
// URLs clients get, the relay address, and what is risky in this
// configuration. Only the operator's own settings appear (listen address,
// domain, relay address), never a client's.
func (a *app) logStartup(o options) {
	if o.demo {
		a.log.Info("open the demo", "url", privacy.Configured(a.openURL(o)))
	} else {
		a.log.Info("demo page off; clients connect to", "url", privacy.Configured(strings.TrimSuffix(a.openURL(o), "/")+"/ws"))
	}
	switch {
	case a.turn != nil:
		host := a.turnHost
		if host == "" {
			host = "<host the client reached veil on>"
		}
		urls, _, _ := a.turn.ICEServer(host, "") // only the URLs are logged
		a.log.Info("TURN URLs handed to clients", "urls", privacy.Configured(strings.Join(urls, " ")))
		a.log.Info("TURN relays media from", "relay_ip", privacy.Configured(a.relayIP().String()), "relay_ports", relayPortsText(o))
	case len(o.turnURLs) > 0:
		a.log.Info("TURN URLs handed to clients (external TURN)", "urls", privacy.Configured(strings.Join(o.turnURLs, " ")))
	default:
		a.log.Info("no TURN server: clients get no ICE servers")
	}
	for _, w := range deploymentRisks(o, a.relayIP()) {
		a.log.Warn(w)
	}
}

// relayIP is the embedded TURN's relay address; invalid without one.
func (a *app) relayIP() netip.Addr {
	if a.turn == nil {
		return netip.Addr{}
	}
	return a.turn.RelayAddrs()[0]
}

// openURL is where a person opens veil: the ACME domain, else the listen
// address (localhost when it listens on every interface).
func (a *app) openURL(o options) string {
	port := a.port()
	if o.acme.enabled() {
		host := o.acme.domains[0]
		if port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		}
		return "https://" + host + "/"
	}
	host, _, _ := net.SplitHostPort(o.listen)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return a.scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}

func relayPortsText(o options) string {
	if o.turnPortMin == 0 {
		return "any free UDP port (set --turn-relay-ports to forward a range)"
	}
	return strconv.Itoa(o.turnPortMin) + "-" + strconv.Itoa(o.turnPortMax) + "/udp"
}

// listenIP is the IP of an address flag; unspecified when it has no host.
func listenIP(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return netip.IPv6Unspecified()
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{} // a host name
	}
	return ip.Unmap()
}

// reachableFromOutside tells whether a listener on ip may be reached from
// other hosts: every interface, or a non-loopback address.
func reachableFromOutside(ip netip.Addr) bool {
	return !ip.IsValid() || !ip.IsLoopback()
}

// deploymentRisks lists what is risky or likely wrong in o, one sentence
// each, for start-up warnings and veil check. relayIP is the embedded
// TURN's relay address (invalid when it does not run).
func deploymentRisks(o options, relayIP netip.Addr) []string {
	var out []string
	public := reachableFromOutside(listenIP(o.listen))
	tls := o.security.tlsCert != "" || o.acme.enabled()
	if public && !tls && len(o.security.trustedProxies) == 0 {
		out = append(out, "signaling is served without TLS on a non-loopback address: browsers allow camera and microphone only over https; use --acme-domain or --tls-cert, or put a TLS proxy in front (--trusted-proxy) and listen on loopback")
	}
	if public && o.security.metricsListen == "" {
		out = append(out, "/metrics is served on the public listener; use --metrics-listen 127.0.0.1:9090 to keep it private")
	}
	if slices.Contains(o.allowedOrigins, "*") {
		out = append(out, "--allowed-origins '*': any website can use this server from its visitors' browsers")
	}
	switch o.policy.Relay {
	case privacy.RelayOff:
		out = append(out, "--relay=off: peers see each other's IP addresses")
	case privacy.RelayOptional:
		out = append(out, "--relay=optional: peers that do not ask for relay (?relay=1) see each other's IP addresses")
	}
	if o.policy.Sysinfo == privacy.SysinfoPass {
		out = append(out, "--sysinfo=pass: browser and system details in signals reach other peers")
	}
	if o.policy.Sealed == privacy.SealedAllow && o.policy.Relay == privacy.RelayForce {
		out = append(out, "--sealed=allow: end-to-end encrypted signals pass unfiltered, so forced relay rests on the clients")
	}
	if !o.turnEnabled && len(o.turnURLs) == 0 && o.policy.Relay != privacy.RelayOff {
		out = append(out, "no TURN server (--turn=false, no --turn-url) while relay is "+string(o.policy.Relay)+": relayed calls cannot connect")
	}
	if o.turnEnabled && relayIP.IsValid() && !o.turnPublicIP.IsValid() {
		switch {
		case relayIP.IsLoopback():
			if public {
				out = append(out, "the TURN relay address is loopback ("+relayIP.String()+"): only this machine can reach it; set --turn-public-ip")
			}
		case relayIP.IsPrivate() || isCGNAT(relayIP):
			out = append(out, "the TURN relay address "+relayIP.String()+" is private: peers outside this network cannot reach it; behind NAT set --turn-public-ip to the public address and forward the TURN and relay ports")
		}
	}
	if o.turnEnabled && o.turnPortMin == 0 && public {
		out = append(out, "--turn-relay-ports unset: relays use any free UDP port, which a firewall, NAT or container rarely lets through; set a range and open it")
	}
	if o.acme.enabled() {
		if o.acme.cacheDir == "" {
			out = append(out, "ACME certificates live in memory only: every restart asks the CA again (Let's Encrypt issues at most 5 certificates per week for the same names); use --acme-cache-dir if veil restarts often")
		}
		if _, port, _ := net.SplitHostPort(o.listen); port != "443" && o.acme.httpListen == "" {
			out = append(out, "ACME validates TLS-ALPN-01 on port 443: forward 443 to --listen ("+o.listen+") or set --acme-http-listen :80")
		}
	}
	return out
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func isCGNAT(ip netip.Addr) bool { return cgnat.Contains(ip.Unmap()) }
