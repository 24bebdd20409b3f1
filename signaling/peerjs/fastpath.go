package peerjs

import (
	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// The fast path of the hot case (issue #14, phase 2): an OFFER or ANSWER
// read in one pass without encoding/json, its SDP unescaped once into a
// pooled buffer, scrubbed, and escaped once into the outgoing frame, the
// other fields forwarded from their validated bytes. It decides only what
// it can do exactly as the encoding/json path does (signalFrameJSON,
// FuzzFastPathMatchesEncodingJSON holds it to it); anything else goes
// there.

// clientKeys and payloadKeys are the fields of clientMsg and payload, in
// the order the fast path reads them.
var (
	clientKeys  = []string{"type", "dst", "payload"}
	payloadKeys = []string{"sdp", "candidate", "type", "connectionId", "label", "reliable", "serialization", "metadata", "browser"}
	sdpKeys     = []string{"type", "sdp"}
)

const (
	pSDP = iota
	pCandidate
	pType
	pConnectionID
	pLabel
	pReliable
	pSerialization
	pMetadata
	pBrowser
)

// decodeFast decodes a client message into m as edge.Decode would, when
// every field is plain (edge.Fields); false: edge.Decode must decide.
// m.Payload is a subslice of b, valid only while the message is handled.
func decodeFast(b []byte, m *clientMsg) bool {
	var v [3][]byte
	if !edge.DecodeFields(b, clientKeys, v[:]) {
		return false
	}
	var out clientMsg
	if !edge.StringField(v[0], &out.Type) || !edge.StringField(v[1], &out.Dst) {
		return false
	}
	out.Payload = v[2]
	*m = out
	return true
}

// signalFrameFast is signalFrameJSON for an OFFER or ANSWER whose fields
// are plain and whose SDP scrubs cleanly. ok=false: the fast path does not
// decide (signalFrameJSON does); it never drops what it decides (keep).
func (sess *session) signalFrameFast(m *clientMsg) (f []byte, keep, ok bool) {
	var want string
	switch m.Type {
	case "OFFER":
		want = "offer"
	case "ANSWER":
		want = "answer"
	default:
		return nil, false, false
	}
	var v [9][]byte
	if !edge.FieldsOf(m.Payload, payloadKeys, v[:]) || v[pSDP] == nil || v[pSDP][0] != '{' || v[pCandidate] != nil {
		return nil, false, false
	}
	// Optional fields: absent, or a plain string (reliable: a boolean);
	// null and escapes go to encoding/json.
	var str [9]string
	for _, i := range []int{pType, pConnectionID, pLabel, pSerialization, pBrowser} {
		if !edge.StringField(v[i], &str[i]) {
			return nil, false, false
		}
	}
	if r := v[pReliable]; r != nil && string(r) != "true" && string(r) != "false" {
		return nil, false, false
	}
	if sess.StripSysinfo {
		v[pBrowser] = nil
	}
	md := v[pMetadata]
	if sess.ForceRelay && md != nil {
		// edge.ScrubJSON passes address-free data as it is; other data
		// is rebuilt, which only encoding/json does.
		if _, found := privacy.FindLeakJSON(md, edge.TrustNone); found {
			return nil, false, false
		}
	}
	var d [2][]byte
	if !edge.FieldsOf(v[pSDP], sdpKeys, d[:]) || d[1] == nil {
		return nil, false, false
	}
	var typ string
	if !edge.StringField(d[0], &typ) || typ != want {
		return nil, false, false
	}

	// The frame, as encode(serverMsg{...}) writes it: fields in payload's
	// order, omitempty as its tags say.
	src := sess.peer.ID()
	f = make([]byte, 0, len(m.Payload)+len(m.Payload)/16+len(src)+len(m.Dst)+128)
	f = append(f, `{"type":`...)
	f = edge.AppendQuoted(f, m.Type)
	f = append(f, `,"src":`...)
	f = edge.AppendQuoted(f, src)
	if m.Dst != "" { // omitempty; signal refuses it before
		f = append(f, `,"dst":`...)
		f = edge.AppendQuoted(f, m.Dst)
	}
	f = append(f, `,"payload":{"sdp":{"type":"`...)
	f = append(f, want...)
	f = append(f, `","sdp":`...)
	if f, ok = sess.d.srv.AppendScrubbedSDP(f, d[1], sess.ForceRelay, sess.StripSysinfo); !ok {
		return nil, false, false
	}
	f = append(f, '}')
	text := func(name string, i int, omitEmpty bool) {
		if v[i] == nil {
			return
		}
		s := str[i]
		if sess.ForceRelay {
			s = privacy.ScrubAddresses(s)
		}
		if omitEmpty && s == "" {
			return
		}
		f = append(f, `,"`...)
		f = append(f, name...)
		f = append(f, `":`...)
		f = edge.AppendQuoted(f, s)
	}
	text("type", pType, true)
	text("connectionId", pConnectionID, true)
	text("label", pLabel, false)
	if v[pReliable] != nil {
		f = append(f, `,"reliable":`...)
		f = append(f, v[pReliable]...)
	}
	text("serialization", pSerialization, false)
	if md != nil {
		f = append(f, `,"metadata":`...)
		f = edge.AppendCompact(f, md)
	}
	text("browser", pBrowser, false)
	f = append(f, "}}"...)
	return f, true, true
}
