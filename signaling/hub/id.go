package hub

import (
	"crypto/rand"
	"encoding/base64"
)

// IDBytes is the entropy of a peer id: 144 bits, above the 128 bits that
// make ids unguessable, and a multiple of 3 so base64 has no padding.
const IDBytes = 18

// NewID returns a fresh URL-safe peer id from the system CSPRNG.
func NewID() string {
	var b [IDBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}
