package signaling

import (
	"errors"
	"fmt"

	"github.com/veilrtc/veil/signaling/hub"
)

// Code is an error code a client may see on the wire (docs/PROTOCOL.md).
type Code = hub.Code

// The protocol's error codes.
const (
	CodeBadJSON      = hub.CodeBadJSON
	CodeBadMessage   = hub.CodeBadMessage
	CodeUnknownType  = hub.CodeUnknownType
	CodeTooLarge     = hub.CodeTooLarge
	CodeRateLimited  = hub.CodeRateLimited
	CodeRoomFull     = hub.CodeRoomFull
	CodeTooManyRooms = hub.CodeTooManyRooms
	CodeNotInRoom    = hub.CodeNotInRoom
	CodeStreamInUse  = hub.CodeStreamInUse
	CodeUnknownPeer  = hub.CodeUnknownPeer
	CodeUnauthorized = hub.CodeUnauthorized
	CodeSealedDenied = hub.CodeSealedDenied
	CodeTooManyPlays = hub.CodeTooManyPlays
	codeInternal     = hub.CodeInternal
)

// Error is an error with a protocol code and a message safe to show the
// client; see hub.Error.
type Error = hub.Error

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors a caller may branch on with errors.Is. Those the hub returns are
// the hub's own values.
var (
	ErrRoomFull     = hub.ErrRoomFull
	ErrTooManyRooms = hub.ErrTooManyRooms
	ErrNotInRoom    = hub.ErrNotInRoom
	ErrStreamInUse  = hub.ErrStreamInUse
	ErrUnknownPeer  = hub.ErrUnknownPeer
	ErrTooManyPlays = hub.ErrTooManyPlays
	ErrNotPublisher = hub.ErrNotPublisher
	ErrNotDirector  = hub.ErrNotDirector
	ErrUnauthorized = &Error{Code: CodeUnauthorized, Message: "not authorized"}
	ErrSealedDenied = &Error{Code: CodeSealedDenied, Message: "sealed payloads are refused while relay is forced"}
	ErrRateLimited  = &Error{Code: CodeRateLimited, Message: "slow down"}

	// ErrClosed is returned by Shutdown when its context ends first.
	ErrClosed = errors.New("signaling: server closed")

	errInvalidConfig = errors.New("signaling: invalid config")

	// errNameAddress refuses a room or stream name that spells an address
	// while relay filtering is on (Server.checkName).
	errNameAddress = &Error{Code: CodeBadMessage, Message: "room and stream names may not contain an IP address or .local name on this server"}

	// errAddressLeak refuses a message of a relay-filtered sender that would
	// still carry an address after filtering (invariant.go).
	errAddressLeak = &Error{Code: CodeBadMessage, Message: "message refused: it would carry an IP address or .local name while relay is forced"}
)

// toWire maps any error to what a client may see. Internal details never
// leave the server: the default is a bare "internal error".
func toWire(err error) (Code, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Message
	}
	return codeInternal, "internal error"
}
