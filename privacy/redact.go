package privacy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
)

// redactTagBytes is how much of the HMAC a tag shows: 32 bits tell a
// handful of concurrent sessions apart in one process's logs while giving
// nothing to brute-force a secret with.
const redactTagBytes = 4

// redactKey is drawn once per process and never leaves it, so tags
// correlate lines of one run only and cannot be recomputed from a guess.
var redactKey = func() []byte {
	k := make([]byte, sha256.Size)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (it aborts the program instead)
	return k
}()

// Redact returns a short tag standing for secret in logs: "~" followed by
// the first 8 hex digits of HMAC-SHA256 under a random per-process key.
// Equal inputs give equal tags within one process, so a room, peer or
// token can be followed through the log; the tag cannot be reversed and
// differs after a restart. Use it for room and stream names, peer ids,
// tokens, TURN user names and addresses. Safe for concurrent use.
func Redact(secret string) string {
	m := hmac.New(sha256.New, redactKey)
	m.Write([]byte(secret))
	return "~" + hex.EncodeToString(m.Sum(nil)[:redactTagBytes])
}

// RedactAddr is Redact for an address. It unmaps IPv4-mapped IPv6 and drops
// the zone first, so one host gets one tag however the address reached the
// server. An invalid address is logged as "invalid". Safe for concurrent use.
func RedactAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid"
	}
	return Redact(a.Unmap().WithZone("").String())
}

// Secret is a string that shows only as its Redact tag when logged or
// formatted: with log/slog (LogValue), with every fmt verb (Format, String,
// GoString) and when marshalled as text or JSON (MarshalText).
// Convert back with string(s) where the real value is needed. Safe for
// concurrent use.
type Secret string

// String returns the Redact tag of s.
func (s Secret) String() string { return Redact(string(s)) }

// GoString returns the Redact tag of s, so %#v does not print the value.
func (s Secret) GoString() string { return Redact(string(s)) }

// Format formats the Redact tag of s with the same verb and flags, so no
// verb (not even a wrong one such as %d) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), Redact(string(s)))
}

// LogValue returns the Redact tag of s as a slog string value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redact(string(s))) }

// MarshalText returns the Redact tag of s, so a Secret that ends up in
// JSON or another text encoding stays redacted.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redact(string(s))), nil }
