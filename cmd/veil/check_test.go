package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var noEnv = func(string) string { return "" }

// TestDeploymentRisks: each risky setting gets its warning; a loopback
// default has none.
func TestDeploymentRisks(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name  string
		args  []string
		relay netip.Addr
		want  string // "" = no warning at all
	}{
		{name: "loopback default", relay: loop},
		{name: "public without TLS", args: []string{"--listen=:8080", "--metrics-listen=127.0.0.1:9090", "--turn-relay-ports=50000-50010", "--turn-public-ip=203.0.113.10"}, relay: netip.MustParseAddr("203.0.113.10"), want: "without TLS"},
		{name: "metrics on public listener", args: []string{"--listen=:8080", "--trusted-proxy=127.0.0.1"}, relay: loop, want: "--metrics-listen"},
		{name: "origins wide open", args: []string{"--allowed-origins=*"}, relay: loop, want: "any website"},
		{name: "relay off", args: []string{"--relay=off"}, relay: loop, want: "each other's IP addresses"},
		{name: "relay optional", args: []string{"--relay=optional"}, relay: loop, want: "?relay=1"},
		{name: "sysinfo pass", args: []string{"--sysinfo=pass"}, relay: loop, want: "system details"},
		{name: "sealed allow", args: []string{"--sealed=allow"}, relay: loop, want: "rests on the clients"},
		{name: "no TURN at all", args: []string{"--turn=false"}, want: "cannot connect"},
		{name: "private relay behind NAT", args: []string{"--turn-listen=10.0.0.5:3478"}, relay: netip.MustParseAddr("10.0.0.5"), want: "set --turn-public-ip"},
		{name: "CGNAT relay", relay: netip.MustParseAddr("100.64.1.2"), want: "is private"},
		{name: "loopback relay on a public listener", args: []string{"--listen=:8080", "--acme-domain=veil.example", "--acme-cache-dir=/var/lib/veil"}, relay: loop, want: "only this machine"},
		{name: "relay ports unset", args: []string{"--listen=0.0.0.0:443", "--acme-domain=veil.example"}, relay: netip.MustParseAddr("203.0.113.10"), want: "--turn-relay-ports unset"},
		{name: "ACME in memory", args: []string{"--acme-domain=veil.example"}, relay: loop, want: "5 certificates per week"},
		{name: "ACME off 443", args: []string{"--acme-domain=veil.example", "--acme-cache-dir=/var/lib/veil"}, relay: loop, want: "forward 443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, noEnv)
			require.NoError(t, err)
			got := deploymentRisks(o, tc.relay)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, strings.Join(got, "\n"), tc.want)
		})
	}
}

// TestCheckCommand: veil check on this host, against free ports, a port a
// running veil holds, and a relay range that is taken.
func TestCheckCommand(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := runCheck(args, &out, &errOut, noEnv)
		return code, out.String() + errOut.String()
	}

	code, out := run("--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0", "--turn-public-ip=127.0.0.2")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "ok    --listen 127.0.0.1:0 can be bound")
	assert.Contains(t, out, "relay address 127.0.0.2 is an address of this host")
	assert.Contains(t, out, "not tested")
	assert.NotContains(t, out, "warn")

	a := startVeil(t, nil)
	code, out = run("--listen="+a.httpLn.Addr().String(), "--turn-listen=127.0.0.1:"+strconv.Itoa(a.udpPort), "--turn-public-ip=127.0.0.2")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "in use by a veil that answers /healthz")
	assert.Contains(t, out, "warn  TURN 127.0.0.1:"+strconv.Itoa(a.udpPort)+" is in use")

	held, err := net.ListenPacket("udp", "127.0.0.2:0")
	require.NoError(t, err)
	defer func() { _ = held.Close() }()
	port := strconv.Itoa(held.LocalAddr().(*net.UDPAddr).Port)
	code, out = run("--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0", "--turn-public-ip=127.0.0.2", "--turn-relay-ports="+port+"-"+port)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL  relay ports "+port+"-"+port+": none of 1 tried can be bound")

	code, out = run("--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0", "--allowed-origins=*")
	assert.Equal(t, 0, code, "warnings alone do not fail")
	assert.Contains(t, out, "warn  --allowed-origins '*'")

	code, _ = run("--relay=sometimes")
	assert.Equal(t, 2, code)
}

// TestStartupLines: start-up names the URL to open, the TURN URLs and the
// relay address, and warns about risky settings, without a client in
// sight.
func TestStartupLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string
		avoid []string
	}{
		{
			name:  "defaults on loopback",
			want:  []string{`msg="open the demo" url=http://127.0.0.1:`, `msg="TURN URLs handed to clients" urls="turn:127.0.0.1:`, `relay_ip=127.0.0.2`, `relay_ports="any free UDP port`},
			avoid: []string{"WARN"},
		},
		{
			name: "demo off, wide origins",
			args: []string{"--demo=false", "--allowed-origins=*", "--turn-relay-ports=50000-50100"},
			want: []string{`msg="demo page off; clients connect to" url=http://127.0.0.1:`, "/ws", `relay_ports=50000-50100/udp`, `level=WARN msg="--allowed-origins '*'`},
		},
		{
			name: "ACME",
			args: []string{"--acme-domain=veil.example"},
			want: []string{`msg="open the demo" url=https://veil.example:`, "5 certificates per week", "forward 443"},
		},
		{
			name: "external TURN",
			args: []string{"--turn-url=turn:turn.example:3478", "--turn-secret=s"},
			want: []string{`urls=turn:turn.example:3478`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(append([]string{"--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0", "--turn-public-ip=127.0.0.2"}, tc.args...), noEnv)
			require.NoError(t, err)
			var logs bytes.Buffer
			a, err := newApp(o, slog.New(slog.NewTextHandler(&logs, nil)))
			require.NoError(t, err)
			a.serve()
			defer func() { require.NoError(t, a.Shutdown(context.Background())) }()
			a.logStartup(o)
			for _, w := range tc.want {
				assert.Contains(t, logs.String(), w)
			}
			for _, w := range tc.avoid {
				assert.NotContains(t, logs.String(), w)
			}
		})
	}
}
