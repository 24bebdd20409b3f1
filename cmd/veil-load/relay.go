package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// The no-policy relay is the limit baseline of docs/BENCHMARKS.md: what a
// Go signaling server costs when it does nothing but route. It speaks
// enough of veil's native protocol (welcome, join/joined/peer-joined,
// signal, ping) and of PeerJS (OPEN, then any frame with a dst) for
// veil-load's workloads. A frame is never decoded: a scan of its top level
// finds the routing keys ("type", "to"/"dst", "room") and the payload
// ("data"/"payload") is spliced into the outgoing frame as it came. No
// filter, no validation, no limits beyond a frame size; loopback only.

// Relay bounds.
const (
	relayMaxFrame    = 1 << 20
	relayHeaderWait  = 10 * time.Second
	relayWriteWait   = 10 * time.Second
	relayIDBytes     = 18 // 144 bits, as veil's ids
	relayReadBufSize = 1024
)

func runRelay(args []string) error {
	fs := flag.NewFlagSet("veil-load relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "loopback `address` to serve on")
	path := fs.String("path", "/peerjs/", "PeerJS mount `path`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("--listen must be a loopback address, not %q", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newRelay(*path), ReadHeaderTimeout: relayHeaderWait}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// relay is the no-policy relay's state.
type relay struct {
	up websocket.Upgrader

	mu    sync.Mutex // guards the following fields
	peers map[string]*relayConn
	rooms map[string][]*relayConn
}

type relayConn struct {
	id    string
	ws    *websocket.Conn
	wmu   sync.Mutex // serialises writes
	rooms []string
}

func (c *relayConn) write(b []byte) {
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(relayWriteWait))
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
}

func newRelay(path string) http.Handler {
	r := &relay{
		up:    websocket.Upgrader{ReadBufferSize: relayReadBufSize, WriteBufferSize: relayReadBufSize, CheckOrigin: func(*http.Request) bool { return true }},
		peers: map[string]*relayConn{},
		rooms: map[string][]*relayConn{},
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, req *http.Request) { r.serve(w, req, false) })
	mux.HandleFunc("GET "+path+"peerjs", func(w http.ResponseWriter, req *http.Request) { r.serve(w, req, true) })
	return mux
}

func (r *relay) serve(w http.ResponseWriter, req *http.Request, pj bool) {
	id := req.URL.Query().Get("id")
	if !pj {
		b := make([]byte, relayIDBytes)
		_, _ = rand.Read(b)
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	if id == "" {
		http.Error(w, "no id", http.StatusBadRequest)
		return
	}
	ws, err := r.up.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(relayMaxFrame)
	c := &relayConn{id: id, ws: ws}
	r.mu.Lock()
	r.peers[id] = c
	r.mu.Unlock()
	if pj {
		c.write([]byte(`{"type":"OPEN"}`))
	} else {
		c.write([]byte(`{"type":"welcome","version":1,"id":"` + id + `","iceServers":[],"iceTransportPolicy":"all"}`))
	}
	go r.readLoop(c, pj)
}

func (r *relay) readLoop(c *relayConn, pj bool) {
	defer r.drop(c)
	var in, out []byte
	for {
		var err error
		if in, err = readInto(c.ws, in[:0]); err != nil {
			return
		}
		if pj {
			out = r.peerjsFrame(c, in, out[:0])
		} else {
			out = r.nativeFrame(c, in, out[:0])
		}
	}
}

func (r *relay) drop(c *relayConn) {
	r.mu.Lock()
	if r.peers[c.id] == c {
		delete(r.peers, c.id)
	}
	for _, room := range c.rooms {
		m := r.rooms[room]
		if i := indexOf(m, c); i >= 0 {
			m = append(m[:i], m[i+1:]...)
		}
		if len(m) == 0 {
			delete(r.rooms, room)
		} else {
			r.rooms[room] = m
		}
	}
	r.mu.Unlock()
	_ = c.ws.Close()
}

func indexOf(m []*relayConn, c *relayConn) int {
	for i, x := range m {
		if x == c {
			return i
		}
	}
	return -1
}

func (r *relay) peer(id []byte) *relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers[string(id)]
}

// nativeFrame routes one native-protocol frame; out is scratch space.
func (r *relay) nativeFrame(c *relayConn, in, out []byte) []byte {
	var typ, to, room, data []byte
	scanTop(in, func(k, v []byte) {
		switch string(k) {
		case "type":
			typ = v
		case "to":
			to = v
		case "room":
			room = v
		case "data":
			data = v
		}
	})
	switch string(typ) {
	case `"signal"`, `"debug"`:
		t := r.peer(unquote(to))
		if t == nil || data == nil {
			return out
		}
		out = append(out, `{"type":`...)
		out = append(out, typ...)
		out = append(out, `,"from":"`...)
		out = append(out, c.id...)
		out = append(out, `","data":`...)
		out = append(out, data...)
		out = append(out, '}')
		t.write(out)
	case `"join"`:
		if room == nil {
			return out
		}
		key := string(room)
		r.mu.Lock()
		members := r.rooms[key]
		if indexOf(members, c) < 0 {
			r.rooms[key] = append(members, c)
			c.rooms = append(c.rooms, key)
		}
		others := make([]*relayConn, 0, len(members))
		for _, m := range members {
			if m != c {
				others = append(others, m)
			}
		}
		r.mu.Unlock()
		out = append(out, `{"type":"joined","room":`...)
		out = append(out, room...)
		out = append(out, `,"peers":[`...)
		for i, m := range others {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":"`...)
			out = append(out, m.id...)
			out = append(out, `"}`...)
		}
		out = append(out, "]}"...)
		c.write(out)
		ev := []byte(`{"type":"peer-joined","room":` + string(room) + `,"peer":{"id":"` + c.id + `"}}`)
		for _, m := range others {
			m.write(ev)
		}
	case `"ping"`:
		c.write([]byte(`{"type":"pong"}`))
	}
	return out
}

// peerjsFrame routes one PeerJS frame: everything with a dst goes to dst,
// with src added.
func (r *relay) peerjsFrame(c *relayConn, in, out []byte) []byte {
	var typ, dst, payload []byte
	scanTop(in, func(k, v []byte) {
		switch string(k) {
		case "type":
			typ = v
		case "dst":
			dst = v
		case "payload":
			payload = v
		}
	})
	if typ == nil || dst == nil || bytes.Equal(typ, []byte(`"HEARTBEAT"`)) {
		return out
	}
	t := r.peer(unquote(dst))
	if t == nil {
		return out
	}
	out = append(out, `{"type":`...)
	out = append(out, typ...)
	out = append(out, `,"src":"`...)
	out = append(out, c.id...)
	out = append(out, `","dst":`...)
	out = append(out, dst...)
	if payload != nil {
		out = append(out, `,"payload":`...)
		out = append(out, payload...)
	}
	out = append(out, '}')
	t.write(out)
	return out
}

// unquote strips the quotes of a JSON string without escapes; the relay
// routes only by such ids.
func unquote(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil
	}
	return v[1 : len(v)-1]
}

// scanTop calls f with each top-level key (without quotes, escapes left
// as they are) and its value's raw bytes. It does not validate: a frame
// that is not an object, or is cut short, ends the scan.
func scanTop(b []byte, f func(k, v []byte)) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return
		}
		ke := skipString(b, i)
		if ke < 0 {
			return
		}
		key := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipSpace(b, i+1)
		ve := skipValue(b, i)
		if ve < 0 {
			return
		}
		f(key, b[i:ve])
		i = skipSpace(b, ve)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := skipString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		return j
	}
}
