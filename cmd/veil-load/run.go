package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// result is one run's measurements; times in milliseconds, CPU in
// microseconds, memory in bytes. Zero means not measured.
type result struct {
	Label    string  `json:"label"`
	Mode     string  `json:"mode"`
	Date     string  `json:"date"`
	Pairs    int     `json:"pairs"`
	Idle     int     `json:"idle"`
	Rate     float64 `json:"rate"`
	Window   int     `json:"window"`
	Messages int     `json:"messages"`

	IdleOpened        int     `json:"idleOpened"`
	ConnectP50        float64 `json:"connectP50ms"`
	ConnectP99        float64 `json:"connectP99ms"`
	RSSBeforeIdle     uint64  `json:"rssBeforeIdle"`
	RSSAfterIdle      uint64  `json:"rssAfterIdle"`
	RSSPerIdleConn    float64 `json:"rssPerIdleConn"`
	JoinP50           float64 `json:"joinP50ms"`
	JoinP95           float64 `json:"joinP95ms"`
	JoinP99           float64 `json:"joinP99ms"`
	Sent              int64   `json:"sent"`
	Delivered         int64   `json:"delivered"`
	RelaySeconds      float64 `json:"relaySeconds"`
	MsgsPerSec        float64 `json:"msgsPerSec"`
	ServerCPUSeconds  float64 `json:"serverCPUSeconds"`
	ServerCPUPerMsgUS float64 `json:"serverCPUPerMsgUs"`

	// Saturation workload (saturate.go).
	Workload         string  `json:"workload,omitempty"` // "" (paced), saturate, storm, idle
	RoundTrips       int64   `json:"roundTrips,omitempty"`
	RoundTripsPerSec float64 `json:"roundTripsPerSec,omitempty"`
	RTTP50           float64 `json:"rttP50ms,omitempty"`
	RTTP99           float64 `json:"rttP99ms,omitempty"`
	Lost             int     `json:"lost,omitempty"`
	OtherFrames      int     `json:"otherFrames,omitempty"`

	// Storm workload (storm.go).
	StormPeers     int     `json:"stormPeers,omitempty"`
	StormSources   int     `json:"stormSources,omitempty"`
	StormSeconds   float64 `json:"stormSeconds,omitempty"` // drop to the last welcome
	StormP50       float64 `json:"stormP50ms,omitempty"`
	StormP99       float64 `json:"stormP99ms,omitempty"`
	StormRetries   int64   `json:"stormRetries,omitempty"`
	StormRefused   int64   `json:"stormRefused,omitempty"` // 429/503 answers among the retries
	StormWelcomed  int     `json:"stormWelcomed,omitempty"`
	IdleProcesses  int     `json:"idleProcesses,omitempty"`
	IdleSourceAddr int     `json:"idleSources,omitempty"`

	Errors []string `json:"errors,omitempty"`
}

func (r *result) fail(format string, a ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, a...))
}

func run(ctx context.Context, c config) *result {
	r := &result{
		Label: c.label, Mode: c.mode, Date: time.Now().UTC().Format(time.RFC3339),
		Pairs: c.pairs, Idle: c.idle, Messages: c.messages, Rate: c.rate, Window: c.window,
	}
	p := c.protocol()
	r.Workload = c.workload
	if c.workload != "" {
		r.Idle, r.Messages, r.Rate = 0, 0, 0
		if c.workload != "saturate" {
			r.Pairs, r.Window = 0, 0
		}
	}
	switch c.workload {
	case "storm":
		storm(ctx, c, p, r)
		return r
	case "idle":
		idleFleet(ctx, c, r)
		return r
	case "saturate":
		if pairs := joinPhase(ctx, c, p, r); len(pairs) > 0 {
			saturate(ctx, c, p, pairs, r)
			for _, pr := range pairs {
				closeWS(pr.a.ws)
				closeWS(pr.b.ws)
			}
		}
		return r
	}
	if c.idle > 0 {
		idlePhase(ctx, c, p, r)
	}
	if c.pairs > 0 && ctx.Err() == nil {
		pairs := joinPhase(ctx, c, p, r)
		if c.messages > 0 && len(pairs) > 0 && ctx.Err() == nil {
			relayPhase(ctx, c, p, pairs, r)
		}
		for _, pr := range pairs {
			closeWS(pr.a.ws)
			closeWS(pr.b.ws)
		}
	}
	if ctx.Err() != nil {
		r.fail("stopped by --duration or a signal: %v", ctx.Err())
	}
	return r
}

// closeWS says goodbye properly so the server frees the connection at once.
func closeWS(ws *websocket.Conn) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = ws.Close()
}

// percentile returns the q-quantile (0..1) of sorted durations in ms.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// openMany opens n connections, at most c.concurrency at once, recording
// how long each took from dial to usable.
func openMany(ctx context.Context, c config, p protocol, n int) ([]*websocket.Conn, []string, []time.Duration, error) {
	return openManyWith(ctx, c, p, n, c.dialerFor)
}

