package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Connection timing. A peer must answer pings within pongWait; writes that
// take longer than writeWait mean the peer is gone or hostile. The Server
// pings every connection every pingPeriod.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// closeGrace bounds how long a closing handshake may take.
	closeGrace = time.Second
	// messageWait bounds how long a message may take to arrive whole once
	// its first frame has. Pongs (allowed between fragments) do not extend
	// it: otherwise a peer could hold a half-sent message of up to the
	// read limit in veil's memory for as long as it kept ponging.
	messageWait = 10 * time.Second
	// closeDrainBytes bounds what is read and discarded, within closeGrace,
	// after a frame over the read limit: the rest of that frame is still
	// on its way, and closing a socket with unread data sends a TCP reset
	// that can destroy the 1009 close frame before the client reads it.
	closeDrainBytes = 8 << 20
)

// socketSendBuffer is the kernel send buffer of every WebSocket (SO_SNDBUF;
// Linux doubles it). Left to autotuning it grows to tcp_wmem's maximum, 4
// MiB by default, for a peer that does not read: kernel memory that veil's
// byte budgets would not see, and time before a never-reading peer's queue
// fills and it is dropped. Signaling needs little: a few frames in flight.
const socketSendBuffer = 64 << 10

// boundSendBuffer fixes c's kernel send buffer at socketSendBuffer, under
// TLS too. Errors are ignored: the queue budgets still hold.
func boundSendBuffer(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(socketSendBuffer)
	}
}

// Abuse: a connection that earns more than MaxStrikes errors within
// strikeWindow is closed with 1008. Well-behaved clients never get near it.
const (
	MaxStrikes   = 32
	strikeWindow = 10 * time.Second
)

// Close codes veil uses (RFC 6455 section 7.4.1).
const (
	CloseNormal        = websocket.CloseNormalClosure
	CloseGoingAway     = websocket.CloseGoingAway
	ClosePolicy        = websocket.ClosePolicyViolation
	CloseTooBig        = websocket.CloseMessageTooBig
	CloseTryAgainLater = 1013
)

// Conn is one WebSocket connection: a reader (the caller of readLoop) and
// at most one writer goroutine at a time, which owns every data write and
// the write deadlines. The writer runs only while there is something to
// write: an idle connection holds no writer goroutine and no timer. Pings
// are queued like frames by the Server's pinger. Conn knows nothing of
// protocols; a Session gets each text frame. Safe for concurrent use by the
// hub (Send, Close).
type Conn struct {
	ws      *websocket.Conn
	softMax int // frames above this get ErrTooLarge, the connection stays
	done    chan struct{}
	once    sync.Once
	writing atomic.Bool   // a writer goroutine runs (stays true once closed)
	dropped atomic.Bool   // closed for not reading: no close frame
	tooBig  atomic.Bool   // closed for a frame over the read limit
	closed  chan struct{} // closed by the writer once the close frame is out

	mu         sync.Mutex // guards closeMsg, closing and read deadline changes
	closeMsg   []byte
	closing    bool          // the close frame is out: read deadlines no longer move
	midMessage bool          // a message's first frame is in, its last is not
	msgWait    time.Duration // messageWait; shorter in tests

	release func() // frees the admission slot; set by Server.upgrade

	qmu sync.Mutex // guards the following fields
	// queue[head:] are the frames to write, a nil frame asking for a ping;
	// at most queueLen. It is allocated by the first frame, reused while
	// small and dropped when a large one drains, so a connection that was
	// never sent anything holds no queue and one that was holds at most
	// keptQueue slots.
	queue       [][]byte
	head        int
	queueLen    int
	queuedBytes int64 // bytes of the frames in queue
	maxBytes    int64 // queuedBytes cap; <= 0: none
	budget      *sendBudget
	qclosed     bool // released: nothing more is accounted

	strikes  int // bad messages in the current window; reader goroutine only
	strikeAt time.Time

	peerCode   atomic.Int32 // the close code the client sent (PeerCloseCode)
	serverCode atomic.Int32 // the close code veil chose (ServerCloseCode)
}

