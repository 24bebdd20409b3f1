package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Storm bounds.
const (
	// stormMaxAttempts bounds the dials one peer makes to get back in.
	stormMaxAttempts = 50
	// stormRetryMin and stormRetryJitter space a retry after an error
	// that came without Retry-After (a reset, a full backlog).
	stormRetryMin    = 50 * time.Millisecond
	stormRetryJitter = 200 * time.Millisecond
	// stormRetryAfterJitter spreads the retries of peers refused with the
	// same Retry-After, as clients that do not share a clock would.
	stormRetryAfterJitter = time.Second
)

// storm connects c.peers peers, drops them all at once and reconnects
// them, measuring from the drop to the last peer back in.
func storm(ctx context.Context, c config, p protocol, r *result) {
	r.StormPeers, r.StormSources = c.peers, c.sources
	conns := make([]*websocket.Conn, c.peers)
	var retries, refused atomic.Int64
	connectAll := func(lat []time.Duration) int {
		var (
			next atomic.Int64
			wg   sync.WaitGroup
			ok   atomic.Int64
		)
		start := time.Now()
		for range min(c.concurrency, c.peers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= c.peers || ctx.Err() != nil {
						return
					}
					for attempt := 1; ; attempt++ {
						ws, _, err := p.open(ctx, c.dialerFor(i))
						if err == nil {
							conns[i] = ws
							if lat != nil {
								lat[i] = time.Since(start)
							}
							ok.Add(1)
							break
						}
						if attempt == stormMaxAttempts || ctx.Err() != nil {
							break
						}
						retries.Add(1)
						wait := stormRetryMin + rand.N(stormRetryJitter)
						var re *refusedError
						if errors.As(err, &re) {
							refused.Add(1)
							if re.retryAfter > 0 {
								wait = re.retryAfter + rand.N(stormRetryAfterJitter)
							}
						}
						select {
						case <-time.After(wait):
						case <-ctx.Done():
						}
					}
				}
			}()
		}
		wg.Wait()
		return int(ok.Load())
	}
	defer func() {
		for _, ws := range conns {
			if ws != nil {
				_ = ws.Close()
			}
		}
	}()
	if n := connectAll(nil); n < c.peers {
		r.fail("storm: connected %d of %d before the drop", n, c.peers)
		return
	}
	retries.Store(0)
	refused.Store(0)
	time.Sleep(settle)

	// The drop: every socket reset at once, as when a proxy or the
	// network between clients and server fails.
	lat := make([]time.Duration, c.peers)
	start := time.Now()
	for i, ws := range conns {
		if tc, ok := ws.UnderlyingConn().(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = ws.Close()
		conns[i] = nil
	}
	n := connectAll(lat)
	r.StormSeconds = time.Since(start).Seconds()
	r.StormWelcomed = n
	r.StormRetries, r.StormRefused = retries.Load(), refused.Load()
	var got []time.Duration
	for i, ws := range conns {
		if ws != nil {
			got = append(got, lat[i])
		}
	}
	slices.Sort(got)
	r.StormP50, r.StormP99 = percentile(got, 0.50), percentile(got, 0.99)
	if n < c.peers {
		r.fail("storm: %d of %d peers back in", n, c.peers)
	}
}
