package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExamplePionPeers runs examples/pion-peers against a real veil: the
// example a newcomer copies must work, relay/relay.
func TestExamplePionPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an example")
	}
	a := startVeil(t, nil)
	bin := filepath.Join(t.TempDir(), "pion-peers")
	build := exec.Command("go", "build", "-o", bin, "../../examples/pion-peers")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "-url", a.wsURL()).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "first peer: selected pair local=relay remote=relay")
	assert.Contains(t, string(out), "second peer: selected pair local=relay remote=relay")
	assert.Contains(t, string(out), "received: hello from the")
}
