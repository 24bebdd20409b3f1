package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// protocol is one wire protocol the load tool speaks.
type protocol interface {
	// open connects one client through d and completes what makes it
	// usable: the welcome (native), OPEN (PeerJS) or a pong (VDO.Ninja,
	// which has no greeting). It returns the client's id ("" for VDO.Ninja,
	// whose clients never learn their own).
	open(ctx context.Context, d *websocket.Dialer) (*websocket.Conn, string, error)
	// pair makes a and b reachable from each other (native: both join one
	// room; PeerJS: nothing, ids are addresses; VDO.Ninja: both join one
	// room and learn each other's UUID) and returns the ids a and b send to.
	pair(ctx context.Context, a, b *websocket.Conn, ida, idb, room string) (string, string, error)
	// frames returns what from sends to peer to during one negotiation:
	// a description (an offer, or an answer when offerer is false), then
	// trickle candidates.
	frames(to string, offerer bool) [][]byte
	// relayed reports whether a received frame is a relayed signal.
	relayed(frame []byte) bool
}

// dialer is shared by every connection; loopback needs no proxy.
var dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 4096}

// dialerFrom returns a dialer whose connections leave from the loopback
// address src (nil: the kernel's choice), so a server that counts clients
// per address sees many clients, and each source has its own ephemeral
// ports.
func dialerFrom(src net.IP) *websocket.Dialer {
	if src == nil {
		return dialer
	}
	d := *dialer
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: dialer.HandshakeTimeout}
	d.NetDialContext = nd.DialContext
	return &d
}

// sourceAddr is the i-th loopback source address, 127.100.0.1 onwards,
// skipping .0 and .255 of each /24; never 127.0.0.1, which servers exempt
// from per-address limits by default.
func sourceAddr(i int) net.IP {
	const perNet = 250
	return net.IPv4(127, byte(100+i/(perNet*256)), byte((i/perNet)%256), byte(i%perNet+1))
}

// refusedError is an HTTP refusal of the upgrade: a limit said no.
type refusedError struct {
	status     int
	retryAfter time.Duration // 0: none given
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("upgrade refused with HTTP %d (Retry-After %v)", e.status, e.retryAfter)
}

func dial(ctx context.Context, d *websocket.Dialer, u string) (*websocket.Conn, error) {
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil && resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, &refusedError{status: resp.StatusCode, retryAfter: time.Duration(ra) * time.Second}
	}
	return ws, err
}

// readType reads frames until one whose "type" is typ, returning it.
func readType(ctx context.Context, ws *websocket.Conn, typ string) (map[string]any, error) {
	return readKey(ctx, ws, "type", typ)
}

// readKey reads frames until one whose key is typ, returning it.
func readKey(ctx context.Context, ws *websocket.Conn, key, typ string) (map[string]any, error) {
	for {
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(readTimeout)
		}
		_ = ws.SetReadDeadline(deadline)
		_, b, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", typ, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", typ, err)
		}
		if m[key] == typ {
			return m, nil
		}
		if m[key] == "error" || m[key] == "ERROR" || m[key] == "ID-TAKEN" {
			return nil, fmt.Errorf("waiting for %s: server said %s", typ, b)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own maps always encode
	}
	return b
}

// native is veil's protocol v1 at {base}/ws.
type native struct{ wsURL string }

func (p native) open(ctx context.Context, d *websocket.Dialer) (*websocket.Conn, string, error) {
	ws, err := dial(ctx, d, p.wsURL)
	if err != nil {
		return nil, "", err
	}
	w, err := readType(ctx, ws, "welcome")
	if err != nil {
		_ = ws.Close()
		return nil, "", err
	}
	id, _ := w["id"].(string)
	return ws, id, nil
}

func (native) pair(ctx context.Context, a, b *websocket.Conn, ida, idb, room string) (string, string, error) {
	join := mustJSON(map[string]string{"type": "join", "room": room})
	for _, ws := range []*websocket.Conn{a, b} {
		if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
			return "", "", err
		}
		if _, err := readType(ctx, ws, "joined"); err != nil {
			return "", "", err
		}
	}
	_, err := readType(ctx, a, "peer-joined")
	return idb, ida, err
}

func (native) frames(to string, offerer bool) [][]byte {
	typ := "answer"
	if offerer {
		typ = "offer"
	}
	enc := func(data any) []byte {
		return mustJSON(map[string]any{"type": "signal", "to": to, "data": data})
	}
	out := [][]byte{enc(map[string]any{"sdp": map[string]string{"type": typ, "sdp": offerSDP}})}
	for i, c := range trickle {
		out = append(out, enc(map[string]any{"candidate": map[string]any{
			"candidate": c, "sdpMid": strconv.Itoa(i % 3), "sdpMLineIndex": i % 3, "usernameFragment": "Kz4l",
		}}))
	}
	return out
}

func (native) relayed(b []byte) bool { return bytes.Contains(b, []byte(`"type":"signal"`)) }