// openManyWith is openMany with the i-th connection dialled by dialerFor(i).
func openManyWith(ctx context.Context, c config, p protocol, n int, dialerFor func(int) *websocket.Dialer) ([]*websocket.Conn, []string, []time.Duration, error) {
	conns := make([]*websocket.Conn, n)
	ids := make([]string, n)
	lat := make([]time.Duration, n)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				start := time.Now()
				var (
					ws  *websocket.Conn
					id  string
					err error
				)
				if x, ok := p.(indexedOpener); ok {
					ws, id, err = x.openAt(ctx, dialerFor(i), i) // cross-node (cross.go)
				} else {
					ws, id, err = p.open(ctx, dialerFor(i))
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				lat[i], conns[i], ids[i] = time.Since(start), ws, id
			}
		}()
	}
	wg.Wait()
	return conns, ids, lat, first
}

func idlePhase(ctx context.Context, c config, p protocol, r *result) {
	var err error
	if c.serverPID > 0 {
		time.Sleep(settle)
		if r.RSSBeforeIdle, err = procRSS(c.serverPID); err != nil {
			r.fail("idle: %v", err)
		}
	}
	conns, _, lat, err := openMany(ctx, c, p, c.idle)
	defer func() {
		for _, ws := range conns {
			if ws != nil {
				closeWS(ws)
			}
		}
	}()
	var opened []time.Duration
	for i, ws := range conns {
		if ws != nil {
			opened = append(opened, lat[i])
		}
	}
	r.IdleOpened = len(opened)
	if err != nil {
		r.fail("idle: opened %d of %d: %v", len(opened), c.idle, err)
	}
	slices.Sort(opened)
	r.ConnectP50, r.ConnectP99 = percentile(opened, 0.50), percentile(opened, 0.99)
	if c.serverPID > 0 && len(opened) > 0 {
		time.Sleep(settle)
		if r.RSSAfterIdle, err = procRSS(c.serverPID); err != nil {
			r.fail("idle: %v", err)
			return
		}
		r.RSSPerIdleConn = (float64(r.RSSAfterIdle) - float64(r.RSSBeforeIdle)) / float64(len(opened))
	}
	if c.hold > 0 {
		select {
		case <-time.After(c.hold):
		case <-ctx.Done():
		}
	}
}

type side struct {
	ws     *websocket.Conn
	id     string
	frames [][]byte
}

type pairConns struct{ a, b side }

func joinPhase(ctx context.Context, c config, p protocol, r *result) []pairConns {
	conns, ids, lat, err := openMany(ctx, c, p, 2*c.pairs)
	if err != nil {
		r.fail("join: %v", err)
		for _, ws := range conns {
			if ws != nil {
				closeWS(ws)
			}
		}
		return nil
	}
	pairs := make([]pairConns, c.pairs)
	for i := range pairs {
		a, b := 2*i, 2*i+1
		start := time.Now()
		toB, toA, err := p.pair(ctx, conns[a], conns[b], ids[a], ids[b], fmt.Sprintf("load-%d-%s", i, randomHex(4)))
		if err != nil {
			r.fail("join: pair %d: %v", i, err)
			for _, ws := range conns {
				closeWS(ws)
			}
			return nil
		}
		// Joining is part of what a client waits for before it can
		// signal: add it to both clients' connect times.
		took := time.Since(start)
		lat[a] += took
		lat[b] += took
		pairs[i] = pairConns{
			a: side{ws: conns[a], id: ids[a], frames: p.frames(toB, true)},
			b: side{ws: conns[b], id: ids[b], frames: p.frames(toA, false)},
		}
	}
	slices.Sort(lat)
	r.JoinP50, r.JoinP95, r.JoinP99 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	return pairs
}

