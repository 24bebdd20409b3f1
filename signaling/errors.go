package signaling

import (
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
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
	CodeResumeFailed = hub.CodeResumeFailed
	CodePeerAway     = hub.CodePeerAway
)

// Error is an error with a protocol code and a message safe to show the
// client; see hub.Error.
type Error = hub.Error

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
	ErrUnauthorized = edge.ErrUnauthorized
	ErrSealedDenied = edge.ErrSealedDenied
	ErrRateLimited  = edge.ErrRateLimited

	// ErrClosed is returned by Shutdown when its context ends first.
	ErrClosed = edge.ErrClosed

	errInvalidConfig = edge.ErrInvalidConfig
)
