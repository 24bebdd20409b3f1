package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSendQueueByteBudgets: a receiver over its own byte budget, or
// backlogged while the total budget is spent, is dropped; one that keeps
// up is not.
func TestSendQueueByteBudgets(t *testing.T) {
	budget := &sendBudget{max: 100, share: 10}
	var dropped []string
	budget.limited = func(l string) { dropped = append(dropped, l) }
	mk := func(maxBytes int64) *Conn {
		c := NewDetachedConn(1024)
		c.maxBytes, c.budget = maxBytes, budget
		c.ws = serverWS(t) // drop cuts the socket's writes
		return c
	}
	a := mk(50)
	require.True(t, a.Send(make([]byte, 30)))
	require.True(t, a.Send(make([]byte, 20)))
	assert.False(t, a.Send(make([]byte, 1)), "over its 50 bytes")
	assert.Equal(t, []string{LimitSendQueue}, dropped)

	b, c := mk(1000), mk(1000)
	require.True(t, b.Send(make([]byte, 50)))
	assert.Equal(t, int64(100), budget.used.Load())
	assert.False(t, b.Send(make([]byte, 5)), "backlogged while the total is spent")
	assert.True(t, c.Send(make([]byte, 5)), "an empty queue still gets its frame")
	assert.Equal(t, []string{LimitSendQueue, LimitSendQueueTotal}, dropped)

	for _, x := range []*Conn{a, b, c} {
		x.releaseQueue()
	}
	assert.Zero(t, budget.used.Load(), "released queues give their bytes back")
}

// serverWS returns the server side of a fresh loopback WebSocket.
func serverWS(t *testing.T) *websocket.Conn {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err == nil {
			got <- ws
		}
	}))
	t.Cleanup(ts.Close)
	cl, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	ws := <-got
	t.Cleanup(func() { _ = cl.Close(); _ = ws.Close() })
	return ws
}

// TestQueueLazyAndBounded: a connection holds no send queue until a frame
// is queued, keeps at most keptQueue slots once drained, and a queue that
// never quite drains stays within twice its frame cap.
func TestQueueLazyAndBounded(t *testing.T) {
	c := NewDetachedConn(64)
	assert.Nil(t, c.queue, "nothing queued, nothing held")
	for range 3 {
		require.True(t, c.Send([]byte("x")))
	}
	assert.Len(t, c.TakeQueued(), 3)
	assert.LessOrEqual(t, cap(c.queue), keptQueue, "a drained small queue is kept small")
	for range 40 {
		require.True(t, c.Send([]byte("y")))
	}
	assert.Len(t, c.TakeQueued(), 40)
	assert.Nil(t, c.queue, "a drained large queue is dropped")

	// A writer one frame behind for a long time.
	require.True(t, c.Send([]byte("z")))
	for range 10_000 {
		require.True(t, c.Send([]byte("z")))
		_, ok := c.pop()
		require.True(t, ok)
	}
	assert.LessOrEqual(t, cap(c.queue), 2*64)
	assert.Len(t, c.TakeQueued(), 1)
}
