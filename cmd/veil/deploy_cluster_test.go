package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestClusterComposeFile parses deploy/compose-cluster.yaml: the official
// NATS image, unpublished and without JetStream; three veil nodes whose
// variables are veil's flags, that join that NATS with the secret from a
// compose secret, each with its own TURN port and relay range published
// with the same numbers outside, their signaling port and metrics
// unpublished (only the balancer publishes HTTP), each letting relayed
// traffic reach the others' relay ranges; and the balancer's
// Caddyfile naming every node. When Debian's caddy is installed, it
// adapts the Caddyfile.
func TestClusterComposeFile(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy")
	b, err := os.ReadFile(filepath.Join(dir, "compose-cluster.yaml"))
	require.NoError(t, err)
	type service struct {
		Build       struct{ Context, Dockerfile string }
		Image       string
		Command     []string
		ReadOnly    bool              `yaml:"read_only"`
		CapDrop     []string          `yaml:"cap_drop"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []string          `yaml:"secrets"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
	}
	var compose struct {
		Services map[string]service
		Secrets  map[string]struct{ File string }
	}
	require.NoError(t, yaml.Unmarshal(b, &compose))

	nats, ok := compose.Services["nats"]
	require.True(t, ok, "a nats service")
	assert.True(t, strings.HasPrefix(nats.Image, "nats:"), "the official NATS image")
	assert.Empty(t, nats.Ports, "NATS is reachable from the compose network only")
	assert.NotContains(t, nats.Command, "-js", "core NATS, no JetStream")
	assert.NotContains(t, nats.Command, "--jetstream")

	// The secret file itself is the operator's; give parseOptions a
	// private stand-in at the path the nodes read.
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef-deploy"), 0o600))

	turnPorts := map[string]bool{}
	var ranges, shared [][2]int
	var nodes []string
	for name, s := range compose.Services {
		if !strings.HasPrefix(name, "veil") {
			continue
		}
		nodes = append(nodes, name)
		assert.True(t, s.ReadOnly, "%s writes nothing: read-only root", name)
		assert.Equal(t, []string{"ALL"}, s.CapDrop, name)
		_, err := os.Stat(filepath.Join(dir, s.Build.Context, s.Build.Dockerfile))
		require.NoError(t, err, "%s: build context and Dockerfile exist", name)
		require.Len(t, s.Secrets, 1, name)
		sf, ok := compose.Secrets[s.Secrets[0]]
		require.True(t, ok, "%s: its secret is declared", name)
		assert.NotEmpty(t, sf.File)
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = v
		}
		assert.Equal(t, "/run/secrets/"+s.Secrets[0], env["VEIL_CLUSTER_SECRET_FILE"], "%s reads the compose secret", name)
		env["VEIL_CLUSTER_SECRET_FILE"] = secret
		o := parseDeployEnv(t, env)
		assert.Equal(t, []string{"nats://nats:4222"}, o.cluster.urls, "%s joins the compose NATS", name)

		turnPort := portOf(t, o.turnListen)
		assert.False(t, turnPorts[turnPort], "%s: a TURN port of its own", name)
		turnPorts[turnPort] = true
		require.NotZero(t, o.turnPortMin, "%s: a relay range to publish", name)
		for _, r := range ranges {
			assert.True(t, o.turnPortMax < r[0] || o.turnPortMin > r[1], "%s: relay ranges do not overlap", name)
		}
		ranges = append(ranges, [2]int{o.turnPortMin, o.turnPortMax})
		shared = append(shared, [2]int{o.turnSharedMin, o.turnSharedMax})
		relay := strconv.Itoa(o.turnPortMin) + "-" + strconv.Itoa(o.turnPortMax)
		assert.ElementsMatch(t, []string{
			turnPort + ":" + turnPort + "/udp",
			turnPort + ":" + turnPort + "/tcp",
			relay + ":" + relay + "/udp",
		}, s.Ports, "%s publishes TURN only; HTTP goes through the balancer", name)
		assert.NotEmpty(t, o.security.trustedProxyList, "%s believes the balancer's forwarded address", name)
	}
	assert.Len(t, nodes, 3, "three veil nodes")
	// One host, one relay IP: each node lets relayed traffic reach every
	// node's relay range.
	for i, sh := range shared {
		for _, r := range ranges {
			assert.True(t, sh[0] <= r[0] && r[1] <= sh[1], "node %d: shared relay ports %v cover %v", i, sh, r)
		}
	}

	lb, ok := compose.Services["lb"]
	require.True(t, ok, "a load balancer")
	assert.ElementsMatch(t, []string{"443:443/tcp", "80:80/tcp"}, lb.Ports)
	caddyfile := filepath.Join(dir, "Caddyfile.cluster")
	assert.Contains(t, lb.Volumes, "./Caddyfile.cluster:/etc/caddy/Caddyfile:ro")
	cf, err := os.ReadFile(caddyfile)
	require.NoError(t, err)
	for _, n := range nodes {
		assert.Contains(t, string(cf), n+":8080", "the balancer sends to %s", n)
	}
	assert.NotRegexp(t, `(?m)^\s*log\b`, string(cf), "no access log directive")

	if caddy, err := exec.LookPath("caddy"); err == nil {
		out, err := exec.Command(caddy, "adapt", "--config", caddyfile, "--adapter", "caddyfile").CombinedOutput()
		require.NoError(t, err, "caddy adapt: %s", out)
	}
}
