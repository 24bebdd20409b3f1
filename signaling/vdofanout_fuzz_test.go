package signaling

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
	srv, err := New(Config{})
	require.NoError(f, err)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
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
		cs := make([]*fanClient, clients)
		for i := range cs {
			cs[i] = dialFan(t, ts, fmt.Sprintf("L%d%018d", i, n), "")
			cs[i].sync() // binds the label
		}
		label := map[string]int{}
		for i, c := range cs {
			label[c.label] = i
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
			c.say(msg{"request": "ping"})
			for {
				m := c.recv()
				if u, ok := m["UUID"]; ok {
					require.Equal(t, c.label, u, "a frame for someone else: %v", m)
				}
				if from, ok := m["from"]; ok {
					j, known := label[from.(string)]
					require.True(t, known && j != i, "from is not another client's label: %v", m)
					if m.str("request") == "" {
						var seq int
						_, err := fmt.Sscanf(m.str("session"), "q%d", &seq)
						require.NoError(t, err, "%v", m)
						got[key{j, i, seq}] = true
					}
				}
				switch m.str("request") {
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
				c.say(msg{"request": "seed", "streamID": stream(arg)})
				if !drain(a) {
					pubs[a] = stream(arg)
				}
			case 1:
				c.say(msg{"request": "play", "streamID": stream(arg)})
				if !drain(a) {
					plays[a][stream(arg)] = true
				}
			case 2:
				c.say(msg{"request": "joinroom", "roomid": room(arg)})
				if !drain(a) {
					inRoom[a] = room(arg)
				}
			case 3:
				to := int(arg) % clients
				c.say(msg{"UUID": cs[to].label, "session": fmt.Sprintf("q%d", k), "bye": true})
				refused := drain(a)
				require.Equal(t, !related(a, to), refused, "op %d: %d -> %d", k, a, to)
				if !refused {
					want[key{a, to, k}] = true
				}
			case 4:
				c.say(msg{"request": "hangup"})
				require.False(t, drain(a))
				inRoom[a], pubs[a] = "", ""
				clear(plays[a])
			case 5:
				other := cs[(a+1+int(arg)%(clients-1))%clients]
				c.send(msg{"UUID": other.label, "from": other.label, "session": fmt.Sprintf("q%d", k), "bye": true})
				require.True(t, drain(a), "a spoofed from was accepted")
			}
		}
		for i := range cs {
			drain(i)
		}
		require.Equal(t, want, got, "direct messages delivered")
	})
}

// FuzzVDOFanoutInvariant: the forced-relay invariant on the fan-out
// dialect. A sender and a receiver share a room over real sockets; each
// fuzzed frame goes out with the sender's "from" (as the app adds it),
// followed by a marker, and nothing the receiver gets before the marker
// may hold an address (privacytest.FindJSON, independent of veil's own
// checker).
func FuzzVDOFanoutInvariant(f *testing.F) {
	tmpls := append([]string{`{"UUID":"PEER","bye":true,"isScene":%s,"director":%s,"roomid":%s}`}, invTemplates[vdoNS]...)
	for _, tmpl := range tmpls {
		r := rand.New(rand.NewPCG(2, 3))
		for range 3 {
			f.Add(invFill(r, tmpl))
		}
	}
	for _, l := range invSDPLines {
		f.Add(invFill(rand.New(rand.NewPCG(4, 5)), strings.Replace(invTemplates[vdoNS][2], "%s", jsonString(invSDP(l)), 1)))
	}
	for _, s := range []string{"\xff", "[]", `{}`, `{"request":"hangup"}`, `{"request":"ping"}`} {
		f.Add([]byte(s))
	}
	ts := invServer(f, invConfig(false))
	var iter atomic.Int64
	f.Fuzz(func(t *testing.T, frame []byte) {
		n := iter.Add(1)
		snd, rcv := fmt.Sprintf("S%019d", n), fmt.Sprintf("R%019d", n)
		dial := func(label string) (*websocket.Conn, chan []byte, chan struct{}) {
			ws, resp, err := websocket.DefaultDialer.Dial(wsURL(ts, DefaultVDOFanoutPath), nil)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = ws.Close() })
			join := fmt.Sprintf(`{"request":"joinroom","roomid":"inv-%d","from":%q}`, n, label)
			require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(join)))
			require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"request":"ping","from":"`+label+`"}`)))
			in, dead := pump(ws)
			select { // joined before the next one dials
			case b := <-in:
				require.Contains(t, string(b), "pong")
			case <-time.After(recvTimeout):
				t.Fatal("no pong")
			}
			return ws, in, dead
		}
		sws, sIn, sDead := dial(snd)
		_, rIn, _ := dial(rcv)
		// The sender hears the receiver join: both are in the room.
		select {
		case <-sIn:
		case <-time.After(recvTimeout):
			t.Fatal("the receiver's joinroom never reached the sender")
		}
		say := func(b []byte) bool {
			b = bytes.ReplaceAll(b, []byte(invPeer), []byte(rcv))
			if len(b) > 1 && b[0] == '{' {
				sep := ","
				if bytes.HasPrefix(bytes.TrimLeft(b[1:], " \t\r\n"), []byte("}")) {
					sep = ""
				}
				b = append([]byte(`{"from":"`+snd+`"`+sep), b[1:]...)
			}
			return sws.WriteMessage(websocket.TextMessage, b) == nil
		}
		// sync waits for the sender's pong; false when it was refused or gone.
		sync := func() (ok bool) {
			if !say([]byte(`{"request":"ping"}`)) {
				return false
			}
			ok = true
			for {
				select {
				case b := <-sIn:
					if bytes.Contains(b, []byte(`"pong"`)) {
						return ok
					}
					if bytes.Contains(b, []byte(`"error"`)) {
						ok = false
					}
				case <-sDead:
					return false
				case <-time.After(recvTimeout):
					return false
				}
			}
		}
		ok := say(frame) && sync()
		_ = ok // the frame itself may be refused; the marker decides
		marker := []byte(`{"UUID":"PEER","candidate":{"candidate":"","sdpMid":"` + invMarker + `"}}`)
		delivered := say(marker) && sync()
		var got [][]byte
		wait := recvTimeout
		if !delivered {
			wait = 200 * time.Millisecond // the sender left the room: only what is on its way
		}
		timeout := time.After(wait)
		for {
			select {
			case b := <-rIn:
				if bytes.Contains(b, []byte(invMarker)) {
					checkFrames(t, frame, got)
					return
				}
				got = append(got, b)
			case <-timeout:
				if delivered {
					t.Fatalf("the marker never arrived (sent %q)", frame)
				}
				checkFrames(t, frame, got)
				return
			}
		}
	})
}
