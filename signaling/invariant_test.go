package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/privacy/privacytest"
	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/native"
	"github.com/veilrtc/veil/signaling/peerjs"
	"github.com/veilrtc/veil/signaling/vdo"
)

// The forced-relay invariant, end to end: whatever a relay-filtered sender
// sends, in any of the three dialects, every frame its peer receives holds
// no IP literal and no .local name but the trusted relay address and
// 0.0.0.0/::. Checked with privacy/privacytest, which shares no code with
// the server's own check.

// invRelay is the relay transport address the test servers trust (that of
// testutil.RelayCand).
var invRelay = netip.MustParseAddrPort("203.0.113.7:61000")

func invTrusted(a netip.AddrPort) bool { return a == invRelay }

// invPeer is replaced by the receiver's id in every test frame.
const invPeer = "PEER"

// invMarker tags the frame each round ends with.
const invMarker = "veil-marker"

// invSpellings are addresses in the spellings an attacker review found and
// others parsers accept; the property test puts them in every field.
var invSpellings = []string{
	"203.0.113.77", "10.0.0.1:5000", "010.000.000.001", "192.168.1.2.3", "2001:db8::1", "[2001:db8::1]:443",
	"fe80::1%eth0", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::192.0.2.1", "4f9e1c2a-1b2c.local",
	"PRINTER.LOCAL.", "１０．０．０．１", "%31%30.0.0.1", "10。0。0。1", "a=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=:rtcp:9 IN IP4 203.0.113.77", `{"ip":"\u0031\u0030.0.0.1"}`, "&#49;&#48;.0.0.1",
}

// invSDPLines are SDP lines carrying an address, in spellings lenient
// parsers read as attributes.
var invSDPLines = []string{
	"a=:candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=:rtcp:9 IN IP4 203.0.113.77",
	"a= candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=\tcandidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=\fcandidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=\u00a0candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=\u2003rtcp:9 IN IP4 203.0.113.77",
	"a=candidate:2 1 UDP 2122260223 203.0.113.77 54322 typ host",
	"a=candidate:10.1.1.1 1 udp 41885439 203.0.113.7 61000 typ relay",
	"a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay network-id x.local",
	"a=x-note:ip ::ffff:7f00:1",
	"s=198.51.100.4",
	"i=fe80::1%eth0",
	"o=- 1 2 IN IP6 2001:db8::1",
	"c=IN IP6 2001:db8::1",
	"a=rtcp:9 IN IP6 2001:db8::1",
	"a=remote-candidates:1 192.168.7.9 50000",
}

// invHarness drives one dialect: a sender and a receiver connected to a
// real server, a marker that ends each round and a way to see whether the
// marker was refused.
type invHarness struct {
	tb      testing.TB
	ts      *httptest.Server
	dialect string

	snd, rcv         *websocket.Conn
	rcvID            string
	room             string // fresh per connect: old connections' departures go elsewhere
	rooms            int
	sndIn, rcvIn     chan []byte   // frames each side receives
	sndDead, rcvDead chan struct{} // closed when that side's connection ends
}

// pump reads ws until it fails, handing frames to a channel; frames
// nobody waits for are dropped once it is full.
func pump(ws *websocket.Conn) (chan []byte, chan struct{}) {
	in, dead := make(chan []byte, 1024), make(chan struct{})
	go func() {
		defer close(dead)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			select {
			case in <- b:
			default:
			}
		}
	}()
	return in, dead
}

// invServer starts a real server on loopback for a test or fuzz target.
func invServer(tb testing.TB, cfg Config) *httptest.Server {
	srv, err := New(cfg)
	require.NoError(tb, err)
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return ts
}

// invConfig turns every abuse limit off: the fuzzer sends thousands of
// messages and reconnects often. Relay forced, sysinfo passed: the least
// the server strips besides addresses.
func invConfig(strip bool) Config {
	p := privacy.DefaultPolicy()
	if !strip {
		p.Sysinfo = privacy.SysinfoPass
	}
	return Config{
		Policy: p, TrustedRelays: invTrusted,
		MaxConnectionsPerIP: -1, ConnectRatePerIP: -1, ConnectBurstPerIP: -1,
		MessageRate: -1, MessageBurst: -1, ByteRate: -1, ByteBurst: -1, ActionRate: -1, ActionBurst: -1,
	}
}

