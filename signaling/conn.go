package signaling

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Connection timing. A peer must answer pings within pongWait; writes that
// take longer than writeWait mean the peer is gone or hostile.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// closeGrace bounds how long a closing handshake may take.
	closeGrace = time.Second
)

// Abuse: a connection that earns more than maxStrikes errors within
// strikeWindow is closed with 1008. Well-behaved clients never get near it.
const (
	maxStrikes   = 32
	strikeWindow = 10 * time.Second
)

// Close codes veil uses (RFC 6455 section 7.4.1).
const (
	closeNormal        = websocket.CloseNormalClosure
	closeGoingAway     = websocket.CloseGoingAway
	closePolicy        = websocket.ClosePolicyViolation
	closeTooBig        = websocket.CloseMessageTooBig
	closeTryAgainLater = 1013
)

// conn is one WebSocket connection: a reader (the caller of run) and a
// writer goroutine that owns every write, the pings and the write
// deadlines. It knows nothing of protocols; a handler gets each text frame.
// Safe for concurrent use by the hub (send, close).
type conn struct {
	ws       *websocket.Conn
	queue    chan []byte
	softMax  int // frames above this get errTooLarge, the connection stays
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex // guards closeMsg, closing and read deadline changes
	closeMsg []byte
	closing  bool // the close frame is out: read deadlines no longer move
	writerWG sync.WaitGroup
	release  func() // frees the admission slot; set by Server.upgrade

	strikes  int // bad messages in the current window; reader goroutine only
	strikeAt time.Time
}

var (
	errTooLarge  = errors.New("signaling: frame too large")
	errBinary    = errors.New("signaling: binary frame")
	errQueueFull = errors.New("signaling: send queue full")
)

// bufPool recycles read buffers so an idle connection holds none.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newConn(ws *websocket.Conn, queueLen, softMax, hardMax int) *conn {
	c := &conn{
		ws:      ws,
		queue:   make(chan []byte, queueLen),
		softMax: softMax,
		done:    make(chan struct{}),
	}
	ws.SetReadLimit(int64(hardMax))
	return c
}

// send queues a frame without blocking. A peer whose queue is full is
// closed rather than allowed to slow anyone else down.
func (c *conn) send(b []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.queue <- b:
		return true
	case <-c.done:
		return false
	default:
		c.close(closePolicy, "send queue full")
		return false
	}
}

// close starts the closing handshake with code and reason. Only the first
// call counts; the writer sends the close frame.
func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		c.mu.Unlock()
		close(c.done)
	})
}

// startWriter runs the writer goroutine.
func (c *conn) startWriter() {
	c.writerWG.Add(1)
	go c.writeLoop()
}

func (c *conn) writeLoop() {
	defer c.writerWG.Done()
	ticker := time.NewTicker(pingPeriod)
	defer ticker.Stop()
	for {
		select {
		case b := <-c.queue:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(closeNormal, "")
				_ = c.ws.Close()
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(closeNormal, "")
				_ = c.ws.Close()
				return
			}
		case <-c.done:
			c.mu.Lock()
			msg := c.closeMsg
			c.mu.Unlock()
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
			// Give the peer a moment to answer the close, then cut the
			// socket so the reader returns. Under c.mu, so the reader
			// cannot push this deadline back.
			c.mu.Lock()
			c.closing = true
			_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
			c.mu.Unlock()
			return
		}
	}
}

// renewReadDeadline gives the peer another pongWait to show it is alive,
// unless the connection is closing: then the writer's short grace deadline
// stands, so Shutdown never waits a full pongWait for a reader.
func (c *conn) renewReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// readLoop reads frames until the connection ends, calling handle for each
// text frame and onErr for frames it refuses (binary, too large). It returns
// when the socket fails or closes.
func (c *conn) readLoop(handle func([]byte), onErr func(error)) {
	c.renewReadDeadline()
	c.ws.SetPongHandler(func(string) error {
		c.renewReadDeadline()
		return nil
	})
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(closeTooBig, "frame too large")
			}
			return
		}
		// Any frame proves the peer is alive.
		c.renewReadDeadline()
		if mt != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			onErr(errBinary)
			continue
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		n, err := io.Copy(buf, io.LimitReader(r, int64(c.softMax)+1))
		if err == nil && n > int64(c.softMax) {
			_, err = io.Copy(io.Discard, r)
			if err == nil {
				onErr(errTooLarge)
			}
		} else if err == nil {
			handle(buf.Bytes())
		}
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(closeTooBig, "frame too large")
			}
			return
		}
	}
}

// strike counts a bad or refused message. A connection that earns more
// than maxStrikes within strikeWindow is closed with 1008: one bad message
// never closes a healthy connection, a stream of them does. Called from the
// reader goroutine only.
func (c *conn) strike() {
	now := time.Now()
	if now.Sub(c.strikeAt) > strikeWindow {
		c.strikes, c.strikeAt = 0, now
	}
	c.strikes++
	if c.strikes > maxStrikes {
		c.close(closePolicy, "too many bad messages")
	}
}

// finish waits for the writer, then closes the socket.
func (c *conn) finish() {
	c.close(closeNormal, "")
	c.writerWG.Wait()
	_ = c.ws.Close()
}

// remoteAddr is the socket's peer address (never logged).
func (c *conn) remoteAddr() net.Addr { return c.ws.RemoteAddr() }