// relayPhase sends c.messages in total over every pair in both
// directions. Each direction has its own sender and receiver; the sender
// waits for a credit the receiver returns, so at most c.window messages
// are in flight per direction and no server queue ever overflows.
func relayPhase(ctx context.Context, c config, p protocol, pairs []pairConns, r *result) {
	dirs := 2 * len(pairs)
	share := func(d int) int {
		n := c.messages / dirs
		if d < c.messages%dirs {
			n++
		}
		return n
	}
	var (
		sent, delivered atomic.Int64
		wg              sync.WaitGroup
		errMu           sync.Mutex
		firstErr        error
	)
	setErr := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	deadline, _ := ctx.Deadline()
	direction := func(d int, from, to side) {
		n := share(d)
		credits := make(chan struct{}, c.window)
		done := make(chan struct{})
		wg.Add(2)
		go func() { // sender
			defer wg.Done()
			_ = from.ws.SetWriteDeadline(deadline)
			start := time.Now()
			for i := range n {
				if c.rate > 0 {
					due := start.Add(time.Duration(float64(i) / c.rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						case <-done:
							return
						}
					}
				}
				select {
				case credits <- struct{}{}:
				case <-ctx.Done():
					return
				case <-done:
					return
				}
				if err := from.ws.WriteMessage(websocket.TextMessage, from.frames[i%len(from.frames)]); err != nil {
					setErr(fmt.Errorf("send: %w", err))
					return
				}
				sent.Add(1)
			}
		}()
		go func() { // receiver
			defer wg.Done()
			defer close(done)
			_ = to.ws.SetReadDeadline(deadline)
			for got := 0; got < n; {
				_, b, err := to.ws.ReadMessage()
				if err != nil {
					if ctx.Err() == nil {
						setErr(fmt.Errorf("receive: %w", err))
					}
					return
				}
				if !p.relayed(b) {
					continue // e.g. an error reply; counted by its absence
				}
				got++
				delivered.Add(1)
				select {
				case <-credits:
				default:
				}
			}
		}()
	}
	cpu0, cpuErr := c.serverCPU()
	start := time.Now()
	for i, pr := range pairs {
		direction(2*i, pr.a, pr.b)
		direction(2*i+1, pr.b, pr.a)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuErr1 := c.serverCPU()

	r.Sent, r.Delivered = sent.Load(), delivered.Load()
	r.RelaySeconds = elapsed.Seconds()
	r.MsgsPerSec = float64(r.Delivered) / elapsed.Seconds()
	if firstErr != nil {
		r.fail("relay: %v", firstErr)
	}
	if r.Delivered < int64(c.messages) {
		r.fail("relay: delivered %d of %d messages", r.Delivered, c.messages)
	}
	switch {
	case c.serverPID == 0:
	case cpuErr != nil || cpuErr1 != nil:
		r.fail("relay: server CPU: %v", errors.Join(cpuErr, cpuErr1))
	case r.Delivered > 0:
		r.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		r.ServerCPUPerMsgUS = r.ServerCPUSeconds * 1e6 / float64(r.Delivered)
	}
}

func cpuOf(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return procCPU(pid)
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "%s (%s)\n", r.Label, r.Mode)
	if r.Idle > 0 {
		if r.IdleProcesses > 0 {
			fmt.Fprintf(w, "  idle:  held by %d processes over %d source addresses\n", r.IdleProcesses, r.IdleSourceAddr)
		}
		fmt.Fprintf(w, "  idle:  %d connections, connect p50 %.2f ms p99 %.2f ms", r.IdleOpened, r.ConnectP50, r.ConnectP99)
		if r.RSSPerIdleConn != 0 {
			fmt.Fprintf(w, ", server RSS %.1f -> %.1f MiB = %.2f KiB per connection",
				float64(r.RSSBeforeIdle)/(1<<20), float64(r.RSSAfterIdle)/(1<<20), r.RSSPerIdleConn/1024)
		}
		fmt.Fprintln(w)
	}
	if r.Pairs > 0 {
		fmt.Fprintf(w, "  join:  %d pairs, latency p50 %.2f ms p95 %.2f ms p99 %.2f ms\n", r.Pairs, r.JoinP50, r.JoinP95, r.JoinP99)
	}
	if r.Sent > 0 {
		fmt.Fprintf(w, "  relay: %d sent, %d delivered in %.2f s = %.0f msgs/s", r.Sent, r.Delivered, r.RelaySeconds, r.MsgsPerSec)
		if r.ServerCPUSeconds > 0 {
			fmt.Fprintf(w, ", server CPU %.2f s = %.1f µs per message", r.ServerCPUSeconds, r.ServerCPUPerMsgUS)
		}
		fmt.Fprintln(w)
	}
	if r.RoundTrips > 0 {
		fmt.Fprintf(w, "  saturate: window %d, %d round trips in %.2f s = %.0f round trips/s (%.0f msgs/s), round trip p50 %.2f ms p99 %.2f ms",
			r.Window, r.RoundTrips, r.RelaySeconds, r.RoundTripsPerSec, r.MsgsPerSec, r.RTTP50, r.RTTP99)
		if r.ServerCPUSeconds > 0 {
			fmt.Fprintf(w, ", server CPU %.2f s = %.1f µs per message", r.ServerCPUSeconds, r.ServerCPUPerMsgUS)
		}
		fmt.Fprintln(w)
	}
	if r.StormPeers > 0 {
		fmt.Fprintf(w, "  storm: %d peers over %d source addresses: %d back in %.2f s after the drop (per peer p50 %.0f ms p99 %.0f ms), %d retries (%d refused by a limit)\n",
			r.StormPeers, r.StormSources, r.StormWelcomed, r.StormSeconds, r.StormP50, r.StormP99, r.StormRetries, r.StormRefused)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}
