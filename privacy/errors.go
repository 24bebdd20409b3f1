package privacy

import "errors"

var (
	// ErrBadPolicy is returned when a policy value is not one of the
	// values veil knows. Callers branch on it to reject configuration.
	ErrBadPolicy = errors.New("privacy: bad policy")

	// ErrBadSDP is returned by ScrubSDP when its input is not an SDP
	// document it can scrub safely. A caller that filters must then refuse
	// the message rather than forward it (fail-secure).
	ErrBadSDP = errors.New("privacy: bad SDP")
)
