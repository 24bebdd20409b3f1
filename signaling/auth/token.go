package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"

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
	// MinSecretBytes is the shortest secret accepted: HS256 is only
	// as strong as its key, and a short one can be brute-forced offline
	// from any token a client holds.
	MinSecretBytes = 32
	// MaxTokenBytes bounds a token before any parsing.
	MaxTokenBytes = 4096
	// tokenLeeway tolerates clock skew between the machine that minted a
	// token and this one.
	tokenLeeway = 30 * time.Second
)

// Grant is what an operator token allows: the actions, on a room (join),
// a stream (publish, play) or any name starting with Prefix (all three).
type Grant struct {
	Room    string   `json:"room,omitempty"`
	Stream  string   `json:"stream,omitempty"`
	Prefix  string   `json:"prefix,omitempty"`
	Actions []Action `json:"actions"`
}

// Allows reports whether g permits action on name.
func (g *Grant) Allows(action Action, name string) bool {
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

// Mint returns an HS256 token granting g for ttl from now, signed with secret
// (signaling.Config.AuthSecret). Each action must be covered: join by Room or
// Prefix, publish and play by Stream or Prefix. Safe for concurrent use.
func Mint(secret []byte, g Grant, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("%w: secret must be at least %d bytes", errBadGrant, MinSecretBytes)
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

// Verify checks token against secret and returns its grant. Every
// failure is ErrInvalidToken: why a token failed is never told. Safe for
// concurrent use.
func Verify(secret []byte, token string) (*Grant, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return nil, ErrInvalidToken
	}
	var c tokenClaims
	_, err := tokenParser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods has checked the alg; this is the second lock.
		if t.Method != jwt.SigningMethodHS256 {
			return nil, ErrInvalidToken
		}
		return secret, nil
	})
	if err != nil {
		return nil, ErrInvalidToken
	}
	return &c.Grant, nil
}
