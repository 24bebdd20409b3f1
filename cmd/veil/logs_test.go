package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDebugLogsCarryNoIdentities runs a whole veil at --log-level debug,
// with its real logger (newLogger), TLS and operator tokens, and drives
// the lines libraries write: TURN allocations over UDP and TCP, a refused
// TURN user name, a permission the peer policy refuses, a failed TLS
// handshake. No line may carry a client or relay address, a client port,
// the peer id, a TURN user name, the room name or the token; and the
// library lines must be there, so the test cannot pass by logging nothing.
func TestDebugLogsCarryNoIdentities(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, "veil-test")
	secret := []byte("0123456789abcdef0123456789abcdef-logs")
	o, err := parseOptions([]string{
		"--listen=127.0.0.1:0", "--turn-listen=127.0.0.1:0",
		"--turn-public-ip=" + relayIP.String(), "--log-level=debug",
		"--tls-cert=" + filepath.Join(dir, "cert.pem"), "--tls-key=" + filepath.Join(dir, "key.pem"),
	}, func(k string) string {
		if k == "VEIL_AUTH_SECRET" {
			return string(secret)
		}
		return ""
	})
	require.NoError(t, err)
	var logs lockedBuffer
	a, err := newApp(o, newLogger(&logs, o.logLevel))
	require.NoError(t, err)
	a.serve()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			require.NoError(t, a.Shutdown(ctx))
		}
	}
	t.Cleanup(stop)

	const room = "room-Kq3vN8zz"
	tok, err := signaling.MintToken(secret, signaling.Grant{Room: room, Actions: []signaling.Action{signaling.ActionJoin}}, time.Hour, time.Now())
	require.NoError(t, err)
	secrets := []string{"127.0.0.1", relayIP.String(), room, tok}

	// A native peer with its token in the URL gets TURN in welcome.
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	ws, _, err := d.Dial("wss://"+a.httpLn.Addr().String()+"/ws?token="+url.QueryEscape(tok), nil)
	require.NoError(t, err)
	defer ws.Close()
	var w map[string]any
	require.NoError(t, ws.ReadJSON(&w))
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join", "room": room, "token": tok}))
	var joined map[string]any
	require.NoError(t, ws.ReadJSON(&joined))
	require.Equal(t, "joined", joined["type"])
	ice := w["iceServers"].([]any)[0].(map[string]any)
	user, pass := ice["username"].(string), ice["credential"].(string)
	secrets = append(secrets, w["id"].(string), user)

	turnAddr := "127.0.0.1:" + strconv.Itoa(a.udpPort)
	clientPorts := []string{}
	newClient := func(conn net.PacketConn, user string) *pionturn.Client {
		c, err := pionturn.NewClient(&pionturn.ClientConfig{
			STUNServerAddr: turnAddr, TURNServerAddr: turnAddr, Conn: conn,
			Username: user, Password: pass, Realm: "veil",
		})
		require.NoError(t, err)
		require.NoError(t, c.Listen())
		return c
	}
	// UDP: allocate, then ask for a permission the policy refuses.
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	clientPorts = append(clientPorts, strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port))
	cu := newClient(udp, user)
	defer cu.Close()
	relay, err := cu.Allocate()
	require.NoError(t, err)
	defer relay.Close()
	secrets = append(secrets, relay.LocalAddr().String())
	_ = cu.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}) // refused: loopback

	// TCP: allocate.
	tcp, err := net.Dial("tcp4", turnAddr)
	require.NoError(t, err)
	clientPorts = append(clientPorts, strconv.Itoa(tcp.LocalAddr().(*net.TCPAddr).Port))
	ct := newClient(pionturn.NewSTUNConn(tcp), user)
	defer ct.Close()
	relayT, err := ct.Allocate()
	require.NoError(t, err)
	defer relayT.Close()

	// A forged user name naming another peer id.
	forgedUser := "1999999999:Zk3vN8q0bT5pW2cY7dLmXRa1"
	udp2, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp2.Close()
	clientPorts = append(clientPorts, strconv.Itoa(udp2.LocalAddr().(*net.UDPAddr).Port))
	cf := newClient(udp2, forgedUser)
	_, err = cf.Allocate()
	require.Error(t, err)
	cf.Close()
	secrets = append(secrets, forgedUser, "Zk3vN8q0bT5pW2cY7dLmXRa1")

	// A TLS handshake that fails: net/http logs the client's address.
	raw, err := net.Dial("tcp4", a.httpLn.Addr().String())
	require.NoError(t, err)
	clientPorts = append(clientPorts, strconv.Itoa(raw.LocalAddr().(*net.TCPAddr).Port))
	_, _ = raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = raw.Read(make([]byte, 512))
	_ = raw.Close()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "TLS handshake error") },
		5*time.Second, 20*time.Millisecond, "net/http's line must reach the log")

	_ = relay.Close()
	_ = relayT.Close()
	cu.Close()
	ct.Close()
	_ = ws.Close()
	stop()

	out := logs.String()
	for _, want := range []string{"AllocateRequest", "TLS handshake error", "level=DEBUG", "permission denied", "Failed to handle datagram"} {
		require.Contains(t, out, want, "the session must have been logged")
	}
	for _, s := range secrets {
		assert.NotContains(t, out, s)
	}
	for _, p := range clientPorts {
		assert.NotContains(t, out, ":"+p, "a client port")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("log at debug:\n%s", out)
	}
}

// TestNoticeNamesLogLevel: the notice (/privacy and veil privacy-notice)
// names the level veil runs at.
func TestNoticeNamesLogLevel(t *testing.T) {
	a := startVeil(t, func(o *options) { o.logLevel = slog.LevelDebug; o.turnEnabled = false })
	req, err := http.NewRequest(http.MethodGet, a.URL()+"/privacy", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), "Log level: debug.")

	o, err := parseOptions([]string{"--log-level=warn"}, func(string) string { return "" })
	require.NoError(t, err)
	assert.Contains(t, noticeMarkdown(o), "Log level: warn.")
}
