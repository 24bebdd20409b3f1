package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// parseDeployEnv parses VEIL_* variables as veil would and fails on a
// variable that is no flag of veil (veil itself ignores those silently).
func parseDeployEnv(t *testing.T, env map[string]string) options {
	t.Helper()
	known := map[string]bool{}
	o, err := parseOptions(nil, func(k string) string {
		known[k] = true
		return env[k]
	})
	require.NoError(t, err)
	for k := range env {
		assert.True(t, known[k], "%s is not a veil flag", k)
	}
	return o
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return port
}

// TestComposeFile parses deploy/compose.yaml: its variables are veil's
// flags and it publishes what veil listens on, the relay range with the
// same numbers outside, and not the metrics port.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "compose.yaml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Build       struct{ Context, Dockerfile string }
			ReadOnly    bool              `yaml:"read_only"`
			CapDrop     []string          `yaml:"cap_drop"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
		}
	}
	require.NoError(t, yaml.Unmarshal(b, &compose))
	veil, ok := compose.Services["veil"]
	require.True(t, ok, "a veil service")
	assert.True(t, veil.ReadOnly, "veil writes nothing: read-only root")
	assert.Equal(t, []string{"ALL"}, veil.CapDrop)
	_, err = os.Stat(filepath.Join("..", "..", "deploy", veil.Build.Context, veil.Build.Dockerfile))
	require.NoError(t, err, "build context and Dockerfile exist")

	o := parseDeployEnv(t, veil.Environment)
	if o.acme.enabled() {
		assert.Contains(t, veil.Volumes, "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro",
			"the scratch image has no CA roots; ACME needs the host's")
	}
	require.NotZero(t, o.turnPortMin, "a relay range to publish")
	turnPort := portOf(t, o.turnListen)
	relay := strconv.Itoa(o.turnPortMin) + "-" + strconv.Itoa(o.turnPortMax)
	want := []string{
		"443:" + portOf(t, o.listen) + "/tcp",
		turnPort + ":" + turnPort + "/udp",
		turnPort + ":" + turnPort + "/tcp",
		relay + ":" + relay + "/udp",
	}
	assert.ElementsMatch(t, want, veil.Ports)
	for _, p := range veil.Ports {
		assert.NotContains(t, p, ":"+portOf(t, o.security.metricsListen)+"/", "metrics stay unpublished")
	}
}

// TestSystemdUnit reads deploy/veil.service: its variables are veil's
// flags, the socket-bind allow list is exactly veil's ports, and the
// hardening is there. .ci/run also runs systemd-analyze verify on it.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "deploy", "veil.service"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	env := map[string]string{}
	keys := map[string][]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, line)
		keys[k] = append(keys[k], v)
		if k == "Environment" {
			ek, ev, ok := strings.Cut(v, "=")
			require.True(t, ok, line)
			env[ek] = ev
		}
	}
	require.NoError(t, lines.Err())

	o := parseDeployEnv(t, env)
	turnPort := portOf(t, o.turnListen)
	assert.ElementsMatch(t, []string{
		"tcp:" + portOf(t, o.listen),
		"udp:" + turnPort,
		"tcp:" + turnPort,
		"udp:" + strconv.Itoa(o.turnPortMin) + "-" + strconv.Itoa(o.turnPortMax),
		"tcp:" + portOf(t, o.security.metricsListen),
	}, keys["SocketBindAllow"], "exactly veil's ports may be bound")
	assert.Equal(t, []string{"any"}, keys["SocketBindDeny"])

	for k, v := range map[string]string{
		"DynamicUser":            "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"PrivateDevices":         "yes",
		"NoNewPrivileges":        "yes",
		"AmbientCapabilities":    "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":  "CAP_NET_BIND_SERVICE",
		"MemoryDenyWriteExecute": "yes",
		"LockPersonality":        "yes",
		"RestrictNamespaces":     "yes",
	} {
		assert.Equal(t, []string{v}, keys[k], k)
	}
	assert.Contains(t, keys["SystemCallFilter"], "@system-service")
	for _, k := range []string{"ReadWritePaths", "StateDirectory", "CacheDirectory", "LogsDirectory", "RuntimeDirectory"} {
		assert.NotContains(t, keys, k, "no writable path by default")
	}
	assert.Equal(t, []string{"AF_INET AF_INET6 AF_NETLINK AF_UNIX"}, keys["RestrictAddressFamilies"])
}
