package vdo

// What the external tests (package vdo_test) check against: texts and
// codes the VDO.Ninja app and SDK match on.
const (
	AlertClaimTaken   = alertClaimTaken
	AlertRoomFull     = alertRoomFull
	AlertStreamInUse  = alertStreamInUse
	AlertSealed       = alertSealed
	AlertPeerSealed   = alertPeerSealed
	CodeStreamIDInUse = codeStreamIDInUse
)

// ErrLabel is errLabel.
var ErrLabel = errLabel
