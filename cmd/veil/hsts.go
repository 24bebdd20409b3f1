package main

import "net/http"

// hstsMaxAge is a year, the value HSTS preload lists ask for. Subdomains
// are not included: they may be other services than veil.
const hstsMaxAge = "max-age=31536000"

// withHSTS tells browsers to reach this host over HTTPS only from now on,
// so a network attacker cannot strip TLS from a later visit to the demo or
// the notice and read the tokens and names it carries.
func withHSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		h.ServeHTTP(w, r)
	})
}
