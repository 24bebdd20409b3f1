package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/internal/testutil"
	"github.com/veilrtc/veil/signaling/peerjs"
	"github.com/veilrtc/veil/signaling/vdo"
)

// spellings returns the ways s could show up in bytes on the wire: as
// is, base64 (standard and URL alphabets, at each of the three alignments
// it could have inside a longer encoded text), and hex in either case.
func spellings(s string) []string {
	out := []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := 0; shift < 3; shift++ {
			e := enc.EncodeToString(append(bytes.Repeat([]byte{0}, shift), s...))
			// Drop the characters the unknown neighbours change.
			from, to := (shift*4+2)/3, len(e)-4
			if to-from >= 5 { // shorter could match random bytes by chance
				out = append(out, e[from:to])
			}
		}
	}
	return out
}

// natsSpy subscribes to everything on a NATS server and keeps it.
type natsSpy struct {
	conn     *nats.Conn
	mu       sync.Mutex // guards the following fields
	subjects []string
	payloads [][]byte
}

func spyOn(t *testing.T, ns *server.Server) *natsSpy {
	t.Helper()
	c, err := nats.Connect(natsURL(ns))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	s := &natsSpy{conn: c}
	_, err = c.Subscribe(">", func(m *nats.Msg) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.subjects = append(s.subjects, m.Subject)
		s.payloads = append(s.payloads, m.Data)
	})
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	return s
}

// check asserts that no secret shows in any subject or payload seen, in
// any spelling, and that every payload is sealed. It returns the largest
// payload's size, so a test can tell the frames it sent crossed NATS.
func (s *natsSpy) check(t *testing.T, secrets map[string]string) (largest int) {
	t.Helper()
	require.NoError(t, s.conn.Flush())
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.payloads, "the spy saw the cluster's traffic")
	for i, p := range s.payloads {
		// A sealed payload starts with a random nonce: its first byte may
		// be '{' (1 in 256), but it is never JSON.
		assert.False(t, json.Valid(p), "payload %d is sealed, not JSON", i)
		largest = max(largest, len(p))
		for what, sec := range secrets {
			for _, sp := range spellings(sec) {
				assert.NotContains(t, s.subjects[i], sp, "%s in subject %q", what, s.subjects[i])
				assert.False(t, bytes.Contains(p, []byte(sp)), "%s (as %q) in payload %d", what, sp, i)
			}
		}
	}
	return largest
}

