package vdo_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The shared helpers (package internal/testutil), under the names these
// tests have always used.
type msg = testutil.Msg

var dial = testutil.Dial

// newTestServer starts a real signaling.Server behind httptest on loopback.
func newTestServer(t *testing.T, cfg signaling.Config) (*signaling.Server, *httptest.Server) {
	t.Helper()
	srv, err := signaling.New(cfg)
	require.NoError(t, err)
	return srv, testutil.Serve(t, srv.Handler(), srv.Shutdown)
}
