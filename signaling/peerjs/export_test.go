package peerjs

// What the external tests (package peerjs_test) check against.
const (
	ErrParams        = errParams
	ErrKey           = errKey
	ErrID            = errID
	HeldPerDst       = heldPerDst
	HeldBytesPerDst  = heldBytesPerDst
	HeldBytesPerSrc  = heldBytesPerSrc
	HeldBytesPerAddr = heldBytesPerAddr
)

// ValidID is validID.
var ValidID = validID
