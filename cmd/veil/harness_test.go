package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pebble's validation authority (acme_test.go) reads its task
		// queue forever: it has no Close.
		goleak.IgnoreTopFunction("github.com/letsencrypt/pebble/v2/va.VAImpl.processTasks"))
}

// relayIP is where the test TURN server relays from: another loopback
// address than the peers' host candidates (127.0.0.1), as in a real
// deployment where the relay is not the peer's own address.
var relayIP = netip.MustParseAddr("127.0.0.2")

// startVeil runs a whole veil (signaling + embedded TURN) on loopback:
// HTTP and TURN on 127.0.0.1 with ephemeral ports, relay on 127.0.0.2.
// mutate adjusts the options first.
func startVeil(t *testing.T, mutate func(*options)) *app {
	t.Helper()
	o, err := parseOptions([]string{
		"--listen=127.0.0.1:0",
		"--turn-listen=127.0.0.1:0",
		"--turn-public-ip=" + relayIP.String(),
	}, func(string) string { return "" })
	require.NoError(t, err)
	if mutate != nil {
		mutate(&o)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := newApp(o, log)
	require.NoError(t, err)
	a.serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		require.NoError(t, a.Shutdown(ctx))
	})
	return a
}

// wsURL is the app's native WebSocket URL.
func (a *app) wsURL() string { return "ws" + strings.TrimPrefix(a.URL(), "http") + "/ws" }

// browserEnv finds Chromium and the npm packages the browser tests need.
// Outside CI a missing browser skips the test; in CI it fails it.
func browserEnv(t *testing.T) (chromium, webDir string) {
	t.Helper()
	chromium = os.Getenv("VEIL_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	webDir, err := filepath.Abs("../../e2e/web")
	require.NoError(t, err)
	_, errC := os.Stat(chromium)
	_, errN := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core"))
	_, errNode := exec.LookPath("node")
	if errC != nil || errN != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser test needs chromium (%v), node (%v) and e2e/web/node_modules (%v); .ci/run installs them", errC, errNode, errN)
		}
		t.Skip("chromium, node or e2e/web/node_modules missing; run .ci/run or npm ci in e2e/web")
	}
	return chromium, webDir
}

// runNode runs a Playwright script from e2e/web/test against base, with
// a hard deadline, and fails the test with its output if it fails.
func runNode(t *testing.T, script, base string, env ...string) string {
	t.Helper()
	chromium, webDir := browserEnv(t)
	return runScript(t, webDir, script, base, append([]string{"VEIL_CHROMIUM=" + chromium}, env...)...)
}

// runScript runs a node script from webDir/test against base, with a hard
// deadline, and fails the test with its output if it fails.
func runScript(t *testing.T, webDir, script, base string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(webDir, "test", script))
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), append([]string{
		"VEIL_URL=" + base,
		"VEIL_ARTIFACTS=" + t.TempDir(),
	}, env...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node %s failed:\n%s", script, out)
	return string(out)
}
