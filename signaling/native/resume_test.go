package native_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/native"
)

// offer is a small signal payload the relay filter keeps as it is.
var offer = msg{"sdp": msg{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}}

// drop cuts c's TCP connection without a close frame: what a phone
// switching networks or a proxy's idle timeout looks like to veil.
func drop(c *testutil.Client) { _ = c.WS.UnderlyingConn().Close() }

// waitParked waits until n sessions are parked (veil_parked_sessions).
func waitParked(t *testing.T, srv *signaling.Server, n float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_parked_sessions") == n
	}, testutil.RecvTimeout, 5*time.Millisecond, "want %v parked sessions", n)
}

// resume dials /ws?resume=tok (with headers h) and reads the welcome.
func resume(t *testing.T, ts *httptest.Server, tok string, h http.Header) *testutil.Client {
	t.Helper()
	c := testutil.DialRaw(t, ts, "/ws?resume="+tok, h)
	w := c.Expect("welcome")
	c.Welcome, c.ID = w, w.Str("id")
	return c
}

func TestResumeKeepsTheSession(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a, b, c := dial(t, ts, ""), dial(t, ts, ""), dial(t, ts, "")
	tok := b.Welcome.Str("resume")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err, "the token is unpadded base64url")
	assert.GreaterOrEqual(t, len(raw)*8, 128, "the token carries at least 128 random bits")
	assert.NotEqual(t, tok, a.Welcome.Str("resume"))

	a.JoinRoom("room-r")
	b.JoinRoom("room-r")
	a.Expect("peer-joined")
	b.Send(msg{"type": "publish", "stream": "st-b"})
	b.Expect("published")
	a.Expect("stream-added")
	b.Send(msg{"type": "play", "stream": "st-later"})
	b.Expect("waiting")

	drop(b)
	waitParked(t, srv, 1)

	// b is parked: a can still reach it, and what is sent is held.
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer})
	a.RoundTrip() // no error, and no peer-left or stream-ended for a
	c.Send(msg{"type": "play", "stream": "st-b"})
	assert.Equal(t, b.ID, c.Expect("playing").Str("peer"), "b still publishes its stream")
	c.JoinRoom("room-r")
	a.Expect("peer-joined")

	b2 := resume(t, ts, tok, nil)
	assert.Equal(t, true, b2.Welcome["resumed"])
	assert.Equal(t, b.ID, b2.ID, "the same id")
	tok2 := b2.Welcome.Str("resume")
	assert.NotEmpty(t, tok2)
	assert.NotEqual(t, tok, tok2, "a resumed welcome carries a new token")
	waitParked(t, srv, 0)

	// What came meanwhile, in order.
	s := b2.Expect("signal")
	assert.Equal(t, a.ID, s.Str("from"))
	assert.Equal(t, c.ID, b2.Expect("viewer").Str("peer"))
	assert.Equal(t, c.ID, b2.Expect("peer-joined")["peer"].(map[string]any)["id"])
	b2.RoundTrip()
	a.RoundTrip() // a saw neither a leave nor a join of b

	// Rooms and the pending play are still b's.
	a.Send(msg{"type": "publish", "stream": "st-later"})
	a.Expect("published")
	assert.Equal(t, a.ID, b2.ExpectSkipping("playing", "stream-added").Str("peer"))
	b2.Send(msg{"type": "signal", "to": a.ID, "data": offer})
	a.ExpectSkipping("signal", "viewer")
	b2.Send(msg{"type": "leave", "room": "room-r"})
	b2.ExpectSkipping("left", "stream-added")
	a.ExpectSkipping("peer-left", "viewer")
}

