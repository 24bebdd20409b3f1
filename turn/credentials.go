package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST convention and coturn use.
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Credentials is one TURN username/password pair in the TURN REST style
// (draft-uberti-behave-turn-rest, coturn's use-auth-secret): the username is
// "<unix expiry>:<peer id>" and the password is
// base64(HMAC-SHA1(secret, username)). A TURN server holding the same secret
// verifies it without any shared state.
type Credentials struct {
	Username string
	Password string
	// TTL is the lifetime the credentials were issued with, for the
	// "ttl" field of a TURN REST style response.
	TTL time.Duration
	// Expires is when Allocate with these credentials starts failing. An
	// allocation made before that keeps working with its existing peers
	// (see Server).
	Expires time.Time
}

// NewCredentials issues credentials for peerID valid for ttl from now. The
// same function serves the embedded Server and an external TURN server (such
// as coturn with use-auth-secret) configured with the same secret. It is a
// pure function and safe for concurrent use.
func NewCredentials(secret []byte, peerID string, ttl time.Duration, now time.Time) Credentials {
	expires := now.Add(ttl).Truncate(time.Second)
	username := strconv.FormatInt(expires.Unix(), 10) + ":" + peerID
	return Credentials{
		Username: username,
		Password: credentialPassword(secret, username),
		TTL:      ttl,
		Expires:  expires,
	}
}

func credentialPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username)) // hash.Hash.Write never fails
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a TURN REST username into its expiry and peer id.
// The peer id may itself contain ':'; only the first one separates.
func parseUsername(username string) (expires time.Time, peerID string, err error) {
	ts, id, ok := strings.Cut(username, ":")
	if !ok || id == "" {
		return time.Time{}, "", errBadUsername
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix <= 0 {
		return time.Time{}, "", fmt.Errorf("%w: bad expiry", errBadUsername)
	}
	return time.Unix(unix, 0), id, nil
}