func newInvHarness(tb testing.TB, ts *httptest.Server, dialect string) *invHarness {
	h := &invHarness{tb: tb, ts: ts, dialect: dialect}
	h.connect()
	return h
}

func (h *invHarness) dialWS(path string) *websocket.Conn {
	ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(h.ts, path), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.NoError(h.tb, err)
	return ws
}

func readJSON(ws *websocket.Conn) (map[string]any, []byte, error) {
	_ = ws.SetReadDeadline(time.Now().Add(testutil.RecvTimeout))
	_, b, err := ws.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, b, err
	}
	return m, b, nil
}

// connect opens a fresh sender and receiver that may signal each other.
func (h *invHarness) connect() {
	h.close()
	h.rooms++
	h.room = fmt.Sprintf("inv-%d", h.rooms)
	join := []byte(`{"type":"join","room":"` + h.room + `"}`)
	joinVDO := []byte(`{"request":"joinroom","roomid":"` + h.room + `"}`)
	switch h.dialect {
	case native.Namespace:
		h.snd, h.rcv = h.dialWS("/ws"), h.dialWS("/ws")
		for _, ws := range []*websocket.Conn{h.snd, h.rcv} {
			m, _, err := readJSON(ws)
			require.NoError(h.tb, err)
			if ws == h.rcv {
				h.rcvID, _ = m["id"].(string)
			}
			require.NoError(h.tb, ws.WriteMessage(websocket.TextMessage, join))
			m, _, err = readJSON(ws)
			require.NoError(h.tb, err)
			require.Equal(h.tb, "joined", m["type"])
		}
		m, _, err := readJSON(h.snd) // the receiver joining
		require.NoError(h.tb, err)
		require.Equal(h.tb, "peer-joined", m["type"])
	case vdo.Namespace:
		h.snd, h.rcv = h.dialWS("/vdo"), h.dialWS("/vdo")
		require.NoError(h.tb, h.snd.WriteMessage(websocket.TextMessage, joinVDO))
		m, _, err := readJSON(h.snd)
		require.NoError(h.tb, err)
		require.Equal(h.tb, "listing", m["request"])
		require.NoError(h.tb, h.rcv.WriteMessage(websocket.TextMessage, joinVDO))
		m, _, err = readJSON(h.rcv)
		require.NoError(h.tb, err)
		require.Equal(h.tb, "listing", m["request"])
		m, _, err = readJSON(h.snd)
		require.NoError(h.tb, err)
		require.Equal(h.tb, "someonejoined", m["request"])
		h.rcvID, _ = m["UUID"].(string)
	case peerjs.Namespace:
		sndID, rcvID := testutil.PJID(), testutil.PJID()
		h.snd = h.dialWS(DefaultPeerJSPath + "peerjs?key=peerjs&token=t&id=" + sndID)
		h.rcv = h.dialWS(DefaultPeerJSPath + "peerjs?key=peerjs&token=t&id=" + rcvID)
		for _, ws := range []*websocket.Conn{h.snd, h.rcv} {
			m, _, err := readJSON(ws)
			require.NoError(h.tb, err)
			require.Equal(h.tb, "OPEN", m["type"])
		}
		h.rcvID = rcvID
	}
	require.NotEmpty(h.tb, h.rcvID)
	h.sndIn, h.sndDead = pump(h.snd)
	h.rcvIn, h.rcvDead = pump(h.rcv)
}

func (h *invHarness) close() {
	if h.snd != nil {
		_ = h.snd.Close()
		_ = h.rcv.Close()
		<-h.sndDead
		<-h.rcvDead
	}
	h.snd, h.rcv = nil, nil
}

func (h *invHarness) marker() []byte {
	switch h.dialect {
	case native.Namespace:
		return []byte(`{"type":"signal","to":"` + h.rcvID + `","rid":"` + invMarker + `","data":{"candidate":{"candidate":"","sdpMid":"` + invMarker + `"}}}`)
	case vdo.Namespace:
		return []byte(`{"UUID":"` + h.rcvID + `","candidate":{"candidate":"","sdpMid":"` + invMarker + `"}}`)
	default:
		return []byte(`{"type":"CANDIDATE","dst":"` + h.rcvID + `","payload":{"candidate":{"candidate":"","sdpMid":"` + invMarker + `"},"type":"data","connectionId":"` + invMarker + `"}}`)
	}
}

