package signaling

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Action is what an operator token may grant.
type Action string

// The actions a token can grant.
const (
	ActionJoin    Action = "join"
	ActionPublish Action = "publish"
	ActionPlay    Action = "play"
)

// Operator tokens.
const (
	// MinAuthSecretBytes is the shortest AuthSecret accepted: HS256 is only
	// as strong as its key, and a short one can be brute-forced offline
	// from any token a client holds.
	MinAuthSecretBytes = 32
	// maxTokenBytes bounds a token before any parsing.
	maxTokenBytes = 4096
	// tokenLeeway tolerates clock skew between the machine that minted a
	// token and this one.
	tokenLeeway = 30 * time.Second
)

// errBadGrant is returned by MintToken for a grant that allows nothing.
var errBadGrant = errors.New("signaling: token grant")

// Grant is what an operator token allows: the actions, on a room (join),
// a stream (publish, play) or any name starting with Prefix (all three).
type Grant struct {
	Room    string   `json:"room,omitempty"`
	Stream  string   `json:"stream,omitempty"`
	Prefix  string   `json:"prefix,omitempty"`
	Actions []Action `json:"actions"`
}

// allows reports whether g permits action on name.
func (g *Grant) allows(action Action, name string) bool {
	if !slices.Contains(g.Actions, action) {
		return false
	}
	if g.Prefix != "" && strings.HasPrefix(name, g.Prefix) {
		return true
	}
	switch action {
	case ActionJoin:
		return g.Room != "" && g.Room == name
	case ActionPublish, ActionPlay:
		return g.Stream != "" && g.Stream == name
	}
	return false
}

// tokenClaims is a token's payload: the grant plus exp (required) and iat.
type tokenClaims struct {
	Grant
	jwt.RegisteredClaims
}

// tokenParser accepts HS256 only: alg "none", other HMAC sizes and the
// RS256-signed-with-the-HMAC-key confusion are refused before any key is
// used. exp is required. A jwt.Parser holds no state after construction.
var tokenParser = jwt.NewParser(
	jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
	jwt.WithExpirationRequired(),
	jwt.WithLeeway(tokenLeeway),
)

// MintToken returns an HS256 token granting g for ttl from now, signed with
// secret (Config.AuthSecret). Each action must be covered: join by Room or
// Prefix, publish and play by Stream or Prefix. Safe for concurrent use.
func MintToken(secret []byte, g Grant, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < MinAuthSecretBytes {
		return "", fmt.Errorf("%w: secret must be at least %d bytes", errBadGrant, MinAuthSecretBytes)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: ttl must be positive", errBadGrant)
	}
	if len(g.Actions) == 0 {
		return "", fmt.Errorf("%w: no actions", errBadGrant)
	}
	for _, a := range g.Actions {
		switch {
		case a != ActionJoin && a != ActionPublish && a != ActionPlay:
			return "", fmt.Errorf("%w: unknown action %q (join, publish, play)", errBadGrant, a)
		case g.Prefix != "":
		case a == ActionJoin && g.Room == "":
			return "", fmt.Errorf("%w: join needs a room or a prefix", errBadGrant)
		case a != ActionJoin && g.Stream == "":
			return "", fmt.Errorf("%w: %s needs a stream or a prefix", errBadGrant, a)
		}
	}
	claims := tokenClaims{Grant: g, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// parseToken verifies token against secret and returns its grant.
func parseToken(secret []byte, token string) (*Grant, error) {
	if token == "" || len(token) > maxTokenBytes {
		return nil, ErrUnauthorized
	}
	var c tokenClaims
	_, err := tokenParser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods has checked the alg; this is the second lock.
		if t.Method != jwt.SigningMethodHS256 {
			return nil, ErrUnauthorized
		}
		return secret, nil
	})
	if err != nil {
		return nil, ErrUnauthorized
	}
	return &c.Grant, nil
}

// authorize checks a join, publish or play of name: first the
// RequireUnguessable length, then, with an AuthSecret, the token. With
// neither configured every request is allowed. Every refusal is
// ErrUnauthorized-coded and says nothing about why a token failed.
func (s *Server) authorize(token string, action Action, name string) error {
	if n := s.cfg.RequireUnguessable; n > 0 && utf8.RuneCountInString(name) < n {
		return newError(CodeUnauthorized, "this server requires room and stream names of at least %d characters", n)
	}
	if len(s.cfg.AuthSecret) == 0 {
		return nil
	}
	g, err := parseToken(s.cfg.AuthSecret, token)
	if err != nil || !g.allows(action, name) {
		return ErrUnauthorized
	}
	return nil
}

// validateAuth checks the access control fields.
func (c Config) validateAuth() error {
	if len(c.AuthSecret) > 0 && len(c.AuthSecret) < MinAuthSecretBytes {
		return fmt.Errorf("%w: AuthSecret must be at least %d bytes", errInvalidConfig, MinAuthSecretBytes)
	}
	if c.RequireUnguessable < 0 || c.RequireUnguessable > c.MaxNameBytes {
		return fmt.Errorf("%w: RequireUnguessable must be between 0 and MaxNameBytes", errInvalidConfig)
	}
	return nil
}