// sendBudget is the byte budget of every send queue of a Server together.
// Safe for concurrent use.
type sendBudget struct {
	max  int64 // <= 0: no total cap
	used atomic.Int64
	// share is what one queue may hold while the total is over max: a
	// receiver that keeps up holds less, so only backlogged receivers are
	// dropped when the budget runs out.
	share int64
	// limited counts a connection closed for a limit (the metrics'
	// veil_rate_limited_total); nil counts nothing.
	limited func(limit string)
}

// Limit names of dropped receivers (veil_rate_limited_total's label).
const (
	LimitSendQueue      = "send-queue"       // its own frame or byte cap
	LimitSendQueueTotal = "send-queue-total" // the Server's total byte budget
	LimitReadLimit      = "read-limit"       // a frame over the hard read limit
)

// Frames the connection layer refuses, as a Session's Refuse gets them.
var (
	ErrTooLarge = errors.New("signaling: frame too large")
	ErrBinary   = errors.New("signaling: binary frame")
)

// keptQueue is the largest send queue (in slots) a connection keeps once
// it drained: enough for the usual burst of a handshake without an
// allocation per frame, little for an idle connection to hold.
const keptQueue = 8

// bufPool recycles read buffers so an idle connection holds none.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newConn(ws *websocket.Conn, queueLen, softMax, hardMax int, maxBytes int64, budget *sendBudget) *Conn {
	c := &Conn{
		ws:       ws,
		queueLen: queueLen,
		softMax:  softMax,
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
		maxBytes: maxBytes,
		budget:   budget,
		msgWait:  messageWait,
	}
	ws.SetReadLimit(int64(hardMax))
	boundSendBuffer(ws.NetConn())
	return c
}

// Send queues a frame without blocking. A peer whose queue is full, in
// frames or in bytes, is closed rather than allowed to slow anyone else
// down or to hold our memory; so is a backlogged peer while the Server's
// total budget is spent.
func (c *Conn) Send(b []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	n := int64(len(b))
	c.qmu.Lock()
	if c.qclosed {
		c.qmu.Unlock()
		return false
	}
	limit := ""
	switch {
	case c.maxBytes > 0 && c.queuedBytes+n > c.maxBytes:
		limit = LimitSendQueue
	case c.budget != nil && c.budget.max > 0 && c.queuedBytes >= c.budget.share &&
		c.budget.used.Load()+n > c.budget.max:
		limit = LimitSendQueueTotal
	}
	if limit == "" {
		if len(c.queue)-c.head < c.queueLen {
			c.pushLocked(b)
			c.accountLocked(n)
			c.qmu.Unlock()
			c.kick()
			return true
		}
		limit = LimitSendQueue
	}
	c.qmu.Unlock()
	c.drop(limit)
	return false
}

// accountLocked adds n bytes (negative: frees them) to the queue's and the
// Server's count. c.qmu must be held.
func (c *Conn) accountLocked(n int64) {
	c.queuedBytes += n
	if c.budget != nil {
		c.budget.used.Add(n)
	}
}

// pushLocked appends b to the queue, first moving what waits to the front
// when the slice is full, so a queue that never quite drains does not grow
// past twice its frame cap. c.qmu must be held.
func (c *Conn) pushLocked(b []byte) {
	if c.head > 0 && len(c.queue) == cap(c.queue) {
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue, c.head = c.queue[:n], 0
	}
	c.queue = append(c.queue, b)
}

// pop takes the next frame off the queue and frees its bytes; ok is false
// when the queue is empty. The queue is dropped once drained.
func (c *Conn) pop() (b []byte, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.head == len(c.queue) {
		return nil, false
	}
	b = c.queue[c.head]
	c.queue[c.head] = nil
	c.head++
	if c.head == len(c.queue) {
		c.head = 0
		c.queue = c.queue[:0]
		if cap(c.queue) > keptQueue {
			c.queue = nil
		}
	}
	if !c.qclosed {
		c.accountLocked(-int64(len(b)))
	}
	return b, true
}

