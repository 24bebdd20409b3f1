package signaling

import "net/http"

// Admission and rate limiting hooks. Every protocol calls them at the same
// points: admit before a WebSocket upgrade (or an HTTP credential request),
// allowMessage for every client message and allowAction for join, publish
// and play. (Stubs; the abuse-resistance work fills them in.)

// admit decides whether a new connection from r may open. When it refuses
// it has already answered w. release must be called when the connection
// ends.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	return func() {}, true
}

// connLimiter holds one connection's message and action budgets.
type connLimiter struct{}

func (s *Server) newConnLimiter() *connLimiter { return &connLimiter{} }

// allowMessage reports whether a message of n bytes is within budget.
func (l *connLimiter) allowMessage(n int) bool { return true }

// allowAction reports whether a join, publish or play is within budget.
func (l *connLimiter) allowAction() bool { return true }
