package hub

import "errors"

// Code is an error code a client may see on the wire. The set is part of the
// protocol contract (docs/PROTOCOL.md); never send anything else.
type Code string

// The protocol's error codes. The hub returns some of them; the dialects
// use the rest for what they refuse before a call reaches the hub.
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
	CodeInternal     Code = "internal"
	// CodeResumeFailed: a resume token that is unknown, used or expired
	// (the native protocol's resume; one reply for all three).
	CodeResumeFailed Code = "resume-failed"
	// CodePeerAway: a signal for a peer whose connection dropped and that
	// holds as much as it may until it resumes.
	CodePeerAway Code = "peer-away"
)

// Error is an error with a protocol code and a message safe to show the
// client. Its text never includes a room, stream, peer id or address.
// Two *Error values match under errors.Is only when they are the same
// value: ErrNotDirector is not ErrUnauthorized although both carry
// CodeUnauthorized.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "signaling: " + e.Message }

// Errors a caller of the Hub may branch on with errors.Is.
var (
	ErrRoomFull     = &Error{CodeRoomFull, "room is full"}
	ErrTooManyRooms = &Error{CodeTooManyRooms, "too many rooms for this peer"}
	ErrNotInRoom    = &Error{CodeNotInRoom, "not in that room"}
	ErrStreamInUse  = &Error{CodeStreamInUse, "stream is already published"}
	ErrUnknownPeer  = &Error{CodeUnknownPeer, "no such peer reachable from this connection"}
	ErrTooManyPlays = &Error{CodeTooManyPlays, "too many streams played or awaited by this peer"}
	ErrNotPublisher = &Error{CodeBadMessage, "not publishing that stream"}
	// ErrNotDirector refuses a director-only action (migrate) from a peer
	// that directs no room holding the target.
	ErrNotDirector = &Error{CodeUnauthorized, "only the room's director may do that"}
	// ErrOwnStream refuses a peer that would be publisher and viewer of
	// one stream.
	ErrOwnStream = &Error{CodeStreamInUse, "cannot both publish and play one stream"}

	// ErrClosed refuses a call for a peer that Unregister removed.
	ErrClosed = errors.New("hub: peer is gone")
	// ErrIDTaken refuses Register of an id its namespace holds already.
	ErrIDTaken = errors.New("hub: id is taken")
)