// peerjs is the PeerJS protocol: WebSocket at {base}{path}peerjs, as the
// `peerjs` client 1.5.5 speaks it to veil's dialect or the `peer` server.
type peerjs struct{ wsURL, key string }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p peerjs) open(ctx context.Context, d *websocket.Dialer) (*websocket.Conn, string, error) {
	id := "load" + randomHex(16)
	q := url.Values{"key": {p.key}, "id": {id}, "token": {randomHex(8)}, "version": {"1.5.5"}}
	ws, err := dial(ctx, d, p.wsURL+"?"+q.Encode())
	if err != nil {
		return nil, "", err
	}
	if _, err := readType(ctx, ws, "OPEN"); err != nil {
		_ = ws.Close()
		return nil, "", err
	}
	return ws, id, nil
}

func (peerjs) pair(_ context.Context, _, _ *websocket.Conn, ida, idb, _ string) (string, string, error) {
	return idb, ida, nil
}

func (peerjs) frames(to string, offerer bool) [][]byte {
	typ, sdpType := "ANSWER", "answer"
	if offerer {
		typ, sdpType = "OFFER", "offer"
	}
	conn := "mc_" + to[:min(len(to), 12)]
	out := [][]byte{mustJSON(map[string]any{"type": typ, "dst": to, "payload": map[string]any{
		"sdp": map[string]string{"type": sdpType, "sdp": offerSDP}, "type": "media",
		"connectionId": conn, "browser": "chrome",
	}})}
	for i, c := range trickle {
		out = append(out, mustJSON(map[string]any{"type": "CANDIDATE", "dst": to, "payload": map[string]any{
			"candidate": map[string]any{"candidate": c, "sdpMid": strconv.Itoa(i % 3), "sdpMLineIndex": i % 3, "usernameFragment": "Kz4l"},
			"type":      "media", "connectionId": conn,
		}}))
	}
	return out
}

func (peerjs) relayed(b []byte) bool {
	return bytes.Contains(b, []byte(`"type":"CANDIDATE"`)) || bytes.Contains(b, []byte(`"type":"OFFER"`)) ||
		bytes.Contains(b, []byte(`"type":"ANSWER"`))
}

// vdo is the VDO.Ninja dialect at {base}/vdo: no greeting, rooms by
// "joinroom", direct messages addressed by "UUID", which the server
// rewrites to the sender's.
type vdo struct{ wsURL string }

func (p vdo) open(ctx context.Context, d *websocket.Dialer) (*websocket.Conn, string, error) {
	ws, err := dial(ctx, d, p.wsURL)
	if err != nil {
		return nil, "", err
	}
	// The dialect has no greeting; a pong says the server handles us.
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"request":"ping"}`)); err != nil {
		_ = ws.Close()
		return nil, "", err
	}
	if _, err := readKey(ctx, ws, "request", "pong"); err != nil {
		_ = ws.Close()
		return nil, "", err
	}
	return ws, "", nil
}

func (vdo) pair(ctx context.Context, a, b *websocket.Conn, _, _, room string) (string, string, error) {
	join := mustJSON(map[string]string{"request": "joinroom", "roomid": room})
	if err := a.WriteMessage(websocket.TextMessage, join); err != nil {
		return "", "", err
	}
	if _, err := readKey(ctx, a, "request", "listing"); err != nil {
		return "", "", err
	}
	if err := b.WriteMessage(websocket.TextMessage, join); err != nil {
		return "", "", err
	}
	l, err := readKey(ctx, b, "request", "listing")
	if err != nil {
		return "", "", err
	}
	list, _ := l["list"].([]any)
	if len(list) != 1 {
		return "", "", fmt.Errorf("listing has %d members, want 1", len(list))
	}
	m, _ := list[0].(map[string]any)
	idA, _ := m["UUID"].(string)
	j, err := readKey(ctx, a, "request", "someonejoined")
	if err != nil {
		return "", "", err
	}
	idB, _ := j["UUID"].(string)
	if idA == "" || idB == "" {
		return "", "", errors.New("no UUID in listing or someonejoined")
	}
	return idB, idA, nil
}

// vdoSession is the "session" tag the SDK puts on direct messages.
const vdoSession = "k3x9q2mf"

func (vdo) frames(to string, offerer bool) [][]byte {
	typ := "answer"
	if offerer {
		typ = "offer"
	}
	out := [][]byte{mustJSON(map[string]any{"UUID": to, "description": map[string]string{"type": typ, "sdp": offerSDP},
		"session": vdoSession, "streamID": "loadstream"})}
	for i, c := range trickle {
		out = append(out, mustJSON(map[string]any{"UUID": to, "session": vdoSession, "type": "remote",
			"candidate": map[string]any{"candidate": c, "sdpMid": strconv.Itoa(i % 3), "sdpMLineIndex": i % 3, "usernameFragment": "Kz4l"}}))
	}
	return out
}

func (vdo) relayed(b []byte) bool {
	return bytes.Contains(b, []byte(`"description"`)) || bytes.Contains(b, []byte(`"candidate"`))
}
