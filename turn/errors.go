package turn

import "errors"

// Errors returned by New and Config validation. Callers branch on them with
// errors.Is; the wrapped detail names the offending field.
var (
	// ErrInvalidConfig reports a Config that New refuses.
	ErrInvalidConfig = errors.New("turn: invalid config")
	// ErrClosed reports use of a Server after Close.
	ErrClosed = errors.New("turn: server closed")
)

// Internal errors: they travel through pion and end up as a TURN error code
// on the wire (508 Insufficient Capacity for a failed relay allocation), or
// in debug logs; nobody branches on them outside this package.
var (
	errQuotaUser        = errors.New("turn: per-user allocation quota reached")
	errQuotaTotal       = errors.New("turn: allocation quota reached")
	errTCPRelay         = errors.New("turn: TCP relay allocations are not supported")
	errAddressFamily    = errors.New("turn: requested address family differs from the relay address")
	errPortRange        = errors.New("turn: no free relay port in range")
	errRequestedPort    = errors.New("turn: requested port outside the relay port range")
	errUnexpectedAddr   = errors.New("turn: relay socket has an unexpected address type")
	errBadUsername      = errors.New("turn: malformed username")
	errRealm            = errors.New("turn: wrong realm")
	errCredentialExpiry = errors.New("turn: credential expired")
	errPeerEnded        = errors.New("turn: credentials issued before the record of ended peers overflowed")
)
