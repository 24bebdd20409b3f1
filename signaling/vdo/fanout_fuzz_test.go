package vdo_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/signaling/internal/testutil"

	"github.com/stretchr/testify/require"
)

// FuzzVDOFanoutRouting drives three fan-out clients over real sockets with
// a fuzzed sequence of seeds, plays, joins, hangups, direct messages and
// spoofed "from" labels, and checks the routing rule and the label binding
// against a model built only from what the server accepted:
//
//   - a direct message is delivered exactly when sender and recipient share
//     a room or a publisher/viewer pair, and is refused (unknown-peer)
//     otherwise, the recipient itself included;
//   - every frame a client receives with "UUID" carries its own label, and
//     every "from" is the bound label of another client, never a spoofed
//     one;
//   - a message whose "from" is not the socket's bound label is refused.
func FuzzVDOFanoutRouting(f *testing.F) {
	for _, s := range [][]byte{
		{0, 0, 1, 0, 3, 1, 4, 0},             // seed, play, direct both ways
		{2, 0, 2, 1, 3, 2, 3, 0, 5, 1},       // rooms: member to member, spoof
		{0, 0, 1, 0, 4, 0, 3, 1, 2, 1, 3, 2}, // hangup cuts the route
		{3, 0, 3, 1, 3, 2},                   // strangers and self
	} {
		f.Add(s)
	}
	srv, err := signaling.New(signaling.Config{})
	require.NoError(f, err)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	var iter atomic.Int64
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 24 {
			ops = ops[:24]
		}
		n := iter.Add(1)
		const clients = 3
		cs := make([]*testutil.FanClient, clients)
		for i := range cs {
			cs[i] = testutil.DialFan(t, ts, fmt.Sprintf("L%d%018d", i, n), "")
			cs[i].Sync() // binds the label
		}
		label := map[string]int{}
		for i, c := range cs {
			label[c.Label] = i
		}
		stream := func(k byte) string { return fmt.Sprintf("s%d-%d", k%2, n) }
		room := func(k byte) string { return fmt.Sprintf("r%d-%d", k%2, n) }

		// The model: what the server accepted.
		var (
			inRoom = [clients]string{}
			pubs   = [clients]string{}
			plays  = [clients]map[string]bool{}
		)
		for i := range plays {
			plays[i] = map[string]bool{}
		}
		related := func(a, b int) bool {
			if a == b {
				return false
			}
			if inRoom[a] != "" && inRoom[a] == inRoom[b] {
				return true
			}
			return (pubs[b] != "" && plays[a][pubs[b]]) || (pubs[a] != "" && plays[b][pubs[a]])
		}
		type key struct{ from, to, seq int }
		want := map[key]bool{}
		got := map[key]bool{}

		// drain reads c's messages up to the pong of a ping, checks every
		// one and reports whether an error was among them.
		drain := func(i int) (refused bool) {
			c := cs[i]
			c.Say(msg{"request": "ping"})
			for {
				m := c.Recv()
				if u, ok := m["UUID"]; ok {
					require.Equal(t, c.Label, u, "a frame for someone else: %v", m)
				}
				if from, ok := m["from"]; ok {
					j, known := label[from.(string)]
					require.True(t, known && j != i, "from is not another client's label: %v", m)
					if m.Str("request") == "" {
						var seq int
						_, err := fmt.Sscanf(m.Str("session"), "q%d", &seq)
						require.NoError(t, err, "%v", m)
						got[key{j, i, seq}] = true
					}
				}
				switch m.Str("request") {
				case "pong":
					return refused
				case "error":
					refused = true
				}
			}
		}

		for k := 0; k+1 < len(ops); k += 2 {
			a, arg := int(ops[k]%clients), ops[k+1]
			c := cs[a]
			switch (ops[k] / clients) % 6 {
			case 0:
				c.Say(msg{"request": "seed", "streamID": stream(arg)})
				if !drain(a) {
					pubs[a] = stream(arg)
				}
			case 1:
				c.Say(msg{"request": "play", "streamID": stream(arg)})
				if !drain(a) {
					plays[a][stream(arg)] = true
				}
			case 2:
				c.Say(msg{"request": "joinroom", "roomid": room(arg)})
				if !drain(a) {
					inRoom[a] = room(arg)
				}
			case 3:
				to := int(arg) % clients
				c.Say(msg{"UUID": cs[to].Label, "session": fmt.Sprintf("q%d", k), "bye": true})
				refused := drain(a)
				require.Equal(t, !related(a, to), refused, "op %d: %d -> %d", k, a, to)
				if !refused {
					want[key{a, to, k}] = true
				}
			case 4:
				c.Say(msg{"request": "hangup"})
				require.False(t, drain(a))
				inRoom[a], pubs[a] = "", ""
				clear(plays[a])
			case 5:
				other := cs[(a+1+int(arg)%(clients-1))%clients]
				c.Send(msg{"UUID": other.Label, "from": other.Label, "session": fmt.Sprintf("q%d", k), "bye": true})
				require.True(t, drain(a), "a spoofed from was accepted")
			}
		}
		for i := range cs {
			drain(i)
		}
		require.Equal(t, want, got, "direct messages delivered")
	})
}
