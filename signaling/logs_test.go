package signaling

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/internal/testutil"
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
				AuthSecret:        testutil.Secret,
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
			roomTok := testutil.Mint(t, auth.Grant{Room: "room-Kq3vN8", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
			streamTok := testutil.Mint(t, auth.Grant{Stream: "stream-Zt5pW2", Actions: []auth.Action{auth.ActionPublish, auth.ActionPlay}}, time.Hour)
			prefixTok := testutil.Mint(t, auth.Grant{Prefix: "prefix-Hm4c", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)
			secrets = append(secrets, roomTok, streamTok, prefixTok)

			a := dialFrom(t, ts, "203.0.113.41")
			b := dialFrom(t, ts, "2001:db8:77::1")
			secrets = append(secrets, a.ID, b.ID)

			a.Send(msg{"type": "join", "room": "room-Kq3vN8", "token": roomTok})
			a.Expect("joined")
			b.Send(msg{"type": "join", "room": "room-Kq3vN8", "token": roomTok})
			b.Expect("joined")
			a.Expect("peer-joined")
			a.Send(msg{"type": "publish", "stream": "stream-Zt5pW2", "token": streamTok})
			a.Expect("published")
			b.Send(msg{"type": "play", "stream": "stream-Zt5pW2", "token": streamTok})
			b.ExpectSkipping("playing", "stream-added")
			a.Expect("viewer")
			a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}})
			b.ExpectSkipping("signal", "stream-added")
			b.Send(msg{"type": "debug", "to": a.ID, "data": msg{"address": "203.0.113.42", "rtt": 1}})
			a.Expect("debug")

			// Resume: b drops, a signals it while parked, b resumes with its
			// token; a used token is refused. No token may reach the log.
			tokB := b.Welcome.Str("resume")
			require.NotEmpty(t, tokB)
			secrets = append(secrets, a.Welcome.Str("resume"), tokB)
			_ = b.WS.UnderlyingConn().Close()
			require.Eventually(t, func() bool {
				return testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_parked_sessions") == 1
			}, 5*time.Second, 5*time.Millisecond)
			a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": nil}})
			for i, tok := range []string{tokB, tokB} {
				ws, _, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, "/ws?resume="+tok), http.Header{"X-Forwarded-For": {"2001:db8:77::1"}})
				require.NoError(t, err)
				t.Cleanup(func() { _ = ws.Close() })
				nb := &wsClient{T: t, WS: ws}
				nb.Welcome = nb.Expect("welcome")
				nb.ID = nb.Welcome.Str("id")
				secrets = append(secrets, nb.ID, nb.Welcome.Str("resume"))
				require.Equal(t, i == 0, nb.ID == b.ID, "the first use resumes, the second does not")
				if i == 0 {
					nb.Expect("signal")
					b = nb
				} else {
					nb.ExpectError(CodeResumeFailed)
				}
			}

			// Errors: bad token, wrong room, unknown peer, bad JSON, rate limit.
			b.Send(msg{"type": "join", "room": "prefix-Hm4c-x", "token": roomTok})
			b.ExpectError(CodeUnauthorized)
			b.Send(msg{"type": "join", "room": "prefix-Hm4c-x", "token": prefixTok + "x"})
			b.ExpectError(CodeUnauthorized)
			b.Send(msg{"type": "signal", "to": "room-Kq3vN8", "data": msg{"candidate": nil}})
			b.ExpectError(CodeUnknownPeer)
			b.SendRaw([]byte(`{"type":"join","room":"room-Kq3vN8"`))
			b.ExpectError(CodeBadJSON)
			for range 50 { // bounded; the budget runs out after a few
				b.Send(msg{"type": "play", "stream": "stream-Zt5pW2", "token": streamTok})
				m := b.Recv()
				if m.Str("type") == "error" {
					require.Equal(t, string(CodeRateLimited), m.Str("code"))
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
			dialFrom(t, ts, "203.0.113.41").RoundTrip()
			dialFrom(t, ts, "203.0.113.41").RoundTrip()
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
