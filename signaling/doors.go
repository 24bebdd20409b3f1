package signaling

import (
	"context"
	"net/http"
	"strings"

	"github.com/veilrtc/veil/signaling/auth"
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

// requestToken returns the operator token r carries: the token query
// parameter, else an Authorization: Bearer header. Browsers cannot set
// headers on a WebSocket, and a cross-origin Authorization header needs a
// preflight, so the query parameter is the one for browsers.
func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}

// tokenValid reports whether token admits to a door that grants no named
// room or stream (TURN credentials): true without an AuthSecret, else
// when token verifies and is unexpired, whatever it grants.
func (s *Server) tokenValid(token string) bool {
	if len(s.cfg.AuthSecret) == 0 {
		return true
	}
	_, err := auth.Verify(s.cfg.AuthSecret, token)
	return err == nil
}

// iceGate holds back a native peer's TURN credentials until it shows a
// valid token: with an AuthSecret, welcome carries them only when the
// connection URL has a valid token; otherwise the first authorized join,
// publish or play releases them in an ice-servers message. It is used by
// the connection's reader only (welcome runs before the reader starts).
type iceGate struct {
	// req is the upgrade request, kept for Config.ICEServers while the
	// credentials are held back; nil once they went out or when they
	// were never held.
	req *http.Request
}

// welcomeICE returns the ICE servers for welcome, or none while they are
// held back.
func (g *iceGate) welcomeICE(s *Server, r *http.Request, peerID string) []ICEServer {
	if len(s.cfg.AuthSecret) > 0 && !s.tokenValid(requestToken(r)) {
		// Clone: net/http is done with r once the handler returns.
		g.req = r.Clone(context.Background())
		return []ICEServer{}
	}
	ice := s.cfg.ICEServers(r, peerID)
	if ice == nil {
		ice = []ICEServer{}
	}
	return ice
}

// release returns the held-back ICE servers once, after an authorized
// action; empty when nothing is held or there are none.
func (g *iceGate) release(s *Server, peerID string) []ICEServer {
	if g.req == nil {
		return nil
	}
	r := g.req
	g.req = nil
	return s.cfg.ICEServers(r, peerID) // nil or empty: nothing to send
}
