package signaling

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/veilrtc/veil/privacy"
)

// noticeCSP lets the notice page use its inline style and nothing else,
// and no other site frame it (clickjacking).
const noticeCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// servePrivacy publishes the effective policy so a client or an auditor can
// check it before joining: as JSON (the welcome.policy fields plus what is
// retained: nothing), or, for a browser asking for HTML, as a privacy
// notice generated from the running configuration.
func (s *Server) servePrivacy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", noticeCSP)
		_, _ = w.Write([]byte(privacy.NoticeHTML(s.notice())))
		return
	}
	type retained struct {
		Data []string `json:"data"`
		For  string   `json:"for"`
	}
	w.Header().Set("Content-Type", "application/json")
	// What the VDO.Ninja app can rely on: the same text as the notice.
	vdo := ""
	if !s.cfg.VDO.Disabled {
		vdo = privacy.VDONinjaText(s.cfg.Policy)
	}
	_ = json.NewEncoder(w).Encode(struct {
		privacy.Policy
		Retained retained `json:"retained"`
		VDONinja string   `json:"vdo_ninja,omitempty"`
	}{s.cfg.Policy, retained{Data: []string{}, For: "nothing"}, vdo})
}

// notice describes the running configuration for the privacy notice.
func (s *Server) notice() privacy.NoticeInfo {
	n := s.cfg.Notice
	n.Policy = s.cfg.Policy
	n.VDONinja = !s.cfg.VDO.Disabled
	n.ResumeGrace = max(s.cfg.ResumeGrace, 0)
	return n
}