func TestResumeWindowEnds(t *testing.T) {
	var (
		mu   sync.Mutex
		gone []string
	)
	srv, ts := newTestServer(t, signaling.Config{
		ResumeGrace: 300 * time.Millisecond,
		OnPeerGone: func(id string) {
			mu.Lock()
			gone = append(gone, id)
			mu.Unlock()
		},
	})
	goneIDs := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), gone...)
	}
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-w")
	b.JoinRoom("room-w")
	a.Expect("peer-joined")

	// A resume in time keeps the TURN allocations (OnPeerGone not called).
	drop(b)
	waitParked(t, srv, 1)
	b2 := resume(t, ts, b.Welcome.Str("resume"), nil)
	require.Equal(t, b.ID, b2.ID)
	b2.RoundTrip()
	assert.Empty(t, goneIDs(), "a resumed peer keeps its TURN allocations")

	// No resume: after the window b leaves as a disconnect always did.
	drop(b2)
	waitParked(t, srv, 1)
	assert.Empty(t, goneIDs(), "nothing ends while the session is parked")
	pl := a.Expect("peer-left")
	assert.Equal(t, b.ID, pl.Str("peer"))
	waitParked(t, srv, 0)
	// OnPeerGone runs as the expired session ends, after it is unparked.
	require.Eventually(t, func() bool { return len(goneIDs()) > 0 }, 2*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{b.ID}, goneIDs(), "the allocations end once, when the window ends")

	// The expired token now gets a fresh session and resume-failed.
	b3 := resume(t, ts, b2.Welcome.Str("resume"), nil)
	assert.NotEqual(t, b.ID, b3.ID)
	assert.Nil(t, b3.Welcome["resumed"])
	assert.NotEmpty(t, b3.Welcome.Str("resume"), "a fresh session gets a token of its own")
	e := b3.ExpectError(signaling.CodeResumeFailed)
	assert.Equal(t, "resume", e.Str("ref"))
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer})
	a.ExpectError(signaling.CodeUnknownPeer)
	assert.Equal(t, 1.0, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_resumes_total", "expired"))
}

func TestResumeTokenRefusals(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-t")
	b.JoinRoom("room-t")
	a.Expect("peer-joined")
	tok := b.Welcome.Str("resume")
	drop(b)
	waitParked(t, srv, 1)
	b2 := resume(t, ts, tok, nil)
	require.Equal(t, b.ID, b2.ID)

	var messages []string
	for _, tc := range []struct{ name, tok string }{
		{"never existed", base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		{"used already", tok},
		{"another length", "short"},
		{"the id instead", b.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := resume(t, ts, tc.tok, nil)
			assert.NotEqual(t, b.ID, c.ID, "no session is handed over")
			assert.Nil(t, c.Welcome["resumed"])
			e := c.ExpectError(signaling.CodeResumeFailed)
			messages = append(messages, e.Str("message"))
			c.RoundTrip() // a fresh session that works
		})
	}
	for _, m := range messages {
		assert.Equal(t, messages[0], m, "one reply whatever the reason: no oracle")
	}
	b2.RoundTrip() // the refused attempts did not disturb the resumed session
	a.RoundTrip()
	assert.Equal(t, 4.0, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_resumes_total", "failed"))
}

func TestResumeHeldSignalsBounded(t *testing.T) {
	// A send queue of 4 frames: a parked session holds 3 (one place stays
	// for the welcome that precedes them).
	srv, ts := newTestServer(t, signaling.Config{SendQueue: 4})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-h")
	b.JoinRoom("room-h")
	a.Expect("peer-joined")
	drop(b)
	waitParked(t, srv, 1)
	for i := range 3 {
		a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": nil}, "rid": "s" + string(rune('0'+i))})
	}
	a.RoundTrip()
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer, "rid": "over"})
	e := a.ExpectError(signaling.CodePeerAway)
	assert.Equal(t, "over", e.Str("rid"))
	assert.Equal(t, "signal", e.Str("ref"))

	b2 := resume(t, ts, b.Welcome.Str("resume"), nil)
	for range 3 {
		s := b2.Expect("signal")
		assert.Equal(t, a.ID, s.Str("from"))
		assert.Equal(t, map[string]any{"candidate": nil}, s["data"])
	}
	b2.RoundTrip() // nothing else: the refused offer was not queued
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer})
	b2.Expect("signal") // and b takes signals again
}

func TestResumeEventsOverBudgetEndTheSession(t *testing.T) {
	// Events cannot be refused to anyone: a parked session that would
	// have to drop one ends instead, and its peers see it leave.
	srv, ts := newTestServer(t, signaling.Config{SendQueue: 3})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-e")
	b.JoinRoom("room-e")
	a.Expect("peer-joined")
	drop(b)
	waitParked(t, srv, 1)
	for range 3 {
		dial(t, ts, "").JoinRoom("room-e")
	}
	assert.Equal(t, b.ID, a.ExpectSkipping("peer-left", "peer-joined").Str("peer"))
	waitParked(t, srv, 0)
	c := resume(t, ts, b.Welcome.Str("resume"), nil)
	c.ExpectError(signaling.CodeResumeFailed)
}

