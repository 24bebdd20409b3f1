// Command veil-load puts a running signaling server under a bounded load
// over loopback and measures it: join latency, relay throughput, and, given
// the server's process id, server CPU per relayed message and server memory
// per idle connection. It speaks veil's native protocol v1 and the PeerJS
// protocol, so the same run can measure veil and the npm `peer` server.
//
// Every run is bounded in connections (--pairs, --idle), messages
// (--messages) and time (--duration). It only ever connects to the URL it
// is given; .ci/bench points it at servers on 127.0.0.1. See
// docs/BENCHMARKS.md for the method and results.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Bounds that are not flags.
const (
	readTimeout   = 30 * time.Second // one read outside the relay phase
	settle        = 2 * time.Second  // before reading RSS, so the server has handled every connection
	maxIdle       = 20000
	maxPairs      = 5000
	maxMessages   = 10_000_000
	maxDuration   = 10 * time.Minute
	defaultWindow = 16 // below veil's DefaultSendQueue (64): a fast sender never gets its peer dropped
	maxSources    = 60000
	// maxConcurrency bounds dials in flight (the storm's reconnects).
	maxConcurrency = 2000
	maxProcs       = 16
)

// dialerFor returns the dialer of the i-th connection: spread over
// c.sources loopback source addresses when set.
func (c config) dialerFor(i int) *websocket.Dialer {
	if c.sources == 0 {
		return dialer
	}
	return dialerFrom(sourceAddr(i % c.sources))
}

const usage = `veil-load: bounded load against a signaling server on loopback.

Usage:
  veil-load [flags]                 run one paced measurement, print a summary (and --out JSON)
  veil-load saturate [flags]        the saturation workload (below)
  veil-load storm [flags]           the reconnect storm (below)
  veil-load idle [flags]            the largest idle run (below)
  veil-load relay --listen ADDR     serve the no-policy relay, the limit baseline (below)
  veil-load table [--vs LABEL] FILE...
                                    print result files as a Markdown table, with
                                    ratios against the result labelled LABEL
  veil-load summary FILE...         print the ratios of docs/BENCHMARKS.md from the
                                    results .ci/bench labels (see summary.go)

saturate: --pairs pairs, each keeping --window offer/answer round trips in
  flight (offer of a ~4.4 KB SDP, answered at once with one of the same
  size), unpaced, for --warmup then a measured --run. Reports round trips/s,
  round-trip p50/p99 and server CPU per relayed message (2 per round trip).
storm: --peers connections over --sources loopback source addresses, all
  dropped at once (TCP reset), all reconnected (--concurrency dials in flight;
  a 429/503 is retried after its Retry-After). Reports the time from the drop
  to the last welcome (native) / OPEN (PeerJS), per-peer p50/p99, retries.
idle: --idle connections held by --procs generator processes (each a
  veil-load idle-child; a process may hold at most ~19 000 open files here)
  over --sources loopback source addresses; server RSS per connection as in
  the idle phase below.
relay: a no-policy relay (no decode, no filter): a top-level scan finds the
  routing keys and the payload is spliced through. Native protocol at /ws
  (welcome, join/joined/peer-joined, signal) and PeerJS at {--path}peerjs.

A run has three phases, each optional:
  1. idle:  open --idle connections (native: up to welcome; peerjs: up to OPEN),
            wait, read the server's VmRSS (needs --server-pid), close them.
            Reports server RSS per idle connection and connect latency.
  2. join:  open --pairs pairs; native: both join one room per pair.
            Reports join latency (WebSocket dial to joined / OPEN): p50 p95 p99.
  3. relay: each pair negotiates both ways, over and over: a ~4 KB SDP
            description, then four trickle candidates (relay candidates, so a
            relay filter forwards them). --messages in total, each sender paced
            at --rate, at most --window unanswered per direction.
            Reports delivered msgs/s and, with --server-pid, server CPU seconds
            (utime+stime from /proc/PID/stat) per relayed message.

Examples:
  veil --listen 127.0.0.1:8080 --turn=false --demo=false &
  veil-load --mode native  --url http://127.0.0.1:8080 --server-pid $!
  veil-load --mode peerjs  --url http://127.0.0.1:9000 --path /peerjs/ --server-pid $PEER_PID

Cross-node (--url-b): the second client of every pair connects to another
node of the same veil cluster, so every relayed message crosses NATS; run
the same workload without --url-b for the single-node figure next to it
(--label each, then veil-load table). With --server-pid-b, server CPU per
message is both nodes' together, and with --bus-pid the NATS server's too.
  veil-load saturate --url http://127.0.0.1:8080 --url-b http://127.0.0.1:8081 \
    --server-pid $A --server-pid-b $B --bus-pid $NATS --label cross-node

Only loopback URLs are accepted unless --allow-remote is given.

Flags:
`