// queued reports whether frames wait in the queue.
func (c *Conn) queued() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.head < len(c.queue)
}

// releaseQueue gives back what is still queued, once the writer is done:
// a dropped peer's queue is never written.
func (c *Conn) releaseQueue() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.qclosed {
		return
	}
	c.qclosed = true
	c.accountLocked(-c.queuedBytes)
	c.queue, c.head = nil, 0
}

// drop disconnects a peer that does not read what it is sent. Its writer is
// likely blocked on a full socket buffer: the write is cut short and no
// close frame is attempted, so the peer leaves its rooms now rather than
// after writeWait.
func (c *Conn) drop(limit string) {
	if c.dropped.CompareAndSwap(false, true) {
		c.count(limit)
	}
	c.Close(ClosePolicy, "send queue full")
	_ = c.ws.NetConn().SetWriteDeadline(time.Now())
}

// Reject writes frame at once and closes the connection normally: the
// answer of a dialect that refuses a connection it just upgraded (bad
// parameters, a taken id). Only before anything is queued, when no writer
// runs, so the frame cannot race the close frame.
func (c *Conn) Reject(frame []byte) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	_ = c.ws.WriteMessage(websocket.TextMessage, frame)
	c.Close(CloseNormal, "")
}

// ping queues a ping. A full queue needs none: the writer is busy with it.
func (c *Conn) ping() {
	c.qmu.Lock()
	if len(c.queue)-c.head >= c.queueLen {
		c.qmu.Unlock()
		return
	}
	c.pushLocked(nil)
	c.qmu.Unlock()
	c.kick()
}

// Close starts the closing handshake with code and reason. Only the first
// call counts; the writer sends the close frame.
func (c *Conn) Close(code int, reason string) {
	c.once.Do(func() {
		c.serverCode.Store(int32(code))
		c.mu.Lock()
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		c.mu.Unlock()
		close(c.done)
	})
	c.kick()
}

// kick starts a writer unless one runs. Exactly one writer runs at a time:
// the compare-and-swap elects it.
func (c *Conn) kick() {
	if c.writing.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
}

// writeLoop writes queued frames until the queue is empty, then exits; the
// next send starts another. Once the connection is closing it sends the
// close frame, keeps writing set so no writer starts again, and closes
// c.closed.
func (c *Conn) writeLoop() {
	for {
		select {
		case <-c.done:
			c.writeClose()
			return
		default:
		}
		if b, ok := c.pop(); ok {
			if err := c.write(b); err != nil {
				c.Close(CloseNormal, "")
			}
			continue
		}
		// Nothing to write: step down, then look again, since a send or a
		// close may have come in between and found us running.
		c.writing.Store(false)
		select {
		case <-c.done:
		default:
			if !c.queued() {
				return
			}
		}
		if !c.writing.CompareAndSwap(false, true) {
			return // another writer took over
		}
	}
}

// write writes one queued frame; nil is a ping.
func (c *Conn) write(b []byte) error {
	deadline := time.Now().Add(writeWait)
	if b == nil {
		return c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	}
	_ = c.ws.SetWriteDeadline(deadline)
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// writeClose sends what is still queued and the close frame, gives the
// peer a moment to answer, then lets the reader's deadline cut the socket.
// A dropped peer gets neither: it was not reading.
func (c *Conn) writeClose() {
	c.mu.Lock()
	msg := c.closeMsg
	c.mu.Unlock()
	grace := time.Duration(0)
	if !c.dropped.Load() {
		// What was queued before the close goes out first (the errors
		// that led to it, say), all within one writeWait.
		deadline := time.Now().Add(writeWait)
		_ = c.ws.SetWriteDeadline(deadline)
	drain:
		for {
			b, ok := c.pop()
			switch {
			case !ok:
				break drain
			case b == nil:
				continue // no point in a ping now
			}
			if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
				break drain
			}
		}
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, deadline)
		grace = closeGrace
	}
	// Under c.mu, so the reader cannot push this deadline back.
	c.mu.Lock()
	c.closing = true
	_ = c.ws.SetReadDeadline(time.Now().Add(grace))
	c.mu.Unlock()
	close(c.closed)
}

