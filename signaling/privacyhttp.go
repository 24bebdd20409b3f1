package signaling

import (
	"encoding/json"
	"net/http"
)

// servePrivacy publishes the effective policy as JSON: the welcome.policy
// object plus what is retained, so a client or an auditor can check before
// joining.
func (s *Server) servePrivacy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Policy   any      `json:"policy"`
		Retained []string `json:"retained"`
	}{s.cfg.Policy, []string{}})
}
