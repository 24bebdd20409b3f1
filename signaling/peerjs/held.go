package peerjs

import (
	"sync"
	"time"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// heldStore holds messages for ids that are not connected, in memory
// only, each for at most ExpireTimeout. Safe for concurrent use; its lock
// is taken only for messages to absent ids and when an id connects.
type heldStore struct {
	expireAfter time.Duration

	mu         sync.Mutex // guards the following fields
	byDst      map[string]*heldQueue
	bySrc      map[string]heldCount
	byAddr     map[edge.AddrKey]heldCount // exempt addresses are not counted
	total      int
	totalBytes int
}

// heldCount is what one sender has waiting.
type heldCount struct{ msgs, bytes int }

type heldQueue struct {
	msgs  []heldMsg
	bytes int
	timer *time.Timer
}

type heldMsg struct {
	src   string
	addr  edge.AddrKey
	frame []byte
}

func (h *heldStore) init(expireAfter time.Duration) {
	h.expireAfter = expireAfter
	h.byDst = make(map[string]*heldQueue)
	h.bySrc = make(map[string]heldCount)
	h.byAddr = make(map[edge.AddrKey]heldCount)
}

// heldBytes is what the store holds, in bytes (metrics).
func (h *heldStore) heldBytes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.totalBytes
}

// add holds f, sent by from from client address addr, for dst; false when
// a cap is reached. The destination is
// looked up again under the lock: take runs after the id is registered, so
// a message is either delivered here or found by take, never stranded.
func (h *heldStore) add(from *hub.Peer, addr edge.AddrKey, dst string, f []byte, d *Dialect) bool {
	src := from.ID()
	h.mu.Lock()
	if to := d.lookupFrom(from, dst); to != nil {
		h.mu.Unlock()
		d.srv.Metrics.Relayed()
		to.Notify(hub.Frame(f))
		return true
	}
	defer h.mu.Unlock()
	q := h.byDst[dst]
	n, sc, ac := len(f), h.bySrc[src], h.byAddr[addr]
	if h.total >= heldTotal || sc.msgs >= heldPerSrc ||
		h.totalBytes+n > heldBytesTotal || sc.bytes+n > heldBytesPerSrc ||
		(!addr.Exempt() && (ac.msgs >= heldPerAddr || ac.bytes+n > heldBytesPerAddr)) ||
		(q != nil && (len(q.msgs) >= heldPerDst || q.bytes+n > heldBytesPerDst)) {
		return false
	}
	if q == nil {
		q = &heldQueue{}
		h.byDst[dst] = q
		q.timer = time.AfterFunc(h.expireAfter, func() { h.expired(dst, q, d) })
	}
	q.msgs = append(q.msgs, heldMsg{src: src, addr: addr, frame: f})
	q.bytes += n
	h.bySrc[src] = heldCount{sc.msgs + 1, sc.bytes + n}
	if !addr.Exempt() {
		h.byAddr[addr] = heldCount{ac.msgs + 1, ac.bytes + n}
	}
	h.total++
	h.totalBytes += n
	return true
}

// forgetLocked drops q's accounting; h.mu must be held.
func (h *heldStore) forgetLocked(dst string, q *heldQueue) {
	delete(h.byDst, dst)
	for _, m := range q.msgs {
		sc := h.bySrc[m.src]
		sc.msgs--
		sc.bytes -= len(m.frame)
		if sc.msgs <= 0 {
			delete(h.bySrc, m.src)
		} else {
			h.bySrc[m.src] = sc
		}
		if m.addr.Exempt() {
			continue
		}
		ac := h.byAddr[m.addr]
		ac.msgs--
		ac.bytes -= len(m.frame)
		if ac.msgs <= 0 {
			delete(h.byAddr, m.addr)
		} else {
			h.byAddr[m.addr] = ac
		}
	}
	h.total -= len(q.msgs)
	h.totalBytes -= q.bytes
}

// take returns and forgets what waits for dst.
func (h *heldStore) take(dst string) [][]byte {
	msgs := h.takeMsgs(dst)
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.frame
	}
	return out
}

// takeMsgs returns and forgets what waits for dst, with the senders.
func (h *heldStore) takeMsgs(dst string) []heldMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.byDst[dst]
	if q == nil {
		return nil
	}
	q.timer.Stop()
	h.forgetLocked(dst, q)
	return q.msgs
}

// expired answers every sender of q with EXPIRE once, as the `peer`
// server does per (sender, destination) pair.
func (h *heldStore) expired(dst string, q *heldQueue, d *Dialect) {
	h.mu.Lock()
	if h.byDst[dst] != q {
		h.mu.Unlock()
		return // taken meanwhile
	}
	h.forgetLocked(dst, q)
	h.mu.Unlock()
	var srcs []string
	seen := make(map[string]bool, 2)
	for _, m := range q.msgs {
		if !seen[m.src] {
			seen[m.src] = true
			srcs = append(srcs, m.src)
		}
	}
	d.expire(dst, srcs)
}
