package signaling

import (
	"fmt"
	"unicode/utf8"

	"github.com/veilrtc/veil/signaling/auth"
)

// authorize checks a join, publish or play of name: first the
// RequireUnguessable length, then, with an AuthSecret, the token. With
// neither configured every request is allowed. Every refusal is
// ErrUnauthorized-coded and says nothing about why a token failed.
func (s *Server) authorize(token string, action auth.Action, name string) error {
	if n := s.cfg.RequireUnguessable; n > 0 && utf8.RuneCountInString(name) < n {
		return newError(CodeUnauthorized, "this server requires room and stream names of at least %d characters", n)
	}
	if len(s.cfg.AuthSecret) == 0 {
		return nil
	}
	g, err := auth.Verify(s.cfg.AuthSecret, token)
	if err != nil || !g.Allows(action, name) {
		return ErrUnauthorized
	}
	return nil
}

// validateAuth checks the access control fields.
func (c Config) validateAuth() error {
	if len(c.AuthSecret) > 0 && len(c.AuthSecret) < auth.MinSecretBytes {
		return fmt.Errorf("%w: AuthSecret must be at least %d bytes", errInvalidConfig, auth.MinSecretBytes)
	}
	if c.RequireUnguessable < 0 || c.RequireUnguessable > c.MaxNameBytes {
		return fmt.Errorf("%w: RequireUnguessable must be between 0 and MaxNameBytes", errInvalidConfig)
	}
	return nil
}
