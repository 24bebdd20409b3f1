package turn

import (
	"sync"
	"sync/atomic"
	"time"
)

// Relay to relay in process. When relay is forced, two peers of one call
// both relay through this server, and every datagram goes from one
// allocation's relay socket to another's. Such a datagram skips the
// kernel: the sending relay socket copies it into the receiving one's
// inbox and wakes its reader, which hands it to pion as if the socket had
// received it from the sender's relay address. That saves a sendto, a
// recvfrom (and the empty one before it) and a loopback traversal per
// datagram, and it needs no hairpin through a NAT when the relay address
// is a public address of a NAT in front of this host.
//
// The reader blocks in the socket read, so it is woken by a read deadline
// in the past (inbox.kick): it announces in waiting that it may block,
// looks at the inbox once more, then reads; a sender that finds waiting
// set after queueing clears it and sets the deadline, and the reader,
// back with a timeout, clears the deadline and looks again. Either the
// reader sees the datagram before it blocks, or the sender sees waiting.

const (
	// inboxSize caps the datagrams waiting in one relay socket's inbox:
	// past it they are dropped, as a full socket buffer drops them. At
	// relayBufSize each, 200 KB, the Linux default UDP receive buffer
	// (208 KB) that the kernel path would queue them in.
	inboxSize = 128
	// relayBufSize is the largest datagram that takes the in-process
	// path; pion reads relay sockets into 1600-byte buffers. A larger one
	// goes through the kernel.
	relayBufSize = 1600
)

// pastDeadline wakes a reader blocked in a socket read.
var pastDeadline = time.Unix(1, 0)

var relayBufs = sync.Pool{New: func() any { return new([relayBufSize]byte) }}

// inbox holds datagrams other relay sockets sent to this one.
type inbox struct {
	mu    sync.Mutex                // guards the following fields
	ring  *[inboxSize]inboxDatagram // made on first use
	head  int
	count int

	queued  atomic.Int32 // count, for a look without the lock
	waiting atomic.Bool  // the reader may be blocked in the socket read
}

type inboxDatagram struct {
	buf  *[relayBufSize]byte
	n    int
	from *relayConn
}

// deliver queues p, sent by from, for c's reader; false when p is too
// large for the in-process path or the inbox is full.
func (c *relayConn) deliver(p []byte, from *relayConn) bool {
	if len(p) > relayBufSize {
		return false
	}
	buf := relayBufs.Get().(*[relayBufSize]byte) //nolint:forcetypeassert // the pool holds only these
	n := copy(buf[:], p)
	in := &c.in
	in.mu.Lock()
	if in.count == inboxSize {
		in.mu.Unlock()
		relayBufs.Put(buf)
		return false
	}
	if in.ring == nil {
		in.ring = new([inboxSize]inboxDatagram)
	}
	in.ring[(in.head+in.count)%inboxSize] = inboxDatagram{buf: buf, n: n, from: from}
	in.count++
	in.queued.Store(int32(in.count)) //nolint:gosec // at most inboxSize
	in.mu.Unlock()
	if in.waiting.CompareAndSwap(true, false) {
		// Fails only once the socket is closed, and the reader with it.
		_ = c.udp.SetReadDeadline(pastDeadline)
	}
	return true
}

// pop copies the oldest queued datagram into p and returns its length and
// sender; ok is false when the inbox is empty.
func (c *relayConn) pop(p []byte) (n int, from *relayConn, ok bool) {
	in := &c.in
	if in.queued.Load() == 0 {
		return 0, nil, false
	}
	in.mu.Lock()
	if in.count == 0 {
		in.mu.Unlock()
		return 0, nil, false
	}
	d := in.ring[in.head]
	in.ring[in.head] = inboxDatagram{}
	in.head = (in.head + 1) % inboxSize
	in.count--
	in.queued.Store(int32(in.count)) //nolint:gosec // at most inboxSize
	in.mu.Unlock()
	n = copy(p, d.buf[:d.n])
	relayBufs.Put(d.buf)
	return n, d.from, true
}
