package main

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
)

// connectTimeout bounds how long two pion peers may take to connect
// through veil; it guards against hangs, it is not a performance target.
const connectTimeout = 20 * time.Second

// loopbackSettings keeps pion on 127.0.0.1: tests never touch this
// machine's other interfaces.
func loopbackSettings() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.To4() != nil && ip.To4()[0] == 127 })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

type welcomeMsg struct {
	ID                 string             `json:"id"`
	ICEServers         []webrtc.ICEServer `json:"iceServers"`
	ICETransportPolicy string             `json:"iceTransportPolicy"`
	Policy             privacy.Policy     `json:"policy"`
}

type wireMsg struct {
	Type  string          `json:"type"`
	From  string          `json:"from,omitempty"`
	To    string          `json:"to,omitempty"`
	Room  string          `json:"room,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Peers []struct {
		ID string `json:"id"`
	} `json:"peers,omitempty"`
}

type signalData struct {
	SDP       *webrtc.SessionDescription `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit   `json:"candidate,omitempty"`
}

// pionPeer is a WebRTC peer speaking veil's native protocol. cooperative
// peers honour welcome (iceServers, iceTransportPolicy); uncooperative ones
// gather every candidate, put them in the SDP too, and send them all.
type pionPeer struct {
	t           *testing.T
	ws          *websocket.Conn
	welcome     welcomeMsg
	cooperative bool
	pc          *webrtc.PeerConnection

	wmu sync.Mutex // guards writes to ws

	mu       sync.Mutex // guards received and remoteID
	received []string   // every candidate received: trickle and SDP a=candidate
	sdps     []string   // every SDP received
	remoteID string

	opened chan struct{}
	got    chan string
	done   chan struct{}
}

// newPionPeer connects to veil and joins room, then starts reading.
func newPionPeer(t *testing.T, a *app, cooperative bool, room string) *pionPeer {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	p := &pionPeer{t: t, ws: ws, cooperative: cooperative, opened: make(chan struct{}), got: make(chan string, 4), done: make(chan struct{})}
	var w struct {
		Type string `json:"type"`
		welcomeMsg
	}
	require.NoError(t, ws.ReadJSON(&w))
	require.Equal(t, "welcome", w.Type)
	p.welcome = w.welcomeMsg
	require.NoError(t, ws.WriteJSON(wireMsg{Type: "join", Room: room}))
	for {
		var m wireMsg
		require.NoError(t, ws.ReadJSON(&m))
		if m.Type == "joined" {
			break
		}
	}

	cfg := webrtc.Configuration{ICEServers: p.welcome.ICEServers}
	if cooperative && p.welcome.ICETransportPolicy == "relay" {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(loopbackSettings()))
	p.pc, err = api.NewPeerConnection(cfg)
	require.NoError(t, err)
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		p.mu.Lock()
		to := p.remoteID
		p.mu.Unlock()
		if c == nil || to == "" {
			return
		}
		init := c.ToJSON()
		p.send(wireMsg{Type: "signal", To: to, Data: mustJSON(t, signalData{Candidate: &init})})
	})
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) { p.watch(dc) })
	t.Cleanup(func() {
		_ = p.pc.Close()
		_ = ws.Close()
		<-p.done
	})
	go p.readLoop()
	return p
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func (p *pionPeer) send(m wireMsg) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.ws.WriteJSON(m)
}

func (p *pionPeer) watch(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		select {
		case <-p.opened:
		default:
			close(p.opened)
		}
		_ = dc.SendText("hello from " + p.welcome.ID[:4])
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		select {
		case p.got <- string(m.Data):
		default:
		}
	})
}

// offer starts the call toward to.
func (p *pionPeer) offer(to string) {
	p.mu.Lock()
	p.remoteID = to
	p.mu.Unlock()
	dc, err := p.pc.CreateDataChannel("veil", nil)
	require.NoError(p.t, err)
	p.watch(dc)
	o, err := p.pc.CreateOffer(nil)
	require.NoError(p.t, err)
	p.sendLocal(o)
}

// sendLocal sets and sends a local description. Uncooperative peers wait
// for gathering so the SDP carries every candidate, as non-trickle clients do.
func (p *pionPeer) sendLocal(d webrtc.SessionDescription) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	require.NoError(p.t, p.pc.SetLocalDescription(d))
	if !p.cooperative {
		<-gathered
		d = *p.pc.LocalDescription()
	}
	p.mu.Lock()
	to := p.remoteID
	p.mu.Unlock()
	p.send(wireMsg{Type: "signal", To: to, Data: mustJSON(p.t, signalData{SDP: &d})})
}

