package edge

import (
	"errors"
	"fmt"

	"github.com/veilrtc/veil/signaling/hub"
)

// NewError returns an error a client may see: code and a message built
// from format, which must hold nothing the server keeps secret.
func NewError(code hub.Code, format string, args ...any) *hub.Error {
	return &hub.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors every dialect returns; package signaling re-exports the first
// ones for callers that branch on them with errors.Is.
var (
	ErrUnauthorized = &hub.Error{Code: hub.CodeUnauthorized, Message: "not authorized"}
	ErrSealedDenied = &hub.Error{Code: hub.CodeSealedDenied, Message: "sealed payloads are refused while relay is forced"}
	ErrRateLimited  = &hub.Error{Code: hub.CodeRateLimited, Message: "slow down"}

	// ErrClosed is returned by Shutdown when its context ends first.
	ErrClosed = errors.New("signaling: server closed")

	// ErrInvalidConfig is wrapped by every configuration error.
	ErrInvalidConfig = errors.New("signaling: invalid config")

	// ErrAddressLeak refuses a message of a relay-filtered sender that
	// would still carry an address after filtering (LeakFree).
	ErrAddressLeak = &hub.Error{Code: hub.CodeBadMessage, Message: "message refused: it would carry an IP address or .local name while relay is forced"}

	// errNameAddress refuses a room or stream name that spells an address
	// while relay filtering is on (Server.CheckName).
	errNameAddress = &hub.Error{Code: hub.CodeBadMessage, Message: "room and stream names may not contain an IP address or .local name on this server"}
)

// ToWire maps any error to what a client may see. Internal details never
// leave the server: the default is a bare "internal error".
func ToWire(err error) (hub.Code, string) {
	var e *hub.Error
	if errors.As(err, &e) {
		return e.Code, e.Message
	}
	return hub.CodeInternal, "internal error"
}
