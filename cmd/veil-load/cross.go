package main

import (
	"context"
	"time"

	"github.com/gorilla/websocket"
)

// Cross-node runs (--url-b): the second client of every pair connects to
// another node of the same veil cluster, so every relayed message crosses
// the cluster's message bus. The same workload against one node (without
// --url-b) is the single-node figure to set it against; with
// --server-pid-b, server CPU is both nodes' together.

// crossNode is a protocol whose odd-numbered clients (the b side of each
// pair, openManyWith numbers them 2i and 2i+1) open on node b.
type crossNode struct {
	protocol
	b protocol
}

// indexedOpener is a protocol that opens the i-th client its own way.
type indexedOpener interface {
	openAt(ctx context.Context, d *websocket.Dialer, i int) (*websocket.Conn, string, error)
}

func (p crossNode) openAt(ctx context.Context, d *websocket.Dialer, i int) (*websocket.Conn, string, error) {
	if i%2 == 1 {
		return p.b.open(ctx, d)
	}
	return p.protocol.open(ctx, d)
}

// serverCPU is the CPU time of the server process, plus node b's process
// in a cross-node run with --server-pid-b and the message bus's with
// --bus-pid.
func (c config) serverCPU() (time.Duration, error) {
	var total time.Duration
	for _, pid := range []int{c.serverPID, c.serverPIDB, c.busPID} {
		if pid == 0 {
			continue
		}
		t, err := cpuOf(pid)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}
