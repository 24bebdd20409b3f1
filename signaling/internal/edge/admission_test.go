package edge

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/hub"
)

func TestIdleIPEntriesExpire(t *testing.T) {
	srv := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ConnectBurstPerIP: 2, ConnectRatePerIP: 1,
		Logger: slog.Default()}, hub.New(hub.Limits{}, nil))
	a := srv.adm
	now := time.Unix(1_000_000, 0)
	a.now = func() time.Time { return now }
	admitFrom := func(ip string) (func(), int) {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		r.Header.Set("X-Forwarded-For", ip)
		w := httptest.NewRecorder()
		release, ok := srv.Admit(w, r)
		if !ok {
			return nil, w.Code
		}
		return release, http.StatusOK
	}
	relA, code := admitFrom("203.0.113.1")
	require.Equal(t, http.StatusOK, code)
	relB, code := admitFrom("203.0.113.2")
	require.Equal(t, http.StatusOK, code)
	relA()
	relA() // release is idempotent
	assert.EqualValues(t, 1, a.open.Load())
	require.Equal(t, 2, a.trackedIPs())

	// A minute later A's bucket has refilled and it has no connection: the
	// next admit sweeps it. B still has a connection and stays.
	now = now.Add(a.ipTTL + ipSweepInterval)
	relC, code := admitFrom("203.0.113.3")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 2, a.trackedIPs(), "A forgotten, B kept, C added")

	// Forgetting never comes early: a spent bucket outlives a sweep.
	relC2, code := admitFrom("203.0.113.3")
	require.Equal(t, http.StatusOK, code)
	_, code = admitFrom("203.0.113.3")
	require.Equal(t, http.StatusTooManyRequests, code)
	relC()
	relC2()
	now = now.Add(ipSweepInterval)
	relD, _ := admitFrom("203.0.113.4")
	_, code = admitFrom("203.0.113.3")
	assert.Equal(t, http.StatusTooManyRequests, code, "a sweep before the bucket refilled must not reset it")
	relB()
	relD()
	assert.Zero(t, a.open.Load())
}
