package peerjs

import "errors"

// errConfig is wrapped by every error of Config.Validate.
var errConfig = errors.New("signaling: invalid PeerJS config")