// renewReadDeadline gives the peer another pongWait to show it is alive,
// unless the connection is closing: then the writer's short grace deadline
// stands, so Shutdown never waits a full pongWait for a reader.
func (c *Conn) renewReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing && !c.midMessage {
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// startMessage gives the message whose first frame just arrived msgWait to
// arrive whole (messageWait), a deadline pongs do not move.
func (c *Conn) startMessage() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.midMessage = true
		_ = c.ws.SetReadDeadline(time.Now().Add(c.msgWait))
	}
}

// endMessage: the message is in; the peer gets pongWait again.
func (c *Conn) endMessage() {
	c.mu.Lock()
	c.midMessage = false
	c.mu.Unlock()
	c.renewReadDeadline()
}

// readLoop reads frames until the connection ends, calling handle for each
// text frame and onErr for frames it refuses (binary, too large). It returns
// when the socket fails or closes.
func (c *Conn) readLoop(handle func([]byte), onErr func(error)) {
	c.renewReadDeadline()
	c.ws.SetPongHandler(func(string) error {
		c.renewReadDeadline()
		return nil
	})
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.startMessage()
		if mt != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			c.endMessage()
			onErr(ErrBinary)
			continue
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		n, err := io.Copy(buf, io.LimitReader(r, int64(c.softMax)+1))
		if err == nil && n > int64(c.softMax) {
			_, err = io.Copy(io.Discard, r)
			if err == nil {
				c.endMessage()
				onErr(ErrTooLarge)
			}
		} else if err == nil {
			c.endMessage()
			handle(buf.Bytes())
		}
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
		if err != nil {
			c.readFailed(err)
			return
		}
	}
}

// readFailed closes with 1009 when err is a frame over the read limit.
// gorilla has sent a bare 1009 already; ours carries the reason, and
// finish drains the rest of the frame so the client reads either.
func (c *Conn) readFailed(err error) {
	c.notePeerClose(err)
	if errors.Is(err, websocket.ErrReadLimit) {
		c.tooBig.Store(true)
		c.count(LimitReadLimit)
		c.Close(CloseTooBig, "frame too large")
	}
}

// count counts a limit c was closed for.
func (c *Conn) count(limit string) {
	if c.budget != nil && c.budget.limited != nil {
		c.budget.limited(limit)
	}
}

// Strike counts a bad or refused message. A connection that earns more
// than MaxStrikes within strikeWindow is closed with 1008: one bad message
// never closes a healthy connection, a stream of them does. Called from the
// reader goroutine only.
func (c *Conn) Strike() {
	now := time.Now()
	if now.Sub(c.strikeAt) > strikeWindow {
		c.strikes, c.strikeAt = 0, now
	}
	c.strikes++
	if c.strikes > MaxStrikes {
		c.Close(ClosePolicy, "too many bad messages")
	}
}

// Finish closes the connection (if nothing did yet), waits for the close
// frame to go out, then closes the socket.
func (c *Conn) Finish() {
	c.Close(CloseNormal, "")
	<-c.closed
	c.releaseQueue()
	if c.tooBig.Load() {
		nc := c.ws.NetConn()
		if tc, ok := nc.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite() // the close frame is out: tell the client so
		}
		_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
		_, _ = io.CopyN(io.Discard, nc, closeDrainBytes)
	}
	_ = c.ws.Close()
}

// NewDetachedConn returns a Conn without a socket whose queue nobody
// writes out: frames stay queued for TakeQueued. For tests that drive a
// dialect's sessions directly; its writer flag is set so no writer (which
// needs a socket) ever starts.
func NewDetachedConn(queueLen int) *Conn {
	c := &Conn{queueLen: queueLen, done: make(chan struct{}), closed: make(chan struct{})}
	c.writing.Store(true)
	return c
}

// TakeQueued removes and returns what is queued on c.
func (c *Conn) TakeQueued() [][]byte {
	var out [][]byte
	for {
		b, ok := c.pop()
		if !ok {
			return out
		}
		out = append(out, b)
	}
}
