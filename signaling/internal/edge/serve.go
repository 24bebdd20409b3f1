package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/veilrtc/veil/signaling/hub"
)

// What every protocol does with a connection, written once: Serve from
// upgrade to hand-off, Decode and AdmitMessage at the start of each
// client message.

// Session is one protocol's side of a connection, as Serve drives it.
type Session interface {
	Handle(b []byte)  // one client message, on the reader goroutine
	Refuse(err error) // a frame the connection layer rejected
	Closed()          // the read loop ended: leave the hub
}

// Serve is the life of every protocol's WebSocket: upgrade (origin,
// admission), count it under proto (the metrics' protocol label), open
// (the protocol builds and registers its session), then hand the read loop
// off. open returning nil refuses the connection: open may have answered
// or closed c with a code of its own (Conn.Reject, Conn.Close), and Serve
// closes it normally otherwise. One cleanup path for all protocols: a
// connection that never reaches the hand-off is finished and accounted for
// here, even if open panics.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, proto string, open func(c *Conn) Session) {
	c := s.upgrade(w, r)
	if c == nil {
		return
	}
	s.Metrics.connOpened(proto)
	handedOff := false
	defer func() {
		if !handedOff {
			c.Finish()
			s.connDone(c, proto)
		}
	}()
	sess := open(c)
	if sess == nil {
		return
	}
	handedOff = true
	s.handOff(c, proto, func() {
		c.readLoop(sess.Handle, sess.Refuse)
		sess.Closed()
		c.Finish()
	})
}

// Decode is the decode prologue of every protocol: b must be UTF-8 and a
// JSON object that fits v. partial says the error is one field's type, so
// the rest of v holds what decoded (native echoes its type and rid in the
// error).
func Decode(b []byte, v any) (partial bool, err error) {
	if !utf8.Valid(b) {
		return false, NewError(hub.CodeBadJSON, "message is not valid UTF-8")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return true, NewError(hub.CodeBadMessage, "field %q has the wrong type", te.Field)
		}
		return false, NewError(hub.CodeBadJSON, "message is not a JSON object")
	}
	return false, nil
}

// AdmitMessage counts a decoded message of type typ and n bytes, records
// its size for the frame-growth check (inLen, for CheckGrowth) and spends
// the connection's message budget: ErrRateLimited when it is spent.
func (s *Server) AdmitMessage(l *Limiter, inLen *int, typ string, n int) error {
	s.Metrics.Message(typ)
	*inLen = n
	if !l.allowMessage(n) {
		s.Metrics.RateLimited("messages")
		return ErrRateLimited
	}
	return nil
}
