// Package main shows two Go (pion) WebRTC peers meeting through a running
// veil: each connects to the native protocol, takes the ICE servers and
// transport policy from welcome, joins the same room, and the second
// offers to the first. It prints the selected candidate pair of each peer
// (relay/relay under veil's default forced relay) and exits.
//
//	go run ./cmd/veil &
//	go run ./examples/pion-peers -url ws://127.0.0.1:8080/ws
package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// connectTimeout bounds the whole exchange.
const connectTimeout = 30 * time.Second

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "veil's WebSocket URL")
	loopback := flag.Bool("loopback", true, "gather ICE candidates on the loopback interface only (for a veil on this machine)")
	flag.Parse()
	if err := run(*url, *loopback); err != nil {
		fmt.Fprintln(os.Stderr, "pion-peers:", err)
		os.Exit(1)
	}
}

type message struct {
	Type               string             `json:"type"`
	ID                 string             `json:"id,omitempty"`
	Room               string             `json:"room,omitempty"`
	To                 string             `json:"to,omitempty"`
	From               string             `json:"from,omitempty"`
	Code               string             `json:"code,omitempty"`
	Message            string             `json:"message,omitempty"`
	ICEServers         []webrtc.ICEServer `json:"iceServers,omitempty"`
	ICETransportPolicy string             `json:"iceTransportPolicy,omitempty"`
	Data               *payload           `json:"data,omitempty"`
}

type payload struct {
	SDP       *webrtc.SessionDescription `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit   `json:"candidate,omitempty"`
}

// peer is one WebRTC endpoint with its signaling connection.
type peer struct {
	name string
	ws   *websocket.Conn
	wmu  sync.Mutex // serializes writes to ws
	id   string
	pc   *webrtc.PeerConnection
	open chan struct{}

	remoteOnce sync.Once
	known      chan struct{} // closed once remoteID is set
	remoteID   string
}

func run(url string, loopback bool) error {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	room := base64.RawURLEncoding.EncodeToString(b) // unguessable room name

	first, err := dial("first", url, room, loopback)
	if err != nil {
		return err
	}
	defer first.close()
	second, err := dial("second", url, room, loopback)
	if err != nil {
		return err
	}
	defer second.close()

	second.setRemote(first.id)
	if err := second.offer(); err != nil {
		return err
	}
	deadline := time.After(connectTimeout)
	for _, p := range []*peer{first, second} {
		select {
		case <-p.open:
		case <-deadline:
			return errors.New("peers did not connect in time")
		}
	}
	for _, p := range []*peer{first, second} {
		pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil {
			return fmt.Errorf("%s: no selected pair: %v", p.name, err)
		}
		fmt.Printf("%s peer: selected pair local=%s remote=%s\n", p.name, pair.Local.Typ, pair.Remote.Typ)
	}
	return nil
}

func dial(name, url, room string, loopback bool) (*peer, error) {
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	_ = resp.Body.Close()
	p := &peer{name: name, ws: ws, known: make(chan struct{}), open: make(chan struct{})}
	var welcome message
	if err := ws.ReadJSON(&welcome); err != nil || welcome.Type != "welcome" {
		return nil, fmt.Errorf("no welcome: %v", err)
	}
	p.id = welcome.ID

	var se webrtc.SettingEngine
	if loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	cfg := webrtc.Configuration{ICEServers: welcome.ICEServers}
	if welcome.ICETransportPolicy == "relay" {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	p.pc, err = webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	p.pc.OnDataChannel(p.watch)
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.signal(&payload{Candidate: &init})
	})

	p.write(message{Type: "join", Room: room})
	for {
		var m message
		if err := ws.ReadJSON(&m); err != nil {
			return nil, err
		}
		if m.Type == "error" {
			return nil, fmt.Errorf("veil: %s: %s", m.Code, m.Message)
		}
		if m.Type == "joined" {
			break
		}
	}
	go p.readLoop()
	return p, nil
}

func (p *peer) write(m message) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.ws.WriteJSON(m)
}

// setRemote records the other peer's id; the first one counts.
func (p *peer) setRemote(id string) {
	p.remoteOnce.Do(func() {
		p.remoteID = id
		close(p.known)
	})
}

// signal sends d to the remote peer once its id is known.
func (p *peer) signal(d *payload) {
	<-p.known
	p.write(message{Type: "signal", To: p.remoteID, Data: d})
}

func (p *peer) watch(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		_ = dc.SendText("hello from the " + p.name + " peer")
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		fmt.Printf("%s peer received: %s\n", p.name, m.Data)
		select {
		case <-p.open:
		default:
			close(p.open)
		}
	})
}

func (p *peer) offer() error {
	dc, err := p.pc.CreateDataChannel("chat", nil)
	if err != nil {
		return err
	}
	p.watch(dc)
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		return err
	}
	go p.signal(&payload{SDP: &o})
	return nil
}

func (p *peer) readLoop() {
	for {
		var m message
		if err := p.ws.ReadJSON(&m); err != nil {
			return
		}
		if m.Type != "signal" || m.Data == nil {
			continue
		}
		p.setRemote(m.From)
		switch {
		case m.Data.Candidate != nil:
			_ = p.pc.AddICECandidate(*m.Data.Candidate)
		case m.Data.SDP != nil:
			if err := p.pc.SetRemoteDescription(*m.Data.SDP); err != nil {
				continue
			}
			if m.Data.SDP.Type == webrtc.SDPTypeOffer {
				a, err := p.pc.CreateAnswer(nil)
				if err != nil || p.pc.SetLocalDescription(a) != nil {
					continue
				}
				go p.signal(&payload{SDP: &a})
			}
		}
	}
}

func (p *peer) close() {
	_ = p.pc.Close()
	_ = p.ws.Close()
}