// ping asks the sender's server side for a reply and returns the frames the
// sender got until it. PeerJS has no reply: nil.
func (h *invHarness) ping() ([][]byte, error) {
	var req []byte
	switch h.dialect {
	case native.Namespace:
		req = []byte(`{"type":"ping","rid":"veil-sync"}`)
	case vdo.Namespace:
		req = []byte(`{"request":"ping"}`)
	default:
		return nil, nil
	}
	if err := h.snd.WriteMessage(websocket.TextMessage, req); err != nil {
		return nil, err
	}
	var got [][]byte
	deadline := time.After(testutil.RecvTimeout)
	for {
		select {
		case b := <-h.sndIn:
			if bytes.Contains(b, []byte(`"pong"`)) && (h.dialect == vdo.Namespace || bytes.Contains(b, []byte("veil-sync"))) {
				return got, nil
			}
			got = append(got, b)
		case <-h.sndDead:
			return nil, errors.New("sender closed")
		case <-deadline:
			return nil, errors.New("no pong")
		}
	}
}

// round sends frame (with invPeer replaced by the receiver's id) and the
// marker, and returns every frame the receiver got before the marker.
// Anything that ends the round early (the sender closed for too many bad
// messages, a frame that made it leave the room) reconnects; the frames
// read so far are still returned for checking.
func (h *invHarness) round(frame []byte) [][]byte {
	frame = bytes.ReplaceAll(frame, []byte(invPeer), []byte(h.rcvID))
	ok := h.snd.WriteMessage(websocket.TextMessage, frame) == nil
	if ok {
		_, err := h.ping()
		ok = err == nil
	}
	if ok {
		ok = h.snd.WriteMessage(websocket.TextMessage, h.marker()) == nil
	}
	if ok {
		replies, err := h.ping()
		ok = err == nil
		for _, r := range replies {
			if bytes.Contains(r, []byte(`"error"`)) {
				ok = false // the marker was refused: the sender left the room
			}
		}
	}
	var got [][]byte
	wait := testutil.RecvTimeout
	if !ok {
		wait = 200 * time.Millisecond // only what is already on its way
	}
	timeout := time.After(wait)
	for {
		select {
		case b := <-h.rcvIn:
			if bytes.Contains(b, []byte(invMarker)) {
				return got
			}
			got = append(got, b)
			continue
		case <-h.sndDead: // closed by LEAVE or strikes: no marker comes
		case <-h.rcvDead: // dropped (PeerJS alive timeout): reconnect
		case <-timeout:
			if ok {
				h.tb.Fatalf("marker not received after %q", frame)
			}
		}
		// Collect what is already queued, then start over.
		for {
			select {
			case b := <-h.rcvIn:
				got = append(got, b)
				continue
			default:
			}
			break
		}
		h.connect()
		return got
	}
}

// checkFrames fails for any frame that is not JSON or that holds an address
// the invariant forbids.
func checkFrames(tb testing.TB, sent []byte, frames [][]byte) {
	tb.Helper()
	for _, f := range frames {
		leak, err := privacytest.FindJSON(f, invTrusted)
		if err != nil {
			tb.Fatalf("received a frame that is not JSON: %q (sent %q)", f, sent)
		}
		if leak != "" {
			tb.Fatalf("address %q reached the receiver in %s (sent %s)", leak, f, sent)
		}
	}
}

// invTemplates are messages of each dialect with %s where a spelling goes;
// %q-quoted so a spelling is always valid JSON text.
var invTemplates = map[string][]string{
	native.Namespace: {
		`{"type":"signal","to":"PEER","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":%s,"usernameFragment":%s}}}`,
		`{"type":"signal","to":"PEER","data":{"candidates":[{"candidate":"` + testutil.RelayCand + `","sdpMid":"0","usernameFragment":%s}]}}`,
		`{"type":"signal","to":"PEER","data":{"candidate":{"candidate":%s}}}`,
		`{"type":"signal","to":"PEER","data":{"sdp":{"type":"offer","sdp":%s}}}`,
		`{"type":"debug","to":"PEER","data":{"relatedAddress":%s,"ip":%s,"stats":[{"type":"local-candidate","address":%s,"url":%s,"candidateType":%s}],%s:1}}`,
	},
	vdo.Namespace: {
		`{"UUID":"PEER","candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":%s,"usernameFragment":%s},"session":%s,"streamID":%s}`,
		`{"UUID":"PEER","candidates":[{"candidate":%s,"sdpMid":%s}],"type":"local"}`,
		`{"UUID":"PEER","description":{"type":"offer","sdp":%s},"session":"abcdefgh"}`,
		`{"UUID":"PEER","info":{"label":%s,%s:%s,"deep":[[{"x":%s}]]},"bye":%s}`,
		`{"UUID":"PEER","pipe":{"m":%s},"approved":%s}`,
	},
	peerjs.Namespace: {
		`{"type":"CANDIDATE","dst":"PEER","payload":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":%s,"usernameFragment":%s},"type":"data","connectionId":%s,"label":%s,"metadata":{"where":%s,%s:[%s]}}}`,
		`{"type":"OFFER","dst":"PEER","payload":{"sdp":{"type":"offer","sdp":%s},"type":"media","connectionId":"mc_1","metadata":%s,"serialization":%s,"browser":%s}}`,
		`{"type":"ANSWER","dst":"PEER","payload":{"sdp":{"type":"answer","sdp":%s},"type":"data","connectionId":"dc_1","label":%s}}`,
	},
}

