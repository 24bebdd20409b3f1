package cluster

import "errors"

// Errors a caller may branch on with errors.Is.
var (
	// ErrInvalidConfig refuses a Config that cannot work; the message
	// says which field.
	ErrInvalidConfig = errors.New("cluster: invalid configuration")
	// ErrAttached refuses a second Attach.
	ErrAttached = errors.New("cluster: node is attached already")
)

// errUnsealed: a payload did not open under the cluster key (another
// cluster on the same subjects, corruption, or forgery).
var errUnsealed = errors.New("cluster: payload does not open under the cluster key")