// TestNATSSeesNothing: a NATS operator who subscribes to everything
// during a call across nodes reads no room name, stream name, peer id,
// client address or SDP in any subject or payload, in any spelling.
func TestNATSSeesNothing(t *testing.T) {
	ns, nodes := startCluster(t, 3)
	spy := spyOn(t, ns)

	const (
		room   = "secret-room-name-7431"
		stream = "secret-stream-name-9902"
	)
	a, b, c := dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])
	a.join(room)
	b.joinSeeing(room, a)
	a.peerJoined(room, b.id)
	a.send(msg{"type": "publish", "stream": stream})
	a.expect("published", nil)
	c.send(msg{"type": "play", "stream": stream})
	a.expect("viewer", nil)
	a.send(msg{"type": "signal", "to": b.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	b.signalFrom(a.id)
	b.send(msg{"type": "signal", "to": a.id, "data": msg{"candidate": msg{"candidate": "candidate:7 1 udp 2122260223 127.0.0.1 50123 typ host"}}})
	a.signalFrom(b.id)
	a.send(msg{"type": "signal", "to": c.id, "data": msg{"sdp": msg{"type": "offer", "sdp": offerSDP}}})
	c.signalFrom(a.id)
	c.close() // a leave travels too
	time.Sleep(3 * testHeartbeat)

	largest := spy.check(t, map[string]string{
		"room": room, "stream": stream,
		"peer a": a.id, "peer b": b.id, "peer c": c.id,
		"client address": "127.0.0.1", "SDP": "v=0\r\no=-", "ice-ufrag": "Zq3xK9pLmW2r", "ice-pwd": "abcdefghijklmnopqrstuvwx",
		"fingerprint": "00:11:22:33:44", "candidate": "typ host", "message type": `"signal"`,
	})
	assert.Greater(t, largest, len(offerSDP), "an offer crossed NATS while the spy listened")
}

// TestNATSSeesNothingDialects: the same for PeerJS and VDO.Ninja traffic
// across nodes: PeerJS ids (client-chosen), held messages that follow an
// id, VDO.Ninja rooms, streams, UUIDs, fan-out labels, director claims
// and migrations.
func TestNATSSeesNothingDialects(t *testing.T) {
	ns, nodes := startCluster(t, 3)
	spy := spyOn(t, ns)

	// PeerJS: an offer and a candidate across nodes, one held and carried.
	idA, idB, idC := "pjsecretalpha"+testutil.PJID()[:8], "pjsecretbravo"+testutil.PJID()[:8], "pjsecretcharlie"+testutil.PJID()[:8]
	pa := testutil.PJDial(t, nodes[0].ts, idA, "secret-token-a1")
	pb := testutil.PJDial(t, nodes[1].ts, idB, "secret-token-b2")
	knows(t, nodes, peerjs.Namespace, idB)
	pa.Send(tmsg{"type": "OFFER", "dst": idB, "payload": pjOffer()})
	pb.Expect("OFFER")
	pb.Send(tmsg{"type": "CANDIDATE", "dst": idA, "payload": testutil.PJCand("candidate:7 1 udp 2122260223 127.0.0.1 50123 typ host")})
	pa.Expect("CANDIDATE")
	pa.Send(tmsg{"type": "OFFER", "dst": idC, "payload": pjOffer()})
	require.Eventually(t, func() bool {
		return testutil.MetricValueNoLabel(t, nodes[0].srv.MetricsRegistry(), "veil_peerjs_held_bytes") > 0
	}, recvTimeout, 5*time.Millisecond)
	pc := testutil.PJDial(t, nodes[2].ts, idC, "secret-token-c3")
	pc.Expect("OFFER")

	// VDO.Ninja: a directed room across nodes, a migrate, a stream.
	const (
		room     = "secretvdoroom42"
		breakout = "secretbreakout77"
		stream   = "secretvdostream9"
	)
	x := testutil.DialVDO(t, nodes[0].ts, "")
	xID := localID(t, nodes[0], vdo.Namespace)
	d := testutil.DialVDO(t, nodes[1].ts, "")
	dID := localID(t, nodes[1], vdo.Namespace)
	x.JoinRoom(room, false)
	d.JoinRoom(room, true)
	x.ExpectReq("someonejoined")
	z := testutil.DialVDO(t, nodes[2].ts, "")
	zID := localID(t, nodes[2], vdo.Namespace)
	z.JoinRoom(breakout, true)
	settled(t, nodes, vdo.Namespace, room, dID, xID)
	settled(t, nodes, vdo.Namespace, breakout, zID)
	x.Send(tmsg{"UUID": dID, "description": tmsg{"type": "offer", "sdp": offerSDP}, "session": "secretsession1"})
	d.Recv()
	d.Send(tmsg{"request": "migrate", "roomid": breakout, "target": xID})
	x.ExpectReq("transferred")
	x.Send(tmsg{"request": "seed", "streamID": stream})
	x.Sync()
	v := testutil.DialVDO(t, nodes[1].ts, "")
	v.Send(tmsg{"request": "play", "streamID": stream})
	x.ExpectReq("offerSDP")

	// Fan-out: labels and a room with a director.
	fd := testutil.DialFan(t, nodes[0].ts, testutil.FanLabel("SecretLabelD"), "")
	fg := testutil.DialFan(t, nodes[1].ts, testutil.FanLabel("SecretLabelG"), "")
	fd.Say(tmsg{"request": "joinroom", "roomid": "secretfanroom5", "claim": true, "streamID": "secretfansid1", "director": true})
	fd.Sync()
	settled(t, nodes, vdo.FanoutNamespace, "secretfanroom5", fd.Label)
	fg.Say(tmsg{"request": "joinroom", "roomid": "secretfanroom5", "streamID": "secretfansid2"})
	fd.Recv()
	time.Sleep(3 * testHeartbeat)

	largest := spy.check(t, map[string]string{
		"PeerJS id a": idA, "PeerJS id b": idB, "PeerJS id c": idC,
		"PeerJS token": "secret-token-", "PeerJS type": `"OFFER"`,
		"VDO room": room, "VDO breakout": breakout, "VDO stream": stream,
		"VDO uuid x": xID, "VDO uuid d": dID, "VDO uuid z": zID, "VDO session": "secretsession1",
		"fan label": "SecretLabel", "fan room": "secretfanroom5", "fan stream": "secretfansid",
		"client address": "127.0.0.1", "SDP": "v=0\r\no=-", "ice-ufrag": "Zq3xK9pLmW2r",
		"candidate": "typ host", "VDO request": `"request"`,
	})
	assert.Greater(t, largest, len(offerSDP), "offers crossed NATS while the spy listened")
}
