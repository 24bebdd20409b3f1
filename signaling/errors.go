package signaling

import (
	"errors"
	"fmt"
)

// Code is an error code a client may see on the wire. The set is part of the
// protocol contract (docs/PROTOCOL.md); never send anything else.
type Code string

// The protocol's error codes.
const (
	CodeBadJSON      Code = "bad-json"
	CodeBadMessage   Code = "bad-message"
	CodeUnknownType  Code = "unknown-type"
	CodeTooLarge     Code = "too-large"
	CodeRateLimited  Code = "rate-limited"
	CodeRoomFull     Code = "room-full"
	CodeTooManyRooms Code = "too-many-rooms"
	CodeNotInRoom    Code = "not-in-room"
	CodeStreamInUse  Code = "stream-in-use"
	CodeUnknownPeer  Code = "unknown-peer"
	CodeUnauthorized Code = "unauthorized"
	CodeSealedDenied Code = "sealed-denied"
	CodeTooManyPlays Code = "too-many-plays"
	codeInternal     Code = "internal"
)

// Error is an error with a protocol code and a message safe to show the
// client. Its text never includes a room, stream, peer id or address.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "signaling: " + e.Message }

// Is lets errors.Is match two *Error values by code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors a caller of the Hub may branch on with errors.Is.
var (
	ErrRoomFull     = &Error{CodeRoomFull, "room is full"}
	ErrTooManyRooms = &Error{CodeTooManyRooms, "too many rooms for this peer"}
	ErrNotInRoom    = &Error{CodeNotInRoom, "not in that room"}
	ErrStreamInUse  = &Error{CodeStreamInUse, "stream is already published"}
	ErrUnknownPeer  = &Error{CodeUnknownPeer, "no such peer reachable from this connection"}
	ErrUnauthorized = &Error{CodeUnauthorized, "not authorized"}
	ErrSealedDenied = &Error{CodeSealedDenied, "sealed payloads are refused while relay is forced"}
	ErrRateLimited  = &Error{CodeRateLimited, "slow down"}
	ErrTooManyPlays = &Error{CodeTooManyPlays, "too many streams played or awaited by this peer"}
	ErrBadName      = &Error{CodeBadMessage, "room and stream names must be 1-256 bytes of printable UTF-8"}
	ErrNotPublisher = &Error{CodeBadMessage, "not publishing that stream"}
	ErrClosed       = errors.New("signaling: server closed")
	ErrIDTaken      = errors.New("signaling: id is taken")

	errInvalidConfig = errors.New("signaling: invalid config")
	// errOwnStream is ErrStreamInUse for a peer that would be publisher and
	// viewer of one stream.
	errOwnStream = &Error{CodeStreamInUse, "cannot both publish and play one stream"}

	// errNameAddress refuses a room or stream name that spells an address
	// while relay filtering is on (Server.checkName).
	errNameAddress = &Error{CodeBadMessage, "room and stream names may not contain an IP address or .local name on this server"}

	// errAddressLeak refuses a message of a relay-filtered sender that would
	// still carry an address after filtering (invariant.go).
	errAddressLeak = &Error{CodeBadMessage, "message refused: it would carry an IP address or .local name while relay is forced"}
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