func TestResumeNotAfterCleanClose(t *testing.T) {
	// A client that says goodbye (1000, or 1001 from a closing page)
	// leaves at once.
	for _, code := range []int{websocket.CloseNormalClosure, websocket.CloseGoingAway} {
		srv, ts := newTestServer(t, signaling.Config{})
		a, b := dial(t, ts, ""), dial(t, ts, "")
		a.JoinRoom("room-c")
		b.JoinRoom("room-c")
		a.Expect("peer-joined")
		require.NoError(t, b.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second)))
		assert.Equal(t, b.ID, a.Expect("peer-left").Str("peer"))
		assert.Equal(t, 0.0, testutil.MetricValueNoLabel(t, srv.MetricsRegistry(), "veil_parked_sessions"))
	}
}

func TestResumeDisabled(t *testing.T) {
	_, ts := newTestServer(t, signaling.Config{ResumeGrace: -1})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	assert.NotContains(t, b.Welcome, "resume", "no token when resume is off")
	a.JoinRoom("room-d")
	b.JoinRoom("room-d")
	a.Expect("peer-joined")
	drop(b)
	assert.Equal(t, b.ID, a.Expect("peer-left").Str("peer"))
	c := resume(t, ts, base64.RawURLEncoding.EncodeToString(make([]byte, 32)), nil)
	c.ExpectError(signaling.CodeResumeFailed) // the same answer as for a bad token
	c.RoundTrip()
}

func TestResumeTakesOverALiveConnection(t *testing.T) {
	// veil has not noticed the drop yet (a half-open socket): the resume
	// closes the old connection and takes its session.
	_, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-o")
	b.JoinRoom("room-o")
	a.Expect("peer-joined")
	b2 := resume(t, ts, b.Welcome.Str("resume"), nil)
	assert.Equal(t, b.ID, b2.ID)
	assert.Equal(t, true, b2.Welcome["resumed"])
	assert.Equal(t, native.CloseReplaced, b.ExpectClose())
	a.Send(msg{"type": "signal", "to": b.ID, "data": offer})
	assert.Equal(t, a.ID, b2.Expect("signal").Str("from"))
	a.RoundTrip()
}

func TestResumeParkingCaps(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{
		MaxParkedPerIP: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	from := func(ip string) *testutil.Client {
		c := testutil.DialRaw(t, ts, "/ws", http.Header{"X-Forwarded-For": {ip}})
		c.Welcome = c.Expect("welcome")
		c.ID = c.Welcome.Str("id")
		return c
	}
	obs := from("198.51.100.9")
	obs.JoinRoom("room-p")
	var peers []*testutil.Client
	for _, ip := range []string{"198.51.100.7", "198.51.100.7", "198.51.100.8"} {
		p := from(ip)
		p.JoinRoom("room-p")
		obs.Expect("peer-joined")
		peers = append(peers, p)
	}
	drop(peers[0])
	waitParked(t, srv, 1)
	drop(peers[1]) // the second of 198.51.100.7 cannot park: it leaves
	assert.Equal(t, peers[1].ID, obs.Expect("peer-left").Str("peer"))
	drop(peers[2]) // another address parks
	waitParked(t, srv, 2)
	obs.RoundTrip()
	assert.Equal(t, 1.0, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_resumes_total", "refused"))
	assert.Equal(t, 1.0, testutil.MetricValue(t, srv.MetricsRegistry(), "veil_rate_limited_total", "parked"))

	// A resume frees the place.
	back := testutil.DialRaw(t, ts, "/ws?resume="+peers[0].Welcome.Str("resume"), http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	assert.Equal(t, peers[0].ID, back.Expect("welcome").Str("id"))
	waitParked(t, srv, 1)
}

func TestResumeShutdownEndsParkedSessions(t *testing.T) {
	srv, ts := newTestServer(t, signaling.Config{})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-s")
	b.JoinRoom("room-s")
	a.Expect("peer-joined")
	drop(b)
	waitParked(t, srv, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	waitParked(t, srv, 0)
}

func TestResumePeerAwayIsNoStrike(t *testing.T) {
	// A sender that keeps trickling to a parked peer over its budget is
	// refused each time, but not closed as an abuser (more than MaxStrikes
	// refusals within the strike window).
	srv, ts := newTestServer(t, signaling.Config{SendQueue: 2, MessageRate: -1, ByteRate: -1})
	a, b := dial(t, ts, ""), dial(t, ts, "")
	a.JoinRoom("room-k")
	b.JoinRoom("room-k")
	a.Expect("peer-joined")
	drop(b)
	waitParked(t, srv, 1)
	a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": nil}})
	for range 2 * edge.MaxStrikes {
		a.Send(msg{"type": "signal", "to": b.ID, "data": msg{"candidate": nil}})
		a.ExpectError(signaling.CodePeerAway)
	}
	a.RoundTrip()
}