// invSDP builds an offer around a good relay candidate with the given
// extra lines.
func invSDP(extra ...string) string {
	lines := append([]string{"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
		"a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E",
		"a=" + testutil.RelayCand}, extra...)
	return strings.Join(lines, "\r\n") + "\r\n"
}

// invFill fills a template's %s with random spellings, SDP documents and
// candidate lines.
func invFill(r *rand.Rand, tmpl string) []byte {
	n := strings.Count(tmpl, "%s")
	args := make([]any, n)
	for i := range args {
		var v string
		switch r.IntN(4) {
		case 0:
			v = invSDP(invSDPLines[r.IntN(len(invSDPLines))], invSDPLines[r.IntN(len(invSDPLines))])
		case 1:
			v = "candidate:" + strings.TrimPrefix(strings.TrimPrefix(invSDPLines[r.IntN(len(invSDPLines))], "a="), ":")
		default:
			v = "x " + invSpellings[r.IntN(len(invSpellings))] + " y"
		}
		b, _ := json.Marshal(v)
		args[i] = string(b)
	}
	return fmt.Appendf(nil, tmpl, args...)
}

// TestForcedRelayInvariant is the property test: for each dialect, under
// forced relay with sysinfo stripped and passed, 150 messages with
// addresses in every field reach the receiver without any address.
func TestForcedRelayInvariant(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for _, strip := range []bool{false, true} {
		for _, dialect := range []string{native.Namespace, vdo.Namespace, peerjs.Namespace} {
			t.Run(fmt.Sprintf("%s strip=%v", dialect, strip), func(t *testing.T) {
				ts := invServer(t, invConfig(strip))
				h := newInvHarness(t, ts, dialect)
				t.Cleanup(h.close)
				r := rand.New(rand.NewPCG(1, uint64(len(dialect))))
				forwarded := 0
				for i := range 150 {
					tmpl := invTemplates[dialect][i%len(invTemplates[dialect])]
					frame := invFill(r, tmpl)
					got := h.round(frame)
					checkFrames(t, frame, got)
					forwarded += len(got)
				}
				assert.Positive(t, forwarded, "some messages must still be forwarded, scrubbed")
			})
		}
	}
	goleak.VerifyNone(t, ignore)
}

