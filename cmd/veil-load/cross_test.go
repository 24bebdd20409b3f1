package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/cluster"
)

// twoNodes starts an embedded NATS on loopback and two veil signaling
// servers joined through it, and returns their base URLs.
func twoNodes(t *testing.T) (a, b string) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := fmt.Sprintf("nats://%s", ns.Addr().(*net.TCPAddr))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*cluster.Node
	var urls []string
	for range 2 {
		n, err := cluster.New(cluster.Config{URLs: []string{url}, Secret: []byte("0123456789abcdef0123456789abcdef-load"),
			Heartbeat: 100 * time.Millisecond, DeadAfter: 500 * time.Millisecond, Logger: quiet})
		require.NoError(t, err)
		p := privacy.DefaultPolicy()
		p.Relay = privacy.RelayOff
		srv, err := signaling.New(signaling.Config{Policy: p, Cluster: n, MessageRate: -1, ByteRate: -1, ActionRate: -1, Logger: quiet})
		require.NoError(t, err)
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			ts.Close()
			_ = n.Close()
		})
		nodes = append(nodes, n)
		urls = append(urls, ts.URL)
	}
	require.Eventually(t, func() bool { return nodes[0].Nodes() == 1 && nodes[1].Nodes() == 1 }, 10*time.Second, 10*time.Millisecond)
	return urls[0], urls[1]
}

// TestCrossNode runs the paced workload and the saturation workload with
// every pair split over two nodes of a cluster (--url-b), natively and in
// PeerJS: every message crosses NATS and arrives.
func TestCrossNode(t *testing.T) {
	a, b := twoNodes(t)
	for _, tc := range []struct {
		name, workload string
		args           []string
	}{
		{"native paced", "", []string{"--mode", "native", "--pairs", "3", "--idle", "0", "--messages", "300", "--rate", "0"}},
		{"peerjs paced", "", []string{"--mode", "peerjs", "--pairs", "3", "--idle", "0", "--messages", "300", "--rate", "0"}},
		{"native saturate", "saturate", []string{"--mode", "native", "--pairs", "2", "--window", "2", "--warmup", "100ms", "--run", "400ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.workload, append(tc.args, "--url", a, "--url-b", b, "--duration", "20s"))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), c.duration)
			defer cancel()
			r := run(ctx, c)
			assert.Empty(t, r.Errors)
			assert.Positive(t, r.Delivered)
		})
	}
	_, err := parseFlags("", []string{"--mode", "vdo", "--url", a, "--url-b", b})
	assert.Error(t, err, "VDO.Ninja pairs need a listing a cross-node join cannot promise")
}
