package signaling

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// TestIdleConnectionsArePinged: the server's pinger keeps idle connections
// alive (and finds dead ones) without a timer per connection.
func TestIdleConnectionsArePinged(t *testing.T) {
	srv, err := New(Config{})
	require.NoError(t, err)
	srv.edge.PingEvery = 20 * time.Millisecond
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		ts.Close()
	})
	c := dial(t, ts, "")
	pings := make(chan struct{}, 16)
	c.WS.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return c.WS.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	// Control frames are handled while reading; read until three pings came.
	go func() {
		for {
			if _, _, err := c.WS.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(testutil.RecvTimeout):
			t.Fatalf("ping %d never came", i+1)
		}
	}
}
