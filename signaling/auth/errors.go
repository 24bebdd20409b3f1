package auth

import "errors"

var (
	// ErrInvalidToken refuses a token that is missing, malformed, forged,
	// expired or signed with another secret.
	ErrInvalidToken = errors.New("auth: invalid token")

	// errBadGrant is returned by Mint for a grant that allows nothing.
	errBadGrant = errors.New("auth: token grant")
)
