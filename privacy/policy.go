package privacy

import (
	"fmt"
	"strings"
)

// RelayPolicy says whether veil forces peers' ICE candidates through a
// TURN relay. The zero value is not valid; use DefaultPolicy.
type RelayPolicy string

const (
	// RelayForce filters every peer's signals: only relay candidates and no
	// real address leave the server. The default.
	RelayForce RelayPolicy = "force"
	// RelayOptional filters the signals of peers that ask for it (?relay=1).
	RelayOptional RelayPolicy = "optional"
	// RelayOff forwards candidates unchanged: peers may learn each other's
	// addresses.
	RelayOff RelayPolicy = "off"
)

// SysinfoPolicy says whether veil strips system information (browser
// version in SDP o= lines, user agents, hardware details) from signals.
type SysinfoPolicy string

const (
	// SysinfoStrip removes system information. The default.
	SysinfoStrip SysinfoPolicy = "strip"
	// SysinfoPass forwards system information unchanged.
	SysinfoPass SysinfoPolicy = "pass"
)

// SealedPolicy says whether veil forwards payloads it cannot read
// (end-to-end encrypted signals) from peers whose signals it filters.
type SealedPolicy string

const (
	// SealedDeny refuses sealed payloads from filtered peers, because veil
	// could not enforce relay on them. The default (fail-secure).
	SealedDeny SealedPolicy = "deny"
	// SealedAllow forwards sealed payloads; veil then cannot guarantee relay
	// for the peers that send them.
	SealedAllow SealedPolicy = "allow"
)

// Values of the Retention and Logs fields. veil stores nothing after a peer
// disconnects, so Retention is always "none"; they are fields so that the
// JSON a client sees states them explicitly.
const (
	// RetentionNone: nothing is kept after a peer disconnects.
	RetentionNone = "none"
	// LogsRedacted: logs carry no address, room or stream name, peer id,
	// token or TURN user name, only Redact tags. The default.
	LogsRedacted = "redacted"
	// LogsFull: an operator turned on logging of identities for
	// troubleshooting (the protocol allows announcing it); the privacy
	// notice then says so.
	LogsFull = "full"
)

// Policy is the effective privacy policy. Its JSON encoding is exactly the
// protocol's welcome.policy object (and the body of GET /privacy):
//
//	{"relay":"force","sysinfo":"strip","sealed":"deny","retention":"none","logs":"redacted"}
//
// A Policy is a value; its methods are safe for concurrent use.
type Policy struct {
	Relay     RelayPolicy   `json:"relay"`
	Sysinfo   SysinfoPolicy `json:"sysinfo"`
	Sealed    SealedPolicy  `json:"sealed"`
	Retention string        `json:"retention"`
	Logs      string        `json:"logs"`
}

// DefaultPolicy returns the fail-secure default: relay forced, system
// information stripped, sealed payloads denied, nothing retained, logs
// redacted. Safe for concurrent use.
func DefaultPolicy() Policy {
	return Policy{
		Relay:     RelayForce,
		Sysinfo:   SysinfoStrip,
		Sealed:    SealedDeny,
		Retention: RetentionNone,
		Logs:      LogsRedacted,
	}
}

// normalize lets flags and environment variables be written loosely
// ("Force", " off ") without widening the set of accepted values.
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ParseRelayPolicy parses "force", "optional" or "off" (case-insensitive,
// surrounding space ignored). Anything else, including "", is an error
// wrapping ErrBadPolicy: callers apply defaults before parsing. Safe for
// concurrent use.
func ParseRelayPolicy(s string) (RelayPolicy, error) {
	switch p := RelayPolicy(normalize(s)); p {
	case RelayForce, RelayOptional, RelayOff:
		return p, nil
	}
	return "", fmt.Errorf("%w: relay must be force, optional or off, not %q", ErrBadPolicy, s)
}

// ParseSysinfoPolicy parses "strip" or "pass" like ParseRelayPolicy. Safe
// for concurrent use.
func ParseSysinfoPolicy(s string) (SysinfoPolicy, error) {
	switch p := SysinfoPolicy(normalize(s)); p {
	case SysinfoStrip, SysinfoPass:
		return p, nil
	}
	return "", fmt.Errorf("%w: sysinfo must be strip or pass, not %q", ErrBadPolicy, s)
}

// ParseSealedPolicy parses "deny" or "allow" like ParseRelayPolicy. Safe
// for concurrent use.
func ParseSealedPolicy(s string) (SealedPolicy, error) {
	switch p := SealedPolicy(normalize(s)); p {
	case SealedDeny, SealedAllow:
		return p, nil
	}
	return "", fmt.Errorf("%w: sealed must be deny or allow, not %q", ErrBadPolicy, s)
}

// Validate reports an error wrapping ErrBadPolicy when a field holds a value
// veil does not implement. Values must be exact (lower case); Retention must
// be "none", since veil can do nothing else, and Logs "redacted" or "full".
// Safe for concurrent use.
func (p Policy) Validate() error {
	switch p.Relay {
	case RelayForce, RelayOptional, RelayOff:
	default:
		return fmt.Errorf("%w: relay %q", ErrBadPolicy, p.Relay)
	}
	switch p.Sysinfo {
	case SysinfoStrip, SysinfoPass:
	default:
		return fmt.Errorf("%w: sysinfo %q", ErrBadPolicy, p.Sysinfo)
	}
	switch p.Sealed {
	case SealedDeny, SealedAllow:
	default:
		return fmt.Errorf("%w: sealed %q", ErrBadPolicy, p.Sealed)
	}
	if p.Retention != RetentionNone {
		return fmt.Errorf("%w: retention %q (only %q is implemented)", ErrBadPolicy, p.Retention, RetentionNone)
	}
	if p.Logs != LogsRedacted && p.Logs != LogsFull {
		return fmt.Errorf("%w: logs %q (want %q or %q)", ErrBadPolicy, p.Logs, LogsRedacted, LogsFull)
	}
	return nil
}

// ForcesRelay reports whether signals from a sender are filtered to relay
// only: always under RelayForce, under RelayOptional when the sender asked
// (connected with ?relay=1), never under RelayOff. An unknown Relay value
// filters, so a zero or corrupted Policy fails secure. Safe for concurrent
// use.
func (p Policy) ForcesRelay(senderAsked bool) bool {
	switch p.Relay {
	case RelayOff:
		return false
	case RelayOptional:
		return senderAsked
	default:
		return true
	}
}

// StripsSysinfo reports whether system information is removed from
// signals. Anything but SysinfoPass strips (fail-secure). Safe for
// concurrent use.
func (p Policy) StripsSysinfo() bool { return p.Sysinfo != SysinfoPass }

// AllowsSealed reports whether a sealed (unreadable) payload from a sender
// may be forwarded: always when the sender's signals are not filtered, and
// when they are only if the operator set SealedAllow, because veil cannot
// enforce relay inside a payload it cannot read. Safe for concurrent use.
func (p Policy) AllowsSealed(senderAsked bool) bool {
	return !p.ForcesRelay(senderAsked) || p.Sealed == SealedAllow
}
