package signaling

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/auth"
)

// TestLogsCarryNoIdentities runs a whole session — join, publish, play,
// signal, debug, errors, rate limits, refused connections, shutdown — with
// the logger at info and at debug, and requires that no room name, stream
// name, peer id, token or client address reached the log. It also requires
// that something was logged, so the test cannot pass by logging nothing.
func TestLogsCarryNoIdentities(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var logs lockedBuffer
			srv, ts := newTestServer(t, Config{
				Logger:            slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level})),
				TrustedProxies:    loopbackProxy,
				AuthSecret:        testSecret,
				ConnectBurstPerIP: 3,
				ConnectRatePerIP:  1,
				ActionBurst:       6,
				ActionRate:        1,
			})
			secrets := []string{
				"127.0.0.1", strings.TrimPrefix(ts.URL, "http://"),
				"203.0.113.41", "203.0.113.42", "2001:db8:77::1", "2001:db8:77:",
				"room-Kq3vN8", "stream-Zt5pW2", "prefix-Hm4c",
			}
			roomTok := mint(t, auth.Grant{Room: "room-Kq3vN8", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
			streamTok := mint(t, auth.Grant{Stream: "stream-Zt5pW2", Actions: []auth.Action{auth.ActionPublish, auth.ActionPlay}}, time.Hour)
			prefixTok := mint(t, auth.Grant{Prefix: "prefix-Hm4c", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
			secrets = append(secrets, roomTok, streamTok, prefixTok)

			a := dialFrom(t, ts, "203.0.113.41")
			b := dialFrom(t, ts, "2001:db8:77::1")
			secrets = append(secrets, a.id, b.id)

			a.send(msg{"type": "join", "room": "room-Kq3vN8", "token": roomTok})
			a.expect("joined")
			b.send(msg{"type": "join", "room": "room-Kq3vN8", "token": roomTok})
			b.expect("joined")
			a.expect("peer-joined")
			a.send(msg{"type": "publish", "stream": "stream-Zt5pW2", "token": streamTok})
			a.expect("published")
			b.send(msg{"type": "play", "stream": "stream-Zt5pW2", "token": streamTok})
			b.expectSkipping("playing", "stream-added")
			a.expect("viewer")
			a.send(msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}})
			b.expectSkipping("signal", "stream-added")
			b.send(msg{"type": "debug", "to": a.id, "data": msg{"address": "203.0.113.42", "rtt": 1}})
			a.expect("debug")

			// Errors: bad token, wrong room, unknown peer, bad JSON, rate limit.
			b.send(msg{"type": "join", "room": "prefix-Hm4c-x", "token": roomTok})
			b.expectError(CodeUnauthorized)
			b.send(msg{"type": "join", "room": "prefix-Hm4c-x", "token": prefixTok + "x"})
			b.expectError(CodeUnauthorized)
			b.send(msg{"type": "signal", "to": "room-Kq3vN8", "data": msg{"candidate": nil}})
			b.expectError(CodeUnknownPeer)
			b.sendRaw([]byte(`{"type":"join","room":"room-Kq3vN8"`))
			b.expectError(CodeBadJSON)
			for range 50 { // bounded; the budget runs out after a few
				b.send(msg{"type": "play", "stream": "stream-Zt5pW2", "token": streamTok})
				m := b.recv()
				if m.str("type") == "error" {
					require.Equal(t, string(CodeRateLimited), m.str("code"))
					break
				}
			}
			// Refused connections: the per-IP bucket of 203.0.113.41 is spent.
			for range 3 {
				ws, _, err := tryDial(ts, "203.0.113.41", http.Header{"Origin": {"https://evil.example"}})
				if err == nil {
					_ = ws.Close()
				}
			}
			dialFrom(t, ts, "203.0.113.41").roundTrip()
			dialFrom(t, ts, "203.0.113.41").roundTrip()
			requireRefused(t, ts, "203.0.113.41", http.StatusTooManyRequests, 1)

			ctx, cancel := contextWithTimeout(5 * time.Second)
			defer cancel()
			require.NoError(t, srv.Shutdown(ctx))

			out := logs.String()
			require.Contains(t, out, "connections refused by abuse limits", "the session must have been logged")
			if level == slog.LevelDebug {
				require.Contains(t, out, "over its rate limit")
			}
			for _, s := range secrets {
				assert.NotContains(t, out, s)
			}
			t.Logf("log at %s:\n%s", level, out)
		})
	}
}
