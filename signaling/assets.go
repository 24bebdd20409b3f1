package signaling

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the browser client (veil.js) and the demo page.
//
//go:embed web/veil.js web/index.html web/demo.js web/demo.css
var web embed.FS

// contentSecurityPolicy keeps the demo page to veil's own origin: no
// third-party scripts, styles, fonts or beacons can load, even by accident.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// mountAssets serves /veil.js always and the demo page at / when enabled.
func (s *Server) mountAssets() {
	sub, _ := fs.Sub(web, "web") // cannot fail: "web" is embedded
	files := http.FileServerFS(sub)
	serve := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
	s.mux.HandleFunc("GET /veil.js", serve)
	if !s.cfg.Demo {
		return
	}
	s.mux.HandleFunc("GET /{$}", serve)
	s.mux.HandleFunc("GET /demo.js", serve)
	s.mux.HandleFunc("GET /demo.css", serve)
}