// TestForcedRelayGoodClientsUnchanged: a well-formed client's messages
// cross as before: relay candidates, fingerprints, labels and metadata
// without addresses are not touched.
func TestForcedRelayGoodClientsUnchanged(t *testing.T) {
	ts := invServer(t, invConfig(false))
	for _, dialect := range []string{native.Namespace, vdo.Namespace, peerjs.Namespace} {
		t.Run(dialect, func(t *testing.T) {
			h := newInvHarness(t, ts, dialect)
			t.Cleanup(h.close)
			var frame string
			switch dialect {
			case native.Namespace:
				frame = `{"type":"signal","to":"PEER","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}}`
			case vdo.Namespace:
				frame = `{"UUID":"PEER","candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0","usernameFragment":"abcd"},"session":"abcdefgh","streamID":"cam1"}`
			default:
				frame = `{"type":"CANDIDATE","dst":"PEER","payload":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0","usernameFragment":"abcd"},"type":"data","connectionId":"dc_x1","label":"chat","metadata":{"v":"1.2","name":"alice","n":12345678901234567890}}}`
			}
			got := h.round([]byte(frame))
			require.Len(t, got, 1)
			s := string(got[0])
			relayHidden := strings.Replace(testutil.RelayCand, "raddr 198.51.100.4 rport 54321", "raddr 0.0.0.0 rport 0", 1)
			assert.Contains(t, s, relayHidden)
			assert.Contains(t, s, `"sdpMid":"0"`)
			assert.Contains(t, s, `"usernameFragment":"abcd"`)
			if dialect == peerjs.Namespace {
				assert.Contains(t, s, `"label":"chat"`)
				assert.Contains(t, s, `"metadata":{"v":"1.2","name":"alice","n":12345678901234567890}`, "metadata passes byte for byte")
			}
			if dialect == vdo.Namespace {
				assert.Contains(t, s, `"session":"abcdefgh"`)
				assert.Contains(t, s, `"streamID":"cam1"`)
			}

			offer := invSDP("a=ice-ufrag:abcd", "a=mid:0")
			switch dialect {
			case native.Namespace:
				frame = `{"type":"signal","to":"PEER","data":{"sdp":{"type":"offer","sdp":` + jsonString(offer) + `}}}`
			case vdo.Namespace:
				frame = `{"UUID":"PEER","description":{"type":"offer","sdp":` + jsonString(offer) + `}}`
			default:
				frame = `{"type":"OFFER","dst":"PEER","payload":{"sdp":{"type":"offer","sdp":` + jsonString(offer) + `},"type":"data","connectionId":"dc_x1"}}`
			}
			got = h.round([]byte(frame))
			require.Len(t, got, 1)
			want := strings.Replace(strings.Replace(offer, "127.0.0.1", "0.0.0.0", 1), "raddr 198.51.100.4 rport 54321", "raddr 0.0.0.0 rport 0", 1)
			assert.Contains(t, string(got[0]), jsonString(want)[1:len(jsonString(want))-1])
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestForcedRelaySmuggledSideFields: the fields the attacker review named
// are scrubbed, not forwarded verbatim.
func TestForcedRelaySmuggledSideFields(t *testing.T) {
	ts := invServer(t, invConfig(false))
	for _, tc := range []struct {
		dialect, frame string
	}{
		{native.Namespace, `{"type":"signal","to":"PEER","data":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"203.0.113.77","usernameFragment":"fe80::1%eth0"}}}`},
		{native.Namespace, `{"type":"debug","to":"PEER","data":{"relatedAddress":"192.168.1.2","ip":"10.0.0.1","address":"x.local","port":5}}`},
		{vdo.Namespace, `{"UUID":"PEER","candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0"},"session":"10.0.0.1","streamID":"cam1"}`}, // a streamID spelling an address is refused outright (TestNamesSpellingAddressesRefused)
		{peerjs.Namespace, `{"type":"CANDIDATE","dst":"PEER","payload":{"candidate":{"candidate":"` + testutil.RelayCand + `","sdpMid":"0"},"type":"data","connectionId":"10.0.0.1","label":"::ffff:7f00:1","metadata":{"ip":"192.168.1.2"}}}`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			h := newInvHarness(t, ts, tc.dialect)
			t.Cleanup(h.close)
			got := h.round([]byte(tc.frame))
			require.Len(t, got, 1, "the message still crosses, scrubbed")
			checkFrames(t, []byte(tc.frame), got)
		})
	}
}

// fuzzInvariant runs one dialect's fuzz target: arbitrary client frames
// from a relay-filtered sender through a real server; every frame the
// receiver gets must satisfy the invariant.
func fuzzInvariant(f *testing.F, dialect string) {
	for _, tmpl := range invTemplates[dialect] {
		r := rand.New(rand.NewPCG(2, 3))
		for range 3 {
			f.Add(invFill(r, tmpl))
		}
	}
	for _, l := range invSDPLines {
		f.Add(invFill(rand.New(rand.NewPCG(4, 5)), strings.Replace(invTemplates[dialect][0], "%s", jsonString(invSDP(l)), 1)))
	}
	for _, s := range []string{"\xff", "[]", `{}`, `{"type":"leave","room":"inv-1"}`, `{"type":"LEAVE"}`, `{"request":"bye"}`,
		`{"type":"HEARTBEAT"}`, `{"type":"ping"}`, `{"request":"ping"}`} {
		f.Add([]byte(s))
	}
	ts := invServer(f, invConfig(false))
	var h *invHarness
	f.Cleanup(func() {
		if h != nil {
			h.close()
		}
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if h == nil {
			h = newInvHarness(t, ts, dialect)
		}
		h.tb = t
		checkFrames(t, frame, h.round(frame))
	})
}

// FuzzNativeInvariant: the forced-relay invariant on the native protocol.
func FuzzNativeInvariant(f *testing.F) { fuzzInvariant(f, native.Namespace) }

// FuzzVDOInvariant: the forced-relay invariant on the VDO.Ninja dialect.
func FuzzVDOInvariant(f *testing.F) { fuzzInvariant(f, vdo.Namespace) }

// FuzzPeerJSInvariant: the forced-relay invariant on the PeerJS dialect.
func FuzzPeerJSInvariant(f *testing.F) { fuzzInvariant(f, peerjs.Namespace) }

// TestNamesSpellingAddressesRefused: the hub hands stream names to other
// peers in its own events, which no final frame check sees, so while
// relay filtering is on a room or stream name may not spell an address;
// with relay off it may.
func TestNamesSpellingAddressesRefused(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	for i, name := range []string{"10.20.30.40", "cam-127.66.0.7", "x.local", "𝟏𝟐𝟕.𝟎.𝟎.𝟏"} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, ts, "")
			c.Send(msg{"type": "publish", "stream": name, "rid": "p"})
			assert.Contains(t, c.ExpectError(CodeBadMessage).Str("message"), "IP address")
			c.Send(msg{"type": "join", "room": name, "rid": "j"})
			c.ExpectError(CodeBadMessage)
			v := testutil.DialVDO(t, ts, "")
			v.Send(msg{"request": "seed", "streamID": name})
			v.ExpectErr(CodeBadMessage)
			// The fan-out dialect's names go through the same check.
			f := testutil.DialFan(t, ts, testutil.FanLabel(fmt.Sprintf("N%d", i)), "")
			for _, m := range []msg{
				{"request": "seed", "streamID": name},
				{"request": "play", "streamID": name},
				{"request": "joinroom", "roomid": name},
				{"request": "joinroom", "roomid": "r", "streamID": name},
			} {
				f.Say(m)
				f.ExpectErr(CodeBadMessage)
			}
		})
	}

	off := privacy.DefaultPolicy()
	off.Relay = privacy.RelayOff
	_, ts = newTestServer(t, Config{Policy: off})
	c := dial(t, ts, "")
	c.Send(msg{"type": "publish", "stream": "10.20.30.40", "rid": "p"})
	assert.Equal(t, "10.20.30.40", c.Expect("published").Str("stream"))
}

