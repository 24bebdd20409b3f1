package turn

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPionLogsScrubbedAtDebug: an embedder's logger at debug level gets
// pion's lines without client or relay addresses, ports or user names,
// even without veil's ScrubHandler around it.
func TestPionLogsScrubbedAtDebug(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	creds := ts.srv.Credentials("Zk3vN8q0bT5pW2cY7dLm1xRa")
	relay := allocate(t, newClient(t, ts.udpAddr, creds))
	_, err := newClient(t, ts.udpAddr, Credentials{Username: creds.Username, Password: "forged"}).Allocate()
	require.Error(t, err)
	// A user name that is no TURN REST user name at all: pion logs it
	// inside its "no such user exists" error.
	_, err = newClient(t, ts.udpAddr, Credentials{Username: "bob@example.com", Password: "x"}).Allocate()
	require.Error(t, err)
	out := logs.String()
	require.Contains(t, out, "AllocateRequest", "pion's lines must be logged")
	require.Contains(t, out, "Failed to handle datagram", "the line itself is kept")
	for _, leak := range []string{"127.0.0.1", "127.0.0.2", relay.LocalAddr().String(), creds.Username, "Zk3vN8q0bT5pW2cY7dLm1xRa", "bob@example.com"} {
		assert.NotContains(t, out, leak)
	}
}
