package signaling

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// The TURN credentials endpoint. Clients of the PeerJS and VDO.Ninja
// dialects cannot receive iceServers from the server over their wire
// protocol (the native protocol puts them in welcome), so veil serves
// short-lived TURN credentials over HTTP, shaped like the TURN REST API
// (draft-uberti-behave-turn-rest):
//
//	GET /turn-credentials  (and GET {PeerJS path}{key}/turn)
//	{"username":"1700000000:<random>","password":"...","ttl":86400,"uris":["turn:..."]}
//
// Each request gets credentials for a fresh random id, tied to no peer.

// turnCredentialsPath is the dialect-independent endpoint.
const turnCredentialsPath = "/turn-credentials"

// turnCredentials is the TURN REST API response.
type turnCredentials struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	TTL      int64    `json:"ttl"` // seconds the credentials stay valid
	URIs     []string `json:"uris"`
}

// mountTURNCredentials registers GET /turn-credentials on s.mux.
func (s *Server) mountTURNCredentials() {
	s.mux.HandleFunc("GET "+turnCredentialsPath, s.serveTURNCredentials)
}

// serveTURNCredentials answers with TURN credentials from Config.ICEServers.
// It is admitted and rate limited like a connection, then against the
// per-address credential budget (CredentialRatePerIP), allowed for veil's
// own origin and Config.AllowedOrigins only, and never cached. With an
// AuthSecret it needs a valid token (edge/doors.go), else 401. 503 when no TURN
// server with credentials is configured.
func (s *Server) serveTURNCredentials(w http.ResponseWriter, r *http.Request) {
	if !s.edge.CORS(w, r) {
		return
	}
	release, ok := s.edge.Admit(w, r)
	if !ok {
		return
	}
	release()
	if !s.edge.AllowCredentials(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if !s.edge.TokenValid(edge.RequestToken(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="veil"`)
		http.Error(w, "a valid token is required (?token= or Authorization: Bearer)", http.StatusUnauthorized)
		return
	}
	creds, ok := turnCredentialsFrom(s.cfg.ICEServers(r, hub.NewID()), time.Now())
	if !ok {
		http.Error(w, "no TURN server configured", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

// turnCredentialsFrom folds ICE servers into one TURN REST answer: the
// first server with credentials gives username and password, and every
// server with the same credentials adds its URLs. The ttl comes from the
// username, whose TURN REST form is "<expiry unix time>:<id>"; 0 when the
// username does not say.
func turnCredentialsFrom(servers []ICEServer, now time.Time) (turnCredentials, bool) {
	i := slices.IndexFunc(servers, func(s ICEServer) bool { return s.Username != "" && s.Credential != "" })
	if i < 0 {
		return turnCredentials{}, false
	}
	c := turnCredentials{Username: servers[i].Username, Password: servers[i].Credential, URIs: []string{}}
	for _, s := range servers[i:] {
		if s.Username == c.Username && s.Credential == c.Password {
			c.URIs = append(c.URIs, s.URLs...)
		}
	}
	if ts, _, ok := strings.Cut(c.Username, ":"); ok {
		if exp, err := strconv.ParseInt(ts, 10, 64); err == nil && exp > now.Unix() {
			c.TTL = exp - now.Unix()
		}
	}
	return c, true
}
