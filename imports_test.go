package veil_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/veilrtc/veil"

// The packages the rules name.
const (
	signalingPkg = module + "/signaling"
	edgePkg      = module + "/signaling/internal/edge"
	testutilPkg  = module + "/signaling/internal/testutil"
	hubPkg       = module + "/signaling/hub"
	authPkg      = module + "/signaling/auth"
	privacyPkg   = module + "/privacy"
	clusterPkg   = module + "/signaling/cluster"
	cmdVeilPkg   = module + "/cmd/veil"
)

// dialects are the wire-protocol packages: none may import another.
var dialects = []string{module + "/signaling/native", module + "/signaling/peerjs", module + "/signaling/vdo"}

// TestImportRules enforces the one-way imports of docs/ARCHITECTURE.md on
// the module's non-test code, transitively (go list -deps):
// signaling -> dialects -> signaling/internal/edge -> hub, auth and privacy;
// and cmd/veil -> signaling/cluster -> hub, the only way to NATS.
func TestImportRules(t *testing.T) {
	deps := moduleDeps(t)
	for _, p := range append([]string{signalingPkg, edgePkg, hubPkg, authPkg, privacyPkg, clusterPkg}, dialects...) {
		require.Contains(t, deps, p, "go list found %s: a rule names a package that no longer exists", p)
	}
	assert.Empty(t, importViolations(deps))
}

// TestImportRulesCatchViolations: each rule reports a dependency graph
// that breaks it, so TestImportRules cannot pass by checking nothing.
func TestImportRulesCatchViolations(t *testing.T) {
	native, peerjs, vdo := dialects[0], dialects[1], dialects[2]
	ok := map[string][]string{
		signalingPkg:         {native, peerjs, vdo, edgePkg, hubPkg, authPkg, privacyPkg, "net/http"},
		native:               {edgePkg, hubPkg, authPkg, privacyPkg, "net/http"},
		peerjs:               {edgePkg, hubPkg, authPkg, "net/http"},
		vdo:                  {edgePkg, hubPkg, authPkg, privacyPkg},
		edgePkg:              {hubPkg, authPkg, privacyPkg, "net/http", "encoding/json"},
		hubPkg:               {"sync"},
		authPkg:              {"crypto/hmac"},
		privacyPkg:           {"net/netip"},
		testutilPkg:          {edgePkg, hubPkg},
		module + "/turn":     {"github.com/pion/turn/v5"},
		module + "/cmd/veil": {signalingPkg, module + "/turn", clusterPkg, "github.com/nats-io/nats.go"},
		clusterPkg:           {hubPkg, "github.com/nats-io/nats.go"},
	}
	require.Empty(t, importViolations(ok), "a graph that keeps the rules")
	for _, tc := range []struct {
		name     string
		pkg, dep string
	}{
		{"privacy imports veil", privacyPkg, hubPkg},
		{"hub imports veil", hubPkg, authPkg},
		{"hub imports net/http", hubPkg, "net/http"},
		{"hub imports encoding/json", hubPkg, "encoding/json"},
		{"turn imports signaling", module + "/turn", signalingPkg},
		{"turn imports the hub", module + "/turn", hubPkg},
		{"a dialect imports another", peerjs, native},
		{"a dialect imports the root", vdo, signalingPkg},
		{"edge imports a dialect", edgePkg, vdo},
		{"edge imports the root", edgePkg, signalingPkg},
		{"hub imports the root", hubPkg, signalingPkg},
		{"code imports the test helpers", native, testutilPkg},
		{"the root imports the test helpers", signalingPkg, testutilPkg},
		{"the cluster imports a dialect", clusterPkg, native},
		{"the cluster imports the root", clusterPkg, signalingPkg},
		{"the root depends on NATS", signalingPkg, "github.com/nats-io/nats.go"},
		{"a dialect depends on NATS", peerjs, "github.com/nats-io/nats.go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := make(map[string][]string, len(ok))
			for p, ds := range ok {
				bad[p] = slices.Clone(ds)
			}
			bad[tc.pkg] = append(bad[tc.pkg], tc.dep)
			assert.NotEmpty(t, importViolations(bad))
		})
	}
}

// importViolations lists every broken rule of deps (package -> its
// dependencies, transitively).
func importViolations(deps map[string][]string) []string {
	var out []string
	bad := func(pkg, why string, args ...any) { out = append(out, pkg+": "+fmt.Sprintf(why, args...)) }
	for pkg, ds := range deps {
		veilDeps := slices.DeleteFunc(slices.Clone(ds), func(d string) bool { return !strings.HasPrefix(d, module) })
		only := func(allowed ...string) {
			for _, d := range veilDeps {
				if !slices.Contains(allowed, d) {
					bad(pkg, "imports %s", d)
				}
			}
		}
		switch {
		case pkg == privacyPkg:
			// Pure functions anyone may vet on their own.
			only()
		case pkg == hubPkg:
			// The hub knows no wire format and no transport.
			only()
			for _, std := range []string{"net/http", "encoding/json"} {
				if slices.Contains(ds, std) {
					bad(pkg, "imports %s", std)
				}
			}
		case strings.HasPrefix(pkg, module+"/turn"):
			// An embedder may run TURN without signaling.
			for _, d := range veilDeps {
				if strings.HasPrefix(d, signalingPkg) {
					bad(pkg, "imports %s", d)
				}
			}
		case slices.Contains(dialects, pkg):
			// A dialect sees the shared layer, the hub, tokens and
			// privacy: never another dialect, nor the root that mounts it.
			only(edgePkg, hubPkg, authPkg, privacyPkg)
		case pkg == edgePkg:
			// What the dialects share knows none of them.
			only(hubPkg, authPkg, privacyPkg)
		case pkg == clusterPkg:
			// The cluster plugs into the hub; it knows no wire protocol.
			only(hubPkg)
		}
		if pkg != clusterPkg && pkg != cmdVeilPkg {
			// A node without --cluster has no NATS code on its path:
			// only the cluster package and the binary that wires it in
			// depend on NATS.
			for _, d := range ds {
				if strings.HasPrefix(d, "github.com/nats-io/") {
					bad(pkg, "depends on %s", d)
				}
			}
		}
		if pkg != testutilPkg && slices.Contains(veilDeps, testutilPkg) {
			bad(pkg, "imports the test helpers %s", testutilPkg)
		}
		if strings.HasPrefix(pkg, signalingPkg+"/") && slices.Contains(veilDeps, signalingPkg) {
			bad(pkg, "imports the signaling root")
		}
	}
	slices.Sort(out)
	return out
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
