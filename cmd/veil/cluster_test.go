package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSecret writes a cluster secret file with mode perm.
func writeSecret(t *testing.T, secret string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cluster-secret")
	require.NoError(t, os.WriteFile(p, []byte(secret+"\n"), perm))
	return p
}

func TestClusterOptions(t *testing.T) {
	good := writeSecret(t, strings.Repeat("s", 40), 0o600)
	o, err := parseOptions(nil, func(k string) string {
		return map[string]string{"VEIL_CLUSTER": "nats://127.0.0.1:4222,nats://127.0.0.1:4223", "VEIL_CLUSTER_SECRET_FILE": good}[k]
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"nats://127.0.0.1:4222", "nats://127.0.0.1:4223"}, o.cluster.urls)
	assert.Len(t, o.cluster.secret, 40)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"--cluster=nats://127.0.0.1:4222"}, "--cluster-secret-file"},
		{"short secret", []string{"--cluster=nats://127.0.0.1:4222", "--cluster-secret-file=" + writeSecret(t, "short", 0o600)}, "at least 32 bytes"},
		{"readable secret", []string{"--cluster=nats://127.0.0.1:4222", "--cluster-secret-file=" + writeSecret(t, strings.Repeat("s", 40), 0o644)}, "group or others"},
		{"options without --cluster", []string{"--cluster-secret-file=" + good}, "need --cluster"},
		{"cert without key", []string{"--cluster=nats://127.0.0.1:4222", "--cluster-secret-file=" + good, "--cluster-tls-cert=c.pem"}, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOptions(tc.args, func(string) string { return "" })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestClusterApp: two veil binaries' apps joined by an embedded NATS: a
// peer on each sees the other join and gets its signal; /healthz and
// /metrics tell the cluster's state.
func TestClusterApp(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := fmt.Sprintf("nats://%s", ns.Addr().(*net.TCPAddr))
	secret := writeSecret(t, strings.Repeat("k", 48), 0o600)
	start := func() *app {
		return startVeil(t, func(o *options) {
			o.cluster.urls = []string{url}
			o.cluster.secretFile = secret
			require.NoError(t, o.cluster.finish())
		})
	}
	a1, a2 := start(), start()
	require.Eventually(t, func() bool { return a1.node.Nodes() == 1 && a2.node.Nodes() == 1 }, 10*time.Second, 10*time.Millisecond)

	dial := func(a *app) (*websocket.Conn, string) {
		ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		var w map[string]any
		require.NoError(t, ws.ReadJSON(&w))
		return ws, w["id"].(string)
	}
	next := func(ws *websocket.Conn, typ string) map[string]any {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
		for {
			var m map[string]any
			require.NoError(t, ws.ReadJSON(&m))
			if m["type"] == typ {
				return m
			}
		}
	}
	ws1, id1 := dial(a1)
	ws2, id2 := dial(a2)
	require.NoError(t, ws1.WriteJSON(map[string]any{"type": "join", "room": "app-cluster-room"}))
	next(ws1, "joined")
	time.Sleep(500 * time.Millisecond) // the join reaches the other node
	require.NoError(t, ws2.WriteJSON(map[string]any{"type": "join", "room": "app-cluster-room"}))
	j := next(ws2, "joined")
	require.Len(t, j["peers"], 1)
	assert.Equal(t, id1, j["peers"].([]any)[0].(map[string]any)["id"])
	assert.Equal(t, id2, next(ws1, "peer-joined")["peer"].(map[string]any)["id"])
	cand := func(ip string) map[string]any {
		return map[string]any{"type": "signal", "to": id1, "data": map[string]any{"candidate": map[string]any{
			"candidate": "candidate:1 1 udp 1 " + ip + " 50000 typ relay raddr 0.0.0.0 rport 0"}}}
	}
	// Forced relay: a "relay" candidate at an address no node relays from
	// is dropped; one at a relay address a node of the cluster announced
	// crosses (both test nodes relay from 127.0.0.2).
	require.NoError(t, ws2.WriteJSON(cand("127.0.0.9")))
	require.NoError(t, ws2.WriteJSON(cand(relayIP.String())))
	s := next(ws1, "signal")
	assert.Equal(t, id2, s["from"])
	assert.Contains(t, s["data"].(map[string]any)["candidate"].(map[string]any)["candidate"], relayIP.String()+" 50000 typ relay")

	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(a1.URL() + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if path == "/healthz" {
			assert.Equal(t, "ok\n", string(b))
		} else {
			assert.Contains(t, string(b), "veil_cluster_connected 1")
			assert.Contains(t, string(b), "veil_cluster_nodes 1")
		}
	}
}