// FuzzVDOFanoutInvariant: the forced-relay invariant on the fan-out
// dialect. A sender and a receiver share a room over real sockets; each
// fuzzed frame goes out with the sender's "from" (as the app adds it),
// followed by a marker, and nothing the receiver gets before the marker
// may hold an address (privacytest.FindJSON, independent of veil's own
// checker).
func FuzzVDOFanoutInvariant(f *testing.F) {
	tmpls := append([]string{`{"UUID":"PEER","bye":true,"isScene":%s,"director":%s,"roomid":%s}`}, invTemplates[vdo.Namespace]...)
	for _, tmpl := range tmpls {
		r := rand.New(rand.NewPCG(2, 3))
		for range 3 {
			f.Add(invFill(r, tmpl))
		}
	}
	for _, l := range invSDPLines {
		f.Add(invFill(rand.New(rand.NewPCG(4, 5)), strings.Replace(invTemplates[vdo.Namespace][2], "%s", jsonString(invSDP(l)), 1)))
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
			ws, resp, err := websocket.DefaultDialer.Dial(testutil.WSURL(ts, DefaultVDOFanoutPath), nil)
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
			case <-time.After(testutil.RecvTimeout):
				t.Fatal("no pong")
			}
			return ws, in, dead
		}
		sws, sIn, sDead := dial(snd)
		_, rIn, _ := dial(rcv)
		// The sender hears the receiver join: both are in the room.
		select {
		case <-sIn:
		case <-time.After(testutil.RecvTimeout):
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
				case <-time.After(testutil.RecvTimeout):
					return false
				}
			}
		}
		ok := say(frame) && sync()
		_ = ok // the frame itself may be refused; the marker decides
		marker := []byte(`{"UUID":"PEER","candidate":{"candidate":"","sdpMid":"` + invMarker + `"}}`)
		delivered := say(marker) && sync()
		var got [][]byte
		wait := testutil.RecvTimeout
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
