package edge

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
)

// Every door of the server under an AuthSecret. Tokens are checked where
// something is granted, never later:
//
//   - native /ws: each join, publish and play carries its token; TURN
//     credentials come in welcome only with a valid token in the
//     connection URL (/ws?token=), else in ice-servers after the first
//     authorized action;
//   - PeerJS {Path}peerjs: the client's own `token` parameter is the
//     operator token and must grant join on the peer's id (PeerJS has no
//     rooms: the id is the only name there is);
//   - VDO.Ninja: each seed, play and joinroom carries a token, or the
//     connection URL's ?token= stands for it;
//   - GET /turn-credentials and {Path}{Key}/turn, and {Path}{Key}/peers
//     when PeerJS discovery is on: any valid token, in ?token= or
//     Authorization: Bearer.
//
// Without an AuthSecret every door is open, as before.

// RequestToken returns the operator token r carries: the token query
// parameter, else an Authorization: Bearer header. Browsers cannot set
// headers on a WebSocket, and a cross-origin Authorization header needs a
// preflight, so the query parameter is the one for browsers.
func RequestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}

// TokenValid reports whether token admits to a door that grants no named
// room or stream (TURN credentials): true without an AuthSecret, else
// when token verifies and is unexpired, whatever it grants.
func (s *Server) TokenValid(token string) bool {
	if len(s.Config.AuthSecret) == 0 {
		return true
	}
	_, err := auth.Verify(s.Config.AuthSecret, token)
	return err == nil
}

// Authorize checks a join, publish or play of name: first the
// RequireUnguessable length, then, with an AuthSecret, the token. With
// neither configured every request is allowed. Every refusal is
// ErrUnauthorized-coded and says nothing about why a token failed.
func (s *Server) Authorize(token string, action auth.Action, name string) error {
	if n := s.Config.RequireUnguessable; n > 0 && utf8.RuneCountInString(name) < n {
		return NewError(hub.CodeUnauthorized, "this server requires room and stream names of at least %d characters", n)
	}
	if len(s.Config.AuthSecret) == 0 {
		return nil
	}
	g, err := auth.Verify(s.Config.AuthSecret, token)
	if err != nil || !g.Allows(action, name) {
		return ErrUnauthorized
	}
	return nil
}

// CheckName validates a room or stream name. While relay filtering is on,
// a name may not spell an address: the hub hands stream names to other
// peers in its events (joined, stream-added, videoaddedtoroom), which are
// no forwarded frames and so do not pass the final forced-relay check.
func (s *Server) CheckName(name string) error {
	if !ValidName(name, s.Config.MaxNameBytes) {
		return NewError(hub.CodeBadMessage, "room and stream names must be 1-%d bytes of printable UTF-8", s.Config.MaxNameBytes)
	}
	if s.Config.Policy.Relay != privacy.RelayOff {
		if _, found := privacy.FindAddress(name, nil); found {
			return errNameAddress
		}
	}
	return nil
}

// CheckAction is what every protocol checks before a join, publish or
// play (or their dialect names): the name, the connection's action budget
// and, when the operator requires them, the token.
func (s *Server) CheckAction(l *Limiter, name, token string, a auth.Action) error {
	if err := s.CheckName(name); err != nil {
		return err
	}
	if !l.allowAction() {
		s.Metrics.RateLimited("actions")
		return ErrRateLimited
	}
	return s.Authorize(token, a, name)
}
