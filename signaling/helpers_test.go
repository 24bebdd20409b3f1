package signaling

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/veilrtc/veil/signaling/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The shared helpers (package internal/testutil), under the names these
// tests have always used.
type (
	msg      = testutil.Msg
	wsClient = testutil.Client
)

var (
	dial    = testutil.Dial
	dialRaw = testutil.DialRaw
)

// newTestServer starts a real Server behind httptest on loopback.
func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg)
	require.NoError(t, err)
	return srv, testutil.Serve(t, srv.Handler(), srv.Shutdown)
}
