package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/turn"
)

// Defaults of the command line. The library's own defaults live in the
// signaling and turn packages.
const (
	defaultListen    = "127.0.0.1:8080"
	defaultTURNPort  = 3478
	defaultTURNSPort = 5349
)

// options is everything the command line and environment configure.
type options struct {
	listen         string
	logLevel       slog.Level
	policy         privacy.Policy
	allowedOrigins []string
	demo           bool
	peerjs         signaling.PeerJSConfig
	vdo            signaling.VDOConfig

	maxMessageBytes int
	maxRoomPeers    int
	maxPeerRooms    int

	turnEnabled  bool
	turnListen   string
	turnTLS      string
	turnCert     string
	turnKey      string
	turnPublicIP netip.Addr
	turnHost     string
	turnSecret   []byte
	turnTTL      time.Duration
	turnURLs     []string
	turnAllow    []netip.Prefix
	// turnSharedMin..Max: --turn-shared-relay-ports (turn.Config.SharedRelayPortMin/Max).
	turnSharedMin, turnSharedMax int
	turnDeny                     []netip.Prefix
	turnMaxUser                  int
	turnMaxAll                   int
	turnPortMin                  int
	turnPortMax                  int
	turnLimits                   turnLimitOptions // per-address and lifetime caps (turnlimits.go)

	security securityOptions // TLS, metrics address, tokens, abuse limits (security.go)
	acme     acmeOptions     // automatic TLS certificates (acme.go)
	cluster  clusterOptions  // cluster mode over NATS (cluster.go)
	resume   resumeOptions   // resumable sessions (resume.go)
}

// listFlag is a repeatable flag; from the environment it is comma separated.
type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l.v = append(*l.v, part)
		}
	}
	return nil
}

const usageHead = `veil: a privacy-first WebRTC signaling server with an embedded TURN server.

Usage:
  veil [flags]                 run the server (defaults: http://127.0.0.1:8080, TURN on 127.0.0.1:3478)
  veil privacy-notice [flags]  print the privacy notice for this configuration (Markdown)
  veil token [flags]           print an operator token for --auth-secret (see veil token --help)
  veil check [flags]           say what this configuration gets wrong before users find out

Every flag can also be set in the environment: --turn-public-ip becomes
VEIL_TURN_PUBLIC_IP. Repeatable flags take a comma-separated list there.
A flag on the command line wins over the environment.

Examples:
  veil                                   try it on this machine: open http://127.0.0.1:8080
  veil --listen :443 --tls-cert c.pem --tls-key k.pem --turn-listen :3478 --turn-public-ip 203.0.113.10
                                         a public server (TURN relays from 203.0.113.10)
  veil --turn-url turn:turn.example:3478 --turn-secret S
                                         use an existing coturn fleet (use-auth-secret) instead of the embedded TURN

Flags:
`

