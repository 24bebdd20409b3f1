package signaling

import (
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"
)

// What every protocol does with a connection, written once: serveConn
// from upgrade to hand-off, decodeMessage and admitMessage at the start of
// each client message.

// session is one protocol's side of a connection, as serveConn drives it.
type session interface {
	handle(b []byte)  // one client message, on the reader goroutine
	refuse(err error) // a frame the connection layer rejected
	closed()          // the read loop ended: leave the hub
}

// serveConn is the life of every protocol's WebSocket: upgrade (origin,
// admission), count it, open (the protocol builds and registers its
// session; nil means open has answered and closed c), then hand the read
// loop off. One cleanup path for all protocols: a connection that never
// reaches the hand-off is accounted for here, even if open panics.
func (s *Server) serveConn(w http.ResponseWriter, r *http.Request, proto string, open func(c *conn) session) {
	c := s.upgrade(w, r)
	if c == nil {
		return
	}
	s.metrics.connOpened(proto)
	handedOff := false
	defer func() {
		if !handedOff {
			s.connDone(c, proto)
		}
	}()
	sess := open(c)
	if sess == nil {
		return
	}
	handedOff = true
	s.handOff(c, proto, func() {
		c.readLoop(sess.handle, sess.refuse)
		sess.closed()
		c.finish()
	})
}

// decodeMessage is the decode prologue of every protocol: b must be UTF-8
// and a JSON object that fits v. partial says the error is one field's
// type, so the rest of v holds what decoded (native echoes its type and
// rid in the error).
func decodeMessage(b []byte, v any) (partial bool, err error) {
	if !utf8.Valid(b) {
		return false, newError(CodeBadJSON, "message is not valid UTF-8")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return true, newError(CodeBadMessage, "field %q has the wrong type", te.Field)
		}
		return false, newError(CodeBadJSON, "message is not a JSON object")
	}
	return false, nil
}

// admitMessage counts a decoded message of type typ and n bytes, records
// its size for the frame-growth check (inLen) and spends the connection's
// message budget: ErrRateLimited when it is spent.
func (s *Server) admitMessage(l *connLimiter, inLen *int, typ string, n int) error {
	s.metrics.message(typ)
	*inLen = n
	if !l.allowMessage(n) {
		s.metrics.rateLimited("messages")
		return ErrRateLimited
	}
	return nil
}
