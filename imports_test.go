package veil_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/veilrtc/veil"

// dialects are the wire-protocol packages: none may import another.
var dialects = []string{module + "/signaling/native", module + "/signaling/peerjs", module + "/signaling/vdo"}

// TestImportRules enforces the one-way imports of docs/ARCHITECTURE.md on
// the module's non-test code, transitively (go list -deps):
// signaling -> dialects -> shared internals -> hub and privacy; and
// cmd/veil -> signaling/cluster -> hub, the only way to NATS.
func TestImportRules(t *testing.T) {
	deps := moduleDeps(t)
	require.Contains(t, deps, module+"/signaling/hub", "go list found the packages")

	for pkg, ds := range deps {
		veilDeps := slices.DeleteFunc(slices.Clone(ds), func(d string) bool { return !strings.HasPrefix(d, module) })
		switch {
		case pkg == module+"/privacy":
			// Pure functions anyone may vet on their own.
			assert.Empty(t, veilDeps, "privacy imports nothing of veil")
		case pkg == module+"/signaling/hub":
			// The hub knows no wire format and no transport.
			assert.Empty(t, veilDeps, "hub imports nothing of veil")
			assert.NotContains(t, ds, "net/http", "hub imports no net/http")
			assert.NotContains(t, ds, "encoding/json", "hub imports no encoding/json")
		case strings.HasPrefix(pkg, module+"/turn"):
			// An embedder may run TURN without signaling.
			for _, d := range veilDeps {
				assert.False(t, strings.HasPrefix(d, module+"/signaling"), "%s imports %s", pkg, d)
			}
		}
		if strings.HasPrefix(pkg, module+"/signaling/") {
			assert.NotContains(t, veilDeps, module+"/signaling", "%s imports the signaling root", pkg)
		}
		if pkg == module+"/signaling/cluster" {
			// The cluster plugs into the hub; it knows no wire protocol.
			for _, d := range veilDeps {
				assert.True(t, d == module+"/signaling/hub", "cluster imports %s", d)
			}
		}
		if pkg != module+"/signaling/cluster" && pkg != module+"/cmd/veil" {
			// A node without --cluster has no NATS code on its path:
			// only the cluster package and the binary that wires it in
			// depend on NATS.
			for _, d := range ds {
				assert.False(t, strings.HasPrefix(d, "github.com/nats-io/"), "%s depends on %s", pkg, d)
			}
		}
		if slices.Contains(dialects, pkg) {
			for _, other := range dialects {
				if other != pkg {
					assert.NotContains(t, veilDeps, other, "dialect %s imports dialect %s", pkg, other)
				}
			}
		}
	}
}

// moduleDeps returns, for each package of the module, every package it
// depends on, directly or not, without tests.
func moduleDeps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list: %v: %s", err, ee.Stderr)
	}
	require.NoError(t, err)
	deps := make(map[string][]string)
	d := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := d.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		deps[p.ImportPath] = p.Deps
	}
	return deps
}
