package main

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	pionturn "github.com/pion/turn/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTURNOverTLS: with --turn-cert/--turn-key, welcome offers turns: and a
// TURN client allocates a relay over TLS with the credentials it was given.
func TestTURNOverTLS(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, "turn.test")
	a := startVeil(t, func(o *options) {
		o.turnCert = filepath.Join(dir, "cert.pem")
		o.turnKey = filepath.Join(dir, "key.pem")
		o.turnTLS = "127.0.0.1:0"
	})
	require.NotZero(t, a.tlsPort)
	w := welcomeOf(t, a)
	s := w["iceServers"].([]any)[0].(map[string]any)
	tlsURL := "turns:127.0.0.1:" + strconv.Itoa(a.tlsPort) + "?transport=tcp"
	assert.Contains(t, s["urls"], tlsURL)

	addr := "127.0.0.1:" + strconv.Itoa(a.tlsPort)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	c := streamTURNClient(t, addr, conn, s)
	relay, err := c.Allocate()
	require.NoError(t, err, "allocation over TURN/TLS")
	defer relay.Close()
	assert.Equal(t, relayIP.String(), relay.LocalAddr().(*net.UDPAddr).IP.String(), "relayed from the relay address")
}

// streamTURNClient is a TURN client over conn (TCP or TLS) to addr, with
// the credentials of ice, an iceServers entry of welcome. It is closed
// when the test ends.
func streamTURNClient(t *testing.T, addr string, conn net.Conn, ice map[string]any) *pionturn.Client {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Conn:           pionturn.NewSTUNConn(conn),
		Username:       ice["username"].(string),
		Password:       ice["credential"].(string),
		Realm:          "veil",
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Listen())
	return c
}