// parseOptions reads args and the environment (through getenv).
func parseOptions(args []string, getenv func(string) string) (options, error) {
	var (
		o                                   options
		relay, sysinfo, sealed, logLevel    string
		turnPublicIP, turnSecret, turnPorts string
		turnSharedPorts                     string
		turnAllow, turnDeny                 []string
	)
	fs := flag.NewFlagSet("veil", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", defaultListen, "`address` to serve signaling (HTTP/WebSocket) on; use :8080 to accept other hosts")
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn or error (no identities are logged at any level)")
	fs.StringVar(&relay, "relay", "force", "relay `policy`: force (only TURN relay candidates cross veil), optional (per client, ?relay=1) or off")
	fs.StringVar(&sysinfo, "sysinfo", "strip", "system information in signals: strip or pass")
	fs.StringVar(&sealed, "sealed", "deny", "end-to-end encrypted signals veil cannot filter, while relay is forced: deny or allow")
	fs.Var(listFlag{&o.allowedOrigins}, "allowed-origins", "browser `origin` allowed besides veil's own (repeatable; * for any)")
	fs.BoolVar(&o.demo, "demo", true, "serve the demo page at /")
	var peerjsOn, vdoOn bool
	fs.BoolVar(&peerjsOn, "peerjs", true, "serve the PeerJS protocol (for unmodified PeerJS apps)")
	fs.StringVar(&o.peerjs.Path, "peerjs-path", signaling.DefaultPeerJSPath, "`path` of the PeerJS endpoints (the PeerJS client's path option)")
	fs.StringVar(&o.peerjs.Key, "peerjs-key", signaling.DefaultPeerJSKey, "PeerJS API `key` clients send (not a secret)")
	fs.BoolVar(&vdoOn, "vdo", true, "serve the VDO.Ninja handshake dialect")
	fs.StringVar(&o.vdo.Path, "vdo-path", signaling.DefaultVDOPath, "`path` of the VDO.Ninja WebSocket")
	fs.StringVar(&o.vdo.FanoutPath, "vdo-fanout-path", signaling.DefaultVDOFanoutPath, "`path` of the VDO.Ninja fan-out dialect (the app's &wss=, VDO.Ninja's self-host server)")
	fs.IntVar(&o.maxMessageBytes, "max-message-bytes", signaling.DefaultMaxMessageBytes, "largest client message in `bytes`")
	fs.IntVar(&o.maxRoomPeers, "max-room-peers", signaling.DefaultMaxRoomPeers, "peers per room")
	fs.IntVar(&o.maxPeerRooms, "max-peer-rooms", signaling.DefaultMaxPeerRooms, "rooms per peer")

	fs.BoolVar(&o.turnEnabled, "turn", true, "run the embedded TURN server (off when --turn-url is given)")
	fs.StringVar(&o.turnListen, "turn-listen", "", "`address` for embedded TURN over UDP and TCP (default: --listen's host, port 3478)")
	fs.StringVar(&o.turnTLS, "turn-tls-listen", "", "`address` for TURN over TLS (default: --turn-listen's host, port 5349, when --turn-cert is set)")
	fs.StringVar(&o.turnCert, "turn-cert", "", "TLS certificate `file` for TURN over TLS")
	fs.StringVar(&o.turnKey, "turn-key", "", "TLS key `file` for TURN over TLS")
	fs.StringVar(&turnPublicIP, "turn-public-ip", "", "relay `IP` peers send media to (default: --turn-listen's IP, or this host's first public interface address)")
	fs.StringVar(&o.turnHost, "turn-host", "", "`host` name put in TURN URLs (default: --turn-listen's IP, else the host the client reached veil on)")
	fs.StringVar(&turnSecret, "turn-secret", "", "TURN REST shared `secret`, as coturn's static-auth-secret (default: random per process). Required with --turn-url")
	fs.DurationVar(&o.turnTTL, "turn-ttl", turn.DefaultCredentialTTL, "lifetime of TURN credentials: Allocate needs valid ones; after expiry an allocation keeps its peers but gets no new ones")
	fs.Var(listFlag{&o.turnURLs}, "turn-url", "external TURN `URL` (e.g. turn:turn.example:3478?transport=udp) instead of the embedded server (repeatable)")
	fs.Var(listFlag{&turnAllow}, "turn-allow-peer", "`CIDR` the embedded TURN may relay to although it is private/special-purpose (repeatable)")
	fs.Var(listFlag{&turnDeny}, "turn-deny-peer", "`CIDR` the embedded TURN must never relay to (repeatable; wins over allow)")
	fs.IntVar(&o.turnMaxUser, "turn-max-allocations-per-peer", turn.DefaultMaxAllocationsPerUser, "live TURN allocations per peer")
	fs.IntVar(&o.turnMaxAll, "turn-max-allocations", turn.DefaultMaxAllocations, "live TURN allocations in total")
	fs.StringVar(&turnPorts, "turn-relay-ports", "", "UDP port `range` for relay allocations, e.g. 49160-49200 (default: any free port); publish it when veil runs in a container")
	fs.StringVar(&turnSharedPorts, "turn-shared-relay-ports", "", "UDP port `range` of the relay address that other veil nodes on this host relay from (a cluster on one host), e.g. 49160-49279: relayed traffic to them passes (default none)")
	o.turnLimits.addFlags(fs)
	o.security.addFlags(fs)
	o.acme.addFlags(fs)
	o.cluster.addFlags(fs)
	o.resume.addFlags(fs)

	fs.Usage = func() {} // errors are reported by the caller, in one line
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stdout, usageHead)
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The environment fills what the command line did not set.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %v", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}

	o.peerjs.Disabled, o.vdo.Disabled = !peerjsOn, !vdoOn
	var err error
	if err = o.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return o, fmt.Errorf("--log-level: %v", err)
	}
	o.policy = privacy.DefaultPolicy()
	if o.policy.Relay, err = privacy.ParseRelayPolicy(relay); err != nil {
		return o, fmt.Errorf("--relay: %v", err)
	}
	if o.policy.Sysinfo, err = privacy.ParseSysinfoPolicy(sysinfo); err != nil {
		return o, fmt.Errorf("--sysinfo: %v", err)
	}
	if o.policy.Sealed, err = privacy.ParseSealedPolicy(sealed); err != nil {
		return o, fmt.Errorf("--sealed: %v", err)
	}
	if turnPublicIP != "" {
		if o.turnPublicIP, err = netip.ParseAddr(turnPublicIP); err != nil {
			return o, fmt.Errorf("--turn-public-ip: %v", err)
		}
	}
	if turnSecret != "" {
		// Used as text, exactly as coturn uses static-auth-secret, so both
		// sign the same credentials.
		o.turnSecret = []byte(turnSecret)
	}
	if o.turnAllow, err = parsePrefixes(turnAllow); err != nil {
		return o, fmt.Errorf("--turn-allow-peer: %v", err)
	}
	if o.turnDeny, err = parsePrefixes(turnDeny); err != nil {
		return o, fmt.Errorf("--turn-deny-peer: %v", err)
	}
	if len(o.turnURLs) > 0 {
		if len(o.turnSecret) == 0 {
			return o, errors.New("--turn-url needs --turn-secret, the secret the external TURN servers share")
		}
		o.turnEnabled = false
	}
	if turnPorts != "" {
		lo, hi, ok := strings.Cut(turnPorts, "-")
		var errLo, errHi error
		o.turnPortMin, errLo = strconv.Atoi(strings.TrimSpace(lo))
		o.turnPortMax, errHi = strconv.Atoi(strings.TrimSpace(hi))
		if !ok || errLo != nil || errHi != nil || o.turnPortMin < 1 || o.turnPortMax > 65535 || o.turnPortMin > o.turnPortMax {
			return o, fmt.Errorf("--turn-relay-ports: want LOW-HIGH, got %q", turnPorts)
		}
	}
	if turnSharedPorts != "" {
		lo, hi, ok := strings.Cut(turnSharedPorts, "-")
		var errLo, errHi error
		o.turnSharedMin, errLo = strconv.Atoi(strings.TrimSpace(lo))
		o.turnSharedMax, errHi = strconv.Atoi(strings.TrimSpace(hi))
		if !ok || errLo != nil || errHi != nil || o.turnSharedMin < 1 || o.turnSharedMax > 65535 || o.turnSharedMin > o.turnSharedMax {
			return o, fmt.Errorf("--turn-shared-relay-ports: want LOW-HIGH, got %q", turnSharedPorts)
		}
	}
	if (o.turnCert == "") != (o.turnKey == "") {
		return o, errors.New("--turn-cert and --turn-key go together")
	}
	if err := o.security.finish(); err != nil {
		return o, err
	}
	if err := o.acme.finish(o.security.tlsCert != ""); err != nil {
		return o, err
	}
	if err := o.resume.finish(); err != nil {
		return o, err
	}
	if err := o.cluster.finish(); err != nil {
		return o, err
	}
	return o, nil
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "VEIL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
