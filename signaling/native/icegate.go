package native

import (
	"context"
	"net/http"

	"github.com/veilrtc/veil/signaling/internal/edge"
)

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
func (g *iceGate) welcomeICE(d *Dialect, r *http.Request, peerID string) []ICEServer {
	if len(d.srv.Config.AuthSecret) > 0 && !d.srv.TokenValid(edge.RequestToken(r)) {
		// Clone: net/http is done with r once the handler returns.
		g.req = r.Clone(context.Background())
		return []ICEServer{}
	}
	ice := d.cfg.ICEServers(r, peerID)
	if ice == nil {
		ice = []ICEServer{}
	}
	return ice
}

// release returns the held-back ICE servers once, after an authorized
// action; empty when nothing is held or there are none.
func (g *iceGate) release(d *Dialect, peerID string) []ICEServer {
	if g.req == nil {
		return nil
	}
	r := g.req
	g.req = nil
	return d.cfg.ICEServers(r, peerID) // nil or empty: nothing to send
}
