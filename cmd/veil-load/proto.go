package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// protocol is one wire protocol the load tool speaks.
type protocol interface {
	// open connects one client and completes what makes it usable: the
	// welcome (native) or OPEN (PeerJS). It returns the client's id.
	open(ctx context.Context) (*websocket.Conn, string, error)
	// pair makes a and b reachable from each other (native: both join one
	// room; PeerJS: nothing, ids are addresses).
	pair(ctx context.Context, a, b *websocket.Conn, room string) error
	// frames returns what from sends to peer to during one negotiation:
	// a description (an offer, or an answer when offerer is false), then
	// trickle candidates.
	frames(to string, offerer bool) [][]byte
	// relayed reports whether a received frame is a relayed signal.
	relayed(frame []byte) bool
}

// dialer is shared by every connection; loopback needs no proxy.
var dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 4096}

func dial(ctx context.Context, u string) (*websocket.Conn, error) {
	ws, resp, err := dialer.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return ws, err
}

// readType reads frames until one whose "type" is typ, returning it.
func readType(ctx context.Context, ws *websocket.Conn, typ string) (map[string]any, error) {
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
		if m["type"] == typ {
			return m, nil
		}
		if m["type"] == "error" || m["type"] == "ERROR" || m["type"] == "ID-TAKEN" {
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

func (p native) open(ctx context.Context) (*websocket.Conn, string, error) {
	ws, err := dial(ctx, p.wsURL)
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

func (native) pair(ctx context.Context, a, b *websocket.Conn, room string) error {
	join := mustJSON(map[string]string{"type": "join", "room": room})
	for _, ws := range []*websocket.Conn{a, b} {
		if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
			return err
		}
		if _, err := readType(ctx, ws, "joined"); err != nil {
			return err
		}
	}
	_, err := readType(ctx, a, "peer-joined")
	return err
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

func (p peerjs) open(ctx context.Context) (*websocket.Conn, string, error) {
	id := "load" + randomHex(16)
	q := url.Values{"key": {p.key}, "id": {id}, "token": {randomHex(8)}, "version": {"1.5.5"}}
	ws, err := dial(ctx, p.wsURL+"?"+q.Encode())
	if err != nil {
		return nil, "", err
	}
	if _, err := readType(ctx, ws, "OPEN"); err != nil {
		_ = ws.Close()
		return nil, "", err
	}
	return ws, id, nil
}

func (peerjs) pair(context.Context, *websocket.Conn, *websocket.Conn, string) error { return nil }

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
