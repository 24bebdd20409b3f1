package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Saturation: each pair keeps --window offer/answer round trips in flight
// for a fixed time. The offerer sends an offer; the answerer answers every
// offer it gets at once; each answer received frees a slot for the next
// offer. Nothing is paced, so the server is the bottleneck when the load
// generator has a core of its own. Only the measured window (after
// --warmup, for --run) counts: round trips, their latency, server CPU.

// saturateGrace is how long, after the measured window, the offerers wait
// for answers still in flight before the connections are closed.
const saturateGrace = 3 * time.Second

// rtPair is one offerer/answerer pair of the saturation workload.
type rtPair struct {
	a, b         *websocket.Conn
	offer, answr []byte

	mu    sync.Mutex // guards sent
	sent  []time.Time
	lat   []time.Duration // round trips completed in the window (offerer's reader only)
	other int             // frames that were not the expected signal
}

// saturate runs the saturation workload over pairs opened by joinPhase.
func saturate(ctx context.Context, c config, p protocol, pairs []pairConns, r *result) {
	rps := make([]*rtPair, len(pairs))
	for i, pr := range pairs {
		rps[i] = &rtPair{a: pr.a.ws, b: pr.b.ws, offer: pr.a.frames[0], answr: pr.b.frames[0]}
	}
	var (
		measuring, stopping atomic.Bool
		wg                  sync.WaitGroup
		errMu               sync.Mutex
		firstErr            error
	)
	setErr := func(err error) {
		errMu.Lock()
		if firstErr == nil && !stopping.Load() {
			firstErr = err
		}
		errMu.Unlock()
	}
	deadline := time.Now().Add(c.warmup + c.runFor + saturateGrace + 5*time.Second)
	for _, rp := range rps {
		_ = rp.a.SetReadDeadline(deadline)
		_ = rp.b.SetReadDeadline(deadline)
		_ = rp.a.SetWriteDeadline(deadline)
		_ = rp.b.SetWriteDeadline(deadline)
		wg.Add(2)
		go func() { // answerer: one answer per offer, in order
			defer wg.Done()
			buf := make([]byte, 0, 8<<10)
			for {
				b, err := readInto(rp.b, buf)
				if err != nil {
					if !stopping.Load() {
						setErr(fmt.Errorf("answerer: %w", err))
					}
					return
				}
				buf = b[:0]
				if !p.relayed(b) {
					rp.other++
					continue
				}
				if err := rp.b.WriteMessage(websocket.TextMessage, rp.answr); err != nil {
					if !stopping.Load() {
						setErr(fmt.Errorf("answerer: %w", err))
					}
					return
				}
			}
		}()
		go func() { // offerer: window offers out, one more per answer
			defer wg.Done()
			send := func() error {
				rp.mu.Lock()
				rp.sent = append(rp.sent, time.Now())
				rp.mu.Unlock()
				return rp.a.WriteMessage(websocket.TextMessage, rp.offer)
			}
			for range c.window {
				if err := send(); err != nil {
					setErr(fmt.Errorf("offerer: %w", err))
					return
				}
			}
			buf := make([]byte, 0, 8<<10)
			for {
				b, err := readInto(rp.a, buf)
				if err != nil {
					if !stopping.Load() {
						setErr(fmt.Errorf("offerer: %w", err))
					}
					return
				}
				buf = b[:0]
				if !p.relayed(b) {
					rp.other++
					continue
				}
				now := time.Now()
				rp.mu.Lock()
				if len(rp.sent) == 0 {
					rp.mu.Unlock()
					setErr(fmt.Errorf("offerer: an answer for no offer"))
					return
				}
				t0 := rp.sent[0]
				rp.sent = rp.sent[1:]
				left := len(rp.sent)
				rp.mu.Unlock()
				if measuring.Load() {
					rp.lat = append(rp.lat, now.Sub(t0))
				}
				if stopping.Load() {
					if left == 0 {
						return
					}
					continue
				}
				if err := send(); err != nil {
					setErr(fmt.Errorf("offerer: %w", err))
					return
				}
			}
		}()
	}

	sleep := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	var cpu0, cpu1 time.Duration
	var cpuErr, cpuErr1 error
	var t0, t1 time.Time
	if sleep(c.warmup) {
		cpu0, cpuErr = c.serverCPU()
		t0 = time.Now()
		measuring.Store(true)
		if sleep(c.runFor) {
			measuring.Store(false)
			t1 = time.Now()
			cpu1, cpuErr1 = c.serverCPU()
		}
	}
	stopping.Store(true)
	// Offerers return once their last answer is in; whatever is still out
	// after the grace counts as lost.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-time.After(saturateGrace):
	case <-done:
	}
	lost := 0
	for _, rp := range rps {
		rp.mu.Lock()
		lost += len(rp.sent)
		rp.mu.Unlock()
		_ = rp.a.SetReadDeadline(time.Now()) // unblocks answerers and offerers
		_ = rp.b.SetReadDeadline(time.Now())
	}
	<-done

	var lat []time.Duration
	other := 0
	for _, rp := range rps {
		lat = append(lat, rp.lat...)
		other += rp.other
	}
	slices.Sort(lat)
	r.RoundTrips = int64(len(lat))
	r.Lost = lost
	r.OtherFrames = other
	if t1.IsZero() {
		r.fail("saturate: stopped before the measured window ended")
		return
	}
	secs := t1.Sub(t0).Seconds()
	r.RelaySeconds = secs
	r.RoundTripsPerSec = float64(len(lat)) / secs
	r.Delivered = 2 * r.RoundTrips
	r.MsgsPerSec = float64(r.Delivered) / secs
	r.RTTP50, r.RTTP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if firstErr != nil {
		r.fail("saturate: %v", firstErr)
	}
	if lost > 0 {
		r.fail("saturate: %d offers unanswered %v after the window", lost, saturateGrace)
	}
	switch {
	case c.serverPID == 0:
	case cpuErr != nil || cpuErr1 != nil:
		r.fail("saturate: server CPU: %v", cpuErr)
	case r.Delivered > 0:
		r.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		r.ServerCPUPerMsgUS = r.ServerCPUSeconds * 1e6 / float64(r.Delivered)
	}
}

// readInto reads one message into buf (grown as needed), so a reader that
// keeps up allocates nothing per message.
func readInto(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, rd, err := ws.NextReader()
	if err != nil {
		return nil, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