func (p *pionPeer) readLoop() {
	defer close(p.done)
	var pending []webrtc.ICECandidateInit // candidates that came before the remote description
	for {
		var m wireMsg
		if err := p.ws.ReadJSON(&m); err != nil {
			return
		}
		if m.Type != "signal" {
			continue
		}
		var d signalData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			continue
		}
		p.mu.Lock()
		p.remoteID = m.From
		if d.Candidate != nil {
			p.received = append(p.received, d.Candidate.Candidate)
		}
		if d.SDP != nil {
			p.sdps = append(p.sdps, d.SDP.SDP)
			for _, line := range strings.Split(d.SDP.SDP, "\r\n") {
				if strings.HasPrefix(line, "a=candidate:") {
					p.received = append(p.received, strings.TrimPrefix(line, "a="))
				}
			}
		}
		p.mu.Unlock()
		switch {
		case d.Candidate != nil && p.pc.RemoteDescription() == nil:
			// The other side's candidates can overtake its answer (it
			// gathers as soon as it sets its local description): keep
			// them until the description is in, as browsers do.
			pending = append(pending, *d.Candidate)
		case d.Candidate != nil:
			_ = p.pc.AddICECandidate(*d.Candidate)
		case d.SDP != nil:
			if err := p.pc.SetRemoteDescription(*d.SDP); err != nil {
				continue
			}
			for _, c := range pending {
				_ = p.pc.AddICECandidate(c)
			}
			pending = nil
			if d.SDP.Type == webrtc.SDPTypeOffer {
				ans, err := p.pc.CreateAnswer(nil)
				if err == nil {
					go p.sendLocal(ans)
				}
			}
		}
	}
}

// selectedPair returns the types of the selected candidate pair. A remote
// peer-reflexive candidate at veil's relay address counts as relay: the
// other side's first check arrived through veil's relay before its
// trickled relay candidate did (a race the loaded CI machine shows).
func (p *pionPeer) selectedPair() (local, remote string) {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(p.t, err)
	require.NotNil(p.t, pair)
	remote = pair.Remote.Typ.String()
	if pair.Remote.Typ == webrtc.ICECandidateTypePrflx && pair.Remote.Address == relayIP.String() {
		remote = webrtc.ICECandidateTypeRelay.String()
	}
	return pair.Local.Typ.String(), remote
}

func (p *pionPeer) candidates() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.received...), append([]string(nil), p.sdps...)
}

// connectPair joins two peers in a room (before the read loops start
// consuming) and has the second offer to the first; it returns when the
// data channel carried a message each way.
func connectPair(t *testing.T, a *app, cooperative bool) (*pionPeer, *pionPeer) {
	t.Helper()
	x := newPionPeer(t, a, cooperative, "pion-room")
	y := newPionPeer(t, a, cooperative, "pion-room")
	y.offer(x.welcome.ID)
	for _, p := range []*pionPeer{x, y} {
		select {
		case <-p.opened:
		case <-time.After(connectTimeout):
			t.Fatalf("data channel did not open")
		}
		select {
		case msg := <-p.got:
			assert.Contains(t, msg, "hello from ")
		case <-time.After(connectTimeout):
			t.Fatalf("no message crossed the data channel")
		}
	}
	return x, y
}

// requireRelayOnly checks that every candidate a peer received is relay
// with a scrubbed related address, and no SDP carries a real address.
func requireRelayOnly(t *testing.T, p *pionPeer) {
	t.Helper()
	cands, sdps := p.candidates()
	require.NotEmpty(t, cands, "the peer must have received candidates")
	for _, c := range cands {
		parsed, err := ice.UnmarshalCandidate(c)
		require.NoError(t, err, c)
		assert.Equal(t, ice.CandidateTypeRelay, parsed.Type(), "non-relay candidate crossed veil: %s", c)
		if rel := parsed.RelatedAddress(); rel != nil {
			assert.Equal(t, "0.0.0.0", rel.Address, c)
			assert.Equal(t, 0, rel.Port, c)
		}
		assert.NotContains(t, c, "127.0.0.1", "a host address crossed veil: %s", c)
	}
	for _, sdp := range sdps {
		assert.NotContains(t, sdp, "127.0.0.1", "a host address crossed veil in SDP")
		for _, line := range strings.Split(sdp, "\r\n") {
			if strings.HasPrefix(line, "c=") {
				assert.Equal(t, "c=IN IP4 0.0.0.0", line)
			}
		}
	}
}

// TestPionCooperativePeersRelay: peers that honour welcome connect through
// veil's embedded TURN, relay on both ends.
func TestPionCooperativePeersRelay(t *testing.T) {
	a := startVeil(t, nil)
	x, y := connectPair(t, a, true)
	for _, p := range []*pionPeer{x, y} {
		l, r := p.selectedPair()
		assert.Equal(t, "relay", l)
		assert.Equal(t, "relay", r)
		requireRelayOnly(t, p)
	}
}

// TestPionUncooperativePeersStillRelay: peers that ignore the policy and
// send host candidates (trickle and in SDP) still connect, through relay,
// and nothing but relay candidates with scrubbed addresses reached them.
func TestPionUncooperativePeersStillRelay(t *testing.T) {
	a := startVeil(t, nil)
	x, y := connectPair(t, a, false)
	for _, p := range []*pionPeer{x, y} {
		_, r := p.selectedPair()
		assert.Equal(t, "relay", r, "the only remote candidates a peer knows are relays")
		requireRelayOnly(t, p)
	}
}

// TestPionRelayOffPassesCandidates: with --relay=off the same peers see
// each other's host candidates: the filter is what makes the difference.
func TestPionRelayOffPassesCandidates(t *testing.T) {
	a := startVeil(t, func(o *options) { o.policy.Relay = privacy.RelayOff })
	x, y := connectPair(t, a, false)
	for _, p := range []*pionPeer{x, y} {
		cands, _ := p.candidates()
		var host int
		for _, c := range cands {
			if strings.Contains(c, "typ host") && strings.Contains(c, "127.0.0.1") {
				host++
			}
		}
		assert.Positive(t, host, "host candidates pass unchanged when relay is off: %v", cands)
	}
}