// config is the command line.
type config struct {
	mode, baseURL, path, key, label, out string
	vdoPath                              string
	urlB                                 string // cross-node: the b side of every pair on this node (cross.go)
	serverPIDB                           int    // cross-node: node b's process
	busPID                               int    // cross-node: the NATS server's process
	sources                              int
	workload                             string        // "" (paced), saturate, storm, idle, idle-child
	warmup, runFor                       time.Duration // saturate
	peers                                int           // storm
	procs                                int           // idle
	sourceOffset                         int           // idle-child
	serverPID                            int
	pairs, idle, messages, concurrency   int
	window                               int
	rate                                 float64
	duration, hold                       time.Duration
	allowRemote                          bool
}

func parseFlags(workload string, args []string) (config, error) {
	c := config{workload: workload}
	fs := flag.NewFlagSet("veil-load", flag.ContinueOnError)
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "saturate: load before the measured window")
	fs.DurationVar(&c.runFor, "run", 15*time.Second, "saturate: the measured window")
	fs.IntVar(&c.peers, "peers", 10000, "storm: peers connected, dropped at once and reconnected")
	fs.IntVar(&c.procs, "procs", 0, "idle: generator processes holding the --idle connections (0: one per 9000)")
	fs.IntVar(&c.sourceOffset, "source-offset", 0, "idle-child: index of the first source address")
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.mode, "mode", "native", "protocol: native (veil protocol v1 at /ws), peerjs (PeerJS at {path}peerjs) or vdo (VDO.Ninja at --vdo-path)")
	fs.StringVar(&c.vdoPath, "vdo-path", "/vdo", "VDO.Ninja dialect `path`")
	fs.IntVar(&c.sources, "sources", 0, "spread connections over this many loopback source addresses (127.100.0.1 onwards), so per-address limits see distinct clients (0: the kernel's choice)")
	fs.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080", "server base `URL` (http://host:port)")
	fs.StringVar(&c.path, "path", "/peerjs/", "PeerJS mount `path` (the client's path option); veil and `peerjs --path /peerjs/` use /peerjs/")
	fs.StringVar(&c.key, "key", "peerjs", "PeerJS API `key`")
	fs.StringVar(&c.urlB, "url-b", "", "cross-node: the second client of every pair connects to this `URL`, another node of the same veil cluster (--mode native or peerjs)")
	fs.IntVar(&c.serverPIDB, "server-pid-b", 0, "cross-node: --url-b's process `id`; server CPU is then both nodes' together")
	fs.IntVar(&c.busPID, "bus-pid", 0, "cross-node: the message bus's (NATS server's) process `id`; its CPU counts as server CPU too")
	fs.IntVar(&c.serverPID, "server-pid", 0, "server process `id`, for CPU per message and RSS per idle connection (0: not measured)")
	fs.IntVar(&c.pairs, "pairs", 50, "concurrent pairs in the join and relay phases (0 skips both)")
	fs.IntVar(&c.idle, "idle", 1000, "idle connections in the memory phase (0 skips it)")
	fs.IntVar(&c.messages, "messages", 20000, "messages to relay in total (0 skips the relay phase)")
	fs.Float64Var(&c.rate, "rate", 40, "messages per second per sender (0: as fast as the window allows); veil's default per-connection limit is 50/s")
	fs.IntVar(&c.window, "window", defaultWindow, "unanswered messages per direction")
	fs.IntVar(&c.concurrency, "concurrency", 8, "connections opened at once in the idle and join phases")
	fs.DurationVar(&c.duration, "duration", 90*time.Second, "hard cap on the whole run")
	fs.DurationVar(&c.hold, "hold", 0, "keep the idle connections open this long after measuring (to take a server profile meanwhile)")
	fs.StringVar(&c.label, "label", "", "name of this run in --out and tables (default: the mode)")
	fs.StringVar(&c.out, "out", "", "append the result as one JSON line to this `file`")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a non-loopback --url (never point load at a host you do not run)")
	fs.Usage = func() {
		fmt.Fprint(os.Stdout, usage)
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if c.label == "" {
		c.label = c.mode
		if c.workload != "" {
			c.label = c.workload + "-" + c.mode
		}
	}
	switch {
	case c.mode != "native" && c.mode != "peerjs" && c.mode != "vdo":
		return c, fmt.Errorf("--mode must be native, peerjs or vdo, not %q", c.mode)
	case c.sources < 0 || c.sources > maxSources:
		return c, fmt.Errorf("--sources must be 0..%d", maxSources)
	case c.pairs < 0 || c.pairs > maxPairs:
		return c, fmt.Errorf("--pairs must be 0..%d", maxPairs)
	case c.idle < 0 || c.idle > maxIdle:
		return c, fmt.Errorf("--idle must be 0..%d", maxIdle)
	case c.messages < 0 || c.messages > maxMessages:
		return c, fmt.Errorf("--messages must be 0..%d", maxMessages)
	case c.duration <= 0 || c.duration > maxDuration:
		return c, fmt.Errorf("--duration must be in (0, %v]", maxDuration)
	case c.rate < 0 || c.window < 1 || c.concurrency < 1 || c.concurrency > maxConcurrency:
		return c, fmt.Errorf("--rate must be >= 0, --window >= 1, --concurrency 1..%d", maxConcurrency)
	case c.peers < 1 || c.peers > maxIdle:
		return c, fmt.Errorf("--peers must be 1..%d", maxIdle)
	case c.procs < 0 || c.procs > maxProcs:
		return c, fmt.Errorf("--procs must be 0..%d", maxProcs)
	case c.warmup < 0 || c.runFor <= 0 || c.warmup+c.runFor >= c.duration:
		return c, errors.New("--warmup + --run must be shorter than --duration")
	}
	u, err := url.Parse(c.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("--url must be http://host:port, not %q", c.baseURL)
	}
	if !c.allowRemote && !isLoopback(u.Hostname()) {
		return c, fmt.Errorf("--url %s is not loopback; load tests here target only 127.0.0.0/8 or ::1 (--allow-remote overrides)", u.Host)
	}
	if c.urlB != "" {
		ub, err := url.Parse(c.urlB)
		switch {
		case err != nil || (ub.Scheme != "http" && ub.Scheme != "https") || ub.Host == "":
			return c, fmt.Errorf("--url-b must be http://host:port, not %q", c.urlB)
		case !c.allowRemote && !isLoopback(ub.Hostname()):
			return c, fmt.Errorf("--url-b %s is not loopback (--allow-remote overrides)", ub.Host)
		case c.mode == "vdo":
			return c, errors.New("--url-b: cross-node runs speak --mode native or peerjs")
		}
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c config) protocol() protocol {
	p := c.protocolAt(c.baseURL)
	if c.urlB != "" {
		return crossNode{protocol: p, b: c.protocolAt(c.urlB)}
	}
	return p
}

func (c config) protocolAt(base string) protocol {
	ws := "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http")
	if c.mode == "vdo" {
		return vdo{wsURL: ws + c.vdoPath}
	}
	if c.mode == "peerjs" {
		p := c.path
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		return peerjs{wsURL: ws + p + "peerjs", key: c.key}
	}
	return native{wsURL: ws + "/ws"}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		if err := runRelay(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "veil-load relay:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "summary" {
		if err := runSummary(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "veil-load summary:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "idle-child" {
		cfg, err := parseFlags("idle-child", os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "veil-load idle-child:", err)
			os.Exit(2)
		}
		os.Exit(idleChild(cfg))
	}
	if len(os.Args) > 1 && os.Args[1] == "table" {
		if err := runTable(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "veil-load table:", err)
			os.Exit(2)
		}
		return
	}
	workload, args := "", os.Args[1:]
	if len(args) > 0 && (args[0] == "saturate" || args[0] == "storm" || args[0] == "idle") {
		workload, args = args[0], args[1:]
	}
	cfg, err := parseFlags(workload, args)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "veil-load:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	res := run(ctx, cfg)
	res.print(os.Stdout)
	if cfg.out != "" {
		f, err := os.OpenFile(cfg.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			err = json.NewEncoder(f).Encode(res)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "veil-load:", err)
			os.Exit(1)
		}
	}
	if len(res.Errors) > 0 {
		os.Exit(1)
	}
}
