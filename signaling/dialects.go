package signaling

import (
	"github.com/veilrtc/veil/signaling/native"
	"github.com/veilrtc/veil/signaling/peerjs"
	"github.com/veilrtc/veil/signaling/vdo"
)

// The wire protocols' own settings and defaults, as embedders have always
// named them here; each protocol lives in its package.

// ProtocolVersion is the native protocol's version, sent in welcome.
const ProtocolVersion = native.ProtocolVersion

// PeerJSConfig configures the PeerJS dialect (package signaling/peerjs).
type PeerJSConfig = peerjs.Config

// Defaults of PeerJSConfig.
const (
	DefaultPeerJSPath          = peerjs.DefaultPath
	DefaultPeerJSKey           = peerjs.DefaultKey
	DefaultPeerJSExpireTimeout = peerjs.DefaultExpireTimeout
	DefaultPeerJSAliveTimeout  = peerjs.DefaultAliveTimeout
)

// VDOConfig configures the VDO.Ninja dialects (package signaling/vdo).
type VDOConfig = vdo.Config

// Defaults of VDOConfig.
const (
	DefaultVDOPath       = vdo.DefaultPath
	DefaultVDOMaxPlays   = vdo.DefaultMaxPlays
	DefaultVDOFanoutPath = vdo.DefaultFanoutPath
)
