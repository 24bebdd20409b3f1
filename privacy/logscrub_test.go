package privacy

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScrubLog(t *testing.T) {
	peerID := "Zk3vN8q0bT5pW2cY7dLm1xRa"      // 24 base64url characters, as a native id
	user := "1763900000:" + peerID            // a TURN REST user name
	hexAddr := "3132372e302e302e313a35303030" // %x of "127.0.0.1:5000"
	for _, tc := range []struct{ name, in, want string }{
		{"pion allocate", "Received AllocateRequest from 127.0.0.1:50123", "Received AllocateRequest from 0.0.0.0:0"},
		{"five tuple", "udp 127.0.0.1:5000 127.0.0.2:3478", "udp 0.0.0.0:0 0.0.0.0:0"},
		{"ipv6 with port", "from [2001:db8::7]:443: EOF", "from [::]:0: EOF"},
		{"tls handshake", "http: TLS handshake error from 198.51.100.7:52100: remote error: tls: bad certificate",
			"http: TLS handshake error from 0.0.0.0:0: remote error: tls: bad certificate"},
		{"turn user name", "no such user exists " + user, "no such user exists 1763900000:" + Redact(peerID)},
		{"hex address", "Failed to remove ChannelBind for 16384 " + hexAddr, "Failed to remove ChannelBind for 16384 " + Redact(hexAddr)},
		{"short words kept", "Failed to handle datagram: EOF after 3 tries", "Failed to handle datagram: EOF after 3 tries"},
		{"port without address kept", "listening on port :3478", "listening on port :3478"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ScrubLog(tc.in))
		})
	}
}

// TestScrubHandler: message, string, error, Stringer and grouped values
// are scrubbed; numbers are not.
func TestScrubHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(ScrubHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("listen", "203.0.113.9:8080")
	log.WithGroup("g").Debug("from 198.51.100.7:1234",
		"err", errors.New("dial tcp 10.0.0.1:80: refused"),
		"n", 42,
		"peer", Secret("Zk3vN8q0bT5pW2cY7dLm1xRa"),
		"user", "1763900000:Zk3vN8q0bT5pW2cY7dLm1xRa",
		"own", Configured("http://192.0.2.10:8443/"))
	out := buf.String()
	// The operator's own setting passes as it is; nothing else does.
	assert.Contains(t, out, "g.own=http://192.0.2.10:8443/")
	for _, leak := range []string{"203.0.113.9", "198.51.100.7", "10.0.0.1", "8080", "1234", "Zk3vN8q0bT5pW2cY7dLm1xRa"} {
		assert.NotContains(t, out, leak)
	}
	assert.Contains(t, out, "g.n=42")
	assert.Contains(t, out, "0.0.0.0:0")
}

func FuzzScrubLog(f *testing.F) {
	for _, s := range []string{
		"Received AllocateRequest from 127.0.0.1:50123",
		"from [2001:db8::7]:443", "1763900000:Zk3vN8q0bT5pW2cY7dLm1xRa", "0.0.0.0:0.0.0.0:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := ScrubLog(s)
		require.Equal(t, out, ScrubIPs(out), "an address survived: %q", out)
		run := 0
		for i := 0; i < len(out); i++ {
			if isIdentByte(out[i]) {
				run++
				require.Less(t, run, minIdentifierLen, "identifier survived: %q", out)
			} else {
				run = 0
			}
		}
	})
}
