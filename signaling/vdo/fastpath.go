package vdo

import (
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// The fast path of the hot case (issue #14, phase 2): a direct message
// carrying a plain description (the SDK's offer or answer) read in one
// pass without encoding/json, its SDP unescaped once into a pooled
// buffer, scrubbed, and escaped once into the outgoing frame. It decides
// only what it can do exactly as the encoding/json path does
// (directFrameJSON; FuzzFastPathMatchesEncodingJSON holds it to it);
// anything else goes there.

// inKeys are the fields of in, in the order decodeFast reads them.
var inKeys = []string{
	"request", "UUID", "streamID", "roomid", "claim", "target", "token", "auth", "from",
	"description", "candidate", "candidates", "vector", "session", "type", "info", "pipe",
	"__fallback", "iceRestartRequest", "bye", "hangup", "leave", "approved", "rejected",
}

const (
	kRequest = iota
	kUUID
	kStream
	kRoom
	kClaim
	kTarget
	kToken
	kAuth
	kFrom
	kDescription
	kCandidate
	kCandidates
	kVector
	kSession
	kType
	kInfo
	kPipe
	kFallback
	kICERestart
	kBye
	kHangup
	kLeave
	kApproved
	kRejected
	nKeys
)

var sdpKeys = []string{"type", "sdp"}

// decodeFast decodes a message into m as edge.Decode would, when every
// field is plain (edge.Fields): strings without escapes, claim a
// boolean; null and escapes go to edge.Decode. Raw fields are subslices
// of b, valid only while the message is handled.
func decodeFast(b []byte, m *in) bool {
	var v [nKeys][]byte
	if !edge.DecodeFields(b, inKeys, v[:]) {
		return false
	}
	var out in
	for _, f := range []struct {
		i   int
		dst *string
	}{{kRequest, &out.Request}, {kUUID, &out.UUID}, {kRoom, &out.Room}, {kTarget, &out.Target}, {kToken, &out.Token}, {kAuth, &out.Auth}} {
		if !edge.StringField(v[f.i], f.dst) {
			return false
		}
	}
	for _, f := range []struct {
		i   int
		dst **string
	}{{kStream, &out.Stream}, {kFrom, &out.From}, {kVector, &out.Vector}, {kSession, &out.Session}, {kType, &out.Type}} {
		if v[f.i] == nil {
			continue
		}
		var s string
		if !edge.StringField(v[f.i], &s) {
			return false
		}
		*f.dst = &s
	}
	switch string(v[kClaim]) {
	case "":
	case "true":
		out.Claim = true
	case "false":
	default:
		return false
	}
	out.Description, out.Candidate, out.Candidates = v[kDescription], v[kCandidate], v[kCandidates]
	out.Info, out.Pipe, out.Fallback, out.ICERestart = v[kInfo], v[kPipe], v[kFallback], v[kICERestart]
	out.Bye, out.Hangup, out.Leave, out.Approved, out.Rejected = v[kBye], v[kHangup], v[kLeave], v[kApproved], v[kRejected]
	*m = out
	return true
}

// directFrameFast is directFrameJSON for a direct message that carries
// only a plain offer, answer or pranswer description (and the tags
// session, streamID, type) that scrubs cleanly. ok=false: the fast path
// does not decide (directFrameJSON does).
func (s *session) directFrameFast(m *in) (b []byte, ok bool) {
	if !present(m.Description) || m.Description[0] != '{' || m.Candidate != nil || m.Candidates != nil ||
		m.Info != nil || m.Pipe != nil || m.ICERestart != nil || m.Bye != nil || m.Hangup != nil ||
		m.Approved != nil || m.Rejected != nil {
		return nil, false
	}
	var session, stream *string
	if m.Session != nil {
		if !edge.ValidName(*m.Session, maxSession) {
			return nil, false
		}
		session = m.Session
	}
	if m.Stream != nil {
		if s.srv.CheckName(*m.Stream) != nil {
			return nil, false
		}
		stream = m.Stream
	}
	if m.Type != nil && *m.Type != "local" && *m.Type != "remote" {
		return nil, false
	}
	if s.ForceRelay {
		session = edge.ScrubText(session)
		stream = edge.ScrubText(stream)
	}
	var d [2][]byte
	if !edge.FieldsOf(m.Description, sdpKeys, d[:]) || d[1] == nil {
		return nil, false
	}
	var typ string
	if !edge.StringField(d[0], &typ) {
		return nil, false
	}
	switch typ {
	case "offer", "answer", "pranswer":
	default:
		return nil, false
	}

	// The frame, as edge.Marshal(directMsg{...}) writes it: fields in
	// directMsg's order, omitempty as its tags say.
	id := s.peer.ID()
	b = make([]byte, 0, len(m.Description)+len(m.Description)/16+len(id)+160)
	b = append(b, `{"UUID":`...)
	b = edge.AppendQuoted(b, id)
	b = append(b, `,"description":{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","sdp":`...)
	if b, ok = s.srv.AppendScrubbedSDP(b, d[1], s.ForceRelay, s.StripSysinfo); !ok {
		return nil, false
	}
	b = append(b, '}')
	for _, f := range []struct {
		name string
		v    *string
	}{{"session", session}, {"streamID", stream}, {"type", m.Type}} {
		if f.v != nil {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = edge.AppendQuoted(b, *f.v)
		}
	}
	return append(b, '}'), true
}
