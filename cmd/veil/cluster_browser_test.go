package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// startClusterApps runs an embedded NATS on loopback and k whole veils
// (signaling + embedded TURN, relay on 127.0.0.2) joined through it, and
// waits until each sees the others.
func startClusterApps(t *testing.T, k int) []*app {
	t.Helper()
	return startClusterAppsWith(t, k, nil)
}

// startClusterAppsWith is startClusterApps with each node's options
// changed by mutate (nil: none) after the cluster's.
func startClusterAppsWith(t *testing.T, k int, mutate func(*options)) []*app {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := fmt.Sprintf("nats://%s", ns.Addr().(*net.TCPAddr))
	secret := writeSecret(t, strings.Repeat("k", 48), 0o600)
	// The nodes share the relay address 127.0.0.2, as nodes on one host
	// share its IP: each relays from a range of its own and lets relayed
	// traffic reach the others' (--turn-shared-relay-ports).
	const span = 40
	base := 20000 + rand.IntN(20000/span)*span
	apps := make([]*app, k)
	for i := range apps {
		apps[i] = startVeil(t, func(o *options) {
			o.cluster.urls = []string{url}
			o.cluster.secretFile = secret
			require.NoError(t, o.cluster.finish())
			o.turnPortMin, o.turnPortMax = base+i*span, base+(i+1)*span-1
			o.turnSharedMin, o.turnSharedMax = base, base+k*span-1
			if mutate != nil {
				mutate(o)
			}
		})
	}
	require.Eventually(t, func() bool {
		for _, a := range apps {
			if a.node.Nodes() != k-1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every node sees the others")
	return apps
}

// TestPeerJSBrowserCluster runs e2e/web/test/peerjs.mjs with its two
// pages on two nodes of a cluster: the real `peerjs` 1.5.5 client in
// Debian's Chromium, each page with its own node's WebSocket and TURN
// credentials, relay forced (iceTransportPolicy 'relay'). The script's
// assertions then hold across nodes: B asking for A's id (live on the
// other node) gets unavailable-id, a DataConnection and fake-camera
// video both ways, every remote candidate relay on the relay address
// with raddr 0.0.0.0, the selected pairs relay/relay.
func TestPeerJSBrowserCluster(t *testing.T) {
	browserEnv(t) // skip early, before starting veil, when there is no browser
	apps := startClusterApps(t, 2)
	t.Log(runNode(t, "peerjs.mjs", apps[0].URL(), "VEIL_RELAY_IP="+relayIP.String(), "VEIL_URL_B="+apps[1].URL()))
}

// TestVDOBrowserCluster runs e2e/web/test/vdo.mjs with the viewer and the
// publisher on two nodes of a cluster (relay forced): a play waiting on
// one node is offered the stream seeded on the other (offerSDP), video
// frames arrive, remote candidates are relay-only, pairs relay/relay.
func TestVDOBrowserCluster(t *testing.T) {
	browserEnv(t)
	apps := startClusterApps(t, 2)
	t.Log(runNode(t, "vdo.mjs", apps[0].URL(), "VEIL_RELAY_IP="+relayIP.String(), "VEIL_URL_B="+apps[1].URL()))
}
