package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spellings returns the ways s could show up in bytes on the wire: as
// is, base64 (standard and URL alphabets, at each of the three alignments
// it could have inside a longer encoded text), and hex in either case.
func spellings(s string) []string {
	out := []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := 0; shift < 3; shift++ {
			e := enc.EncodeToString(append(bytes.Repeat([]byte{0}, shift), s...))
			// Drop the characters the unknown neighbours change.
			from, to := (shift*4+2)/3, len(e)-4
			if to-from >= 5 { // shorter could match random bytes by chance
				out = append(out, e[from:to])
			}
		}
	}
	return out
}

// TestNATSSeesNothing: a NATS operator who subscribes to everything
// during a call across nodes reads no room name, stream name, peer id,
// client address or SDP in any subject or payload, in any spelling.
func TestNATSSeesNothing(t *testing.T) {
	ns, nodes := startCluster(t, 3)

	spy, err := nats.Connect(natsURL(ns))
	require.NoError(t, err)
	t.Cleanup(spy.Close)
	var (
		mu       sync.Mutex
		subjects []string
		payloads [][]byte
	)
	_, err = spy.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		subjects = append(subjects, m.Subject)
		payloads = append(payloads, m.Data)
	})
	require.NoError(t, err)
	require.NoError(t, spy.Flush())

	const (
		room   = "secret-room-name-7431"
		stream = "secret-stream-name-9902"
	)
	a, b, c := dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])
	a.join(room)
	b.joinSeeing(room, a)
	a.peerJoined(room, b.id)
	a.send(msg{"type": "publish", "stream": stream})
	a.expect("published", nil)
	c.send(msg{"type": "play", "stream": stream})
	a.expect("viewer", nil)
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	b.signalFrom(a.id)
	b.send(msg{"type": "signal", "to": a.id, "data": msg{"candidate": msg{"candidate": "candidate:7 1 udp 2122260223 127.0.0.1 50123 typ host"}}})
	a.signalFrom(b.id)
	a.send(msg{"type": "signal", "to": c.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	c.signalFrom(a.id)
	c.close() // a leave travels too
	time.Sleep(3 * testHeartbeat)
	require.NoError(t, spy.Flush())

	secrets := map[string]string{
		"room": room, "stream": stream,
		"peer a": a.id, "peer b": b.id, "peer c": c.id,
		"client address": "127.0.0.1", "SDP": "v=0\r\no=-", "ice-ufrag": "Zq3xK9pLmW2r", "ice-pwd": "abcdefghijklmnopqrstuvwx",
		"fingerprint": "00:11:22:33:44", "candidate": "typ host", "message type": `"signal"`,
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, payloads, "the spy saw the cluster's traffic")
	sawSignal := false
	for i, p := range payloads {
		assert.NotEqual(t, byte('{'), p[0], "payload %d is sealed, not JSON", i)
		if len(p) > len(offerSDP) {
			sawSignal = true
		}
		for what, s := range secrets {
			for _, sp := range spellings(s) {
				assert.NotContains(t, subjects[i], sp, "%s in subject %q", what, subjects[i])
				assert.False(t, bytes.Contains(p, []byte(sp)), "%s (as %q) in payload %d", what, sp, i)
			}
		}
	}
	assert.True(t, sawSignal, "an offer crossed NATS while the spy listened")
}
