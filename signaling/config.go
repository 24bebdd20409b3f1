package signaling

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
	"github.com/veilrtc/veil/signaling/native"
)

// Named defaults for Config. They are part of the documented contract
// (README configuration table, docs/PROTOCOL.md).
const (
	DefaultMaxMessageBytes = 64 << 10 // one client message, in bytes
	DefaultMaxRoomPeers    = 80       // peers in one room
	DefaultMaxPeerRooms    = 16       // rooms one peer is in
	DefaultMaxPeerStreams  = 4        // streams one peer publishes
	DefaultMaxPeerPlays    = 16       // streams one peer plays or waits for
	DefaultMaxNameBytes    = 256      // room and stream names
	DefaultSendQueue       = 64       // frames queued for one slow peer before it is dropped
	// DefaultSendQueueBytes is how many bytes may wait for one slow peer
	// before it is dropped: a few offers, far more than a peer that reads
	// ever has queued.
	DefaultSendQueueBytes = 1 << 20
	// DefaultMaxQueuedBytes is the byte budget of all send queues together.
	DefaultMaxQueuedBytes = 128 << 20
)

// ICEServer is one entry of the native protocol's welcome.iceServers,
// shaped like the browser's RTCIceServer.
type ICEServer = native.ICEServer

// ICEServerFunc returns the ICE servers (typically TURN with short-lived
// credentials) for a peer that connected with request r and got id peerID.
// It must be safe for concurrent use.
type ICEServerFunc = native.ICEServerFunc

// Config configures a Server. A zero field means its default.
type Config struct {
	// Policy is the privacy policy. Default: privacy.DefaultPolicy()
	// (relay forced, system information stripped, sealed payloads denied).
	Policy privacy.Policy
	// ICEServers hands each new peer its ICE servers. Default: from TURN
	// when set, else none, which with a forced relay policy means peers
	// cannot connect.
	ICEServers ICEServerFunc
	// TrustedRelays, when set, decides which relay candidates may cross
	// the server while relay is forced: only UDP ones whose transport
	// address (IP, unmapped, and port) it accepts: a relay transport
	// address of ours, typically that of a live allocation on our TURN
	// server. Without it a peer could label its own address, or a port of
	// the relay IP that no allocation holds, "typ relay" and a client that
	// ignores the relay policy would contact that address directly. It
	// must be safe for concurrent use. Default: nil, any relay address, or
	// with TURN set TURN.IsRelayAddr.
	TrustedRelays func(netip.AddrPort) bool
	// TURN is an embedded TURN server (a *turn.Server) to wire in: when
	// set, a nil ICEServers hands each peer its URLs and credentials, and a
	// nil TrustedRelays accepts only the relay addresses of its live
	// allocations. Default: none.
	TURN TURN
	// TURNHost is the host put in TURN's URLs. Default: the host the
	// client reached the signaling server at.
	TURNHost string
	// AllowedOrigins lists browser origins ("https://app.example") allowed
	// to open WebSockets besides veil's own origin; "*" allows any.
	// Default: same origin only. Requests without an Origin header (non-browser
	// clients) are allowed.
	AllowedOrigins []string
	// MaxMessageBytes bounds one client message. Default DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxRoomPeers bounds the peers in one room. Default DefaultMaxRoomPeers.
	MaxRoomPeers int
	// MaxPeerRooms bounds the rooms one peer is in. Default DefaultMaxPeerRooms.
	MaxPeerRooms int
	// MaxPeerStreams bounds the streams one peer publishes. Default DefaultMaxPeerStreams.
	MaxPeerStreams int
	// MaxPeerPlays bounds the streams one peer plays or waits for; one
	// more is refused with too-many-plays. Default DefaultMaxPeerPlays.
	MaxPeerPlays int
	// MaxNameBytes bounds room and stream names. Default DefaultMaxNameBytes.
	MaxNameBytes int
	// SendQueue is how many frames may wait for a slow peer before it is
	// disconnected. Default DefaultSendQueue.
	SendQueue int
	// SendQueueBytes is how many bytes of frames may wait for a slow peer
	// before it is disconnected; at least MaxMessageBytes plus the
	// envelope veil adds (512 bytes). Default DefaultSendQueueBytes,
	// or two of the largest frames when that is more; negative: no byte cap.
	SendQueueBytes int
	// MaxQueuedBytes is the byte budget of every send queue together.
	// While it is spent, a peer with more than 64 KiB queued is
	// disconnected when another frame comes for it. Metric:
	// veil_send_queue_bytes. Default DefaultMaxQueuedBytes; negative: none.
	MaxQueuedBytes int
	// Notice completes the privacy notice served at /privacy (Accept:
	// text/html) with what the signaling server cannot know: the operator's
	// name, whether TURN is external, the credential lifetime. Its Policy
	// field is ignored (Config.Policy is used).
	Notice privacy.NoticeInfo
	// Demo serves the demo page at / (veil.js is always served at
	// /veil.js). Default false; cmd/veil turns it on unless --demo=false.
	Demo bool
	// PeerJS configures the PeerJS dialect (see PeerJSConfig).
	PeerJS PeerJSConfig
	// VDO configures the VDO.Ninja dialect (see VDOConfig).
	VDO VDOConfig
	// Directory finds peers by id. Default: an in-memory LocalDirectory.
	Directory hub.Directory
	// Cluster joins this server's hub to other nodes' (a
	// *cluster.Node from package signaling/cluster): New calls its
	// Attach once with the hub. Default nil: a single node, with no
	// cluster code on its path.
	Cluster Cluster
	// Logger receives operational logs; it never gets identities at info
	// level or above. Default slog.Default().
	Logger *slog.Logger

	// Abuse limits (limits.go; enforced by signaling/internal/edge). A
	// zero field means its default, a negative one no limit.

	// MaxConnections caps open connections in total; beyond it upgrades
	// get 503 with Retry-After. Default DefaultMaxConnections.
	MaxConnections int
	// MaxConnectionsPerIP caps open connections per client address (IPv6:
	// per /64); beyond it, 429. Default DefaultMaxConnectionsPerIP.
	MaxConnectionsPerIP int
	// ConnectRatePerIP is new connections per minute per client address
	// after a burst of ConnectBurstPerIP; beyond it, 429 with Retry-After.
	// Defaults DefaultConnectRatePerIP and DefaultConnectBurstPerIP.
	ConnectRatePerIP, ConnectBurstPerIP int
	// MessageRate is messages per second per connection after a burst of
	// MessageBurst; beyond it, rate-limited. Defaults DefaultMessageRate and
	// DefaultMessageBurst.
	MessageRate, MessageBurst int
	// ActionRate is joins, publishes and plays per second per connection
	// after a burst of ActionBurst. Defaults DefaultActionRate and
	// DefaultActionBurst.
	ActionRate, ActionBurst int
	// ByteRate is bytes per second per connection after a burst of
	// ByteBurst (at least MaxMessageBytes). Defaults DefaultByteRate and
	// DefaultByteBurst.
	ByteRate, ByteBurst int
	// CredentialRatePerIP is TURN credential sets per minute per client
	// address from /turn-credentials after a burst of
	// CredentialBurstPerIP; beyond it, 429 with Retry-After. Defaults
	// DefaultCredentialRatePerIP and DefaultCredentialBurstPerIP.
	CredentialRatePerIP, CredentialBurstPerIP int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (or
	// Forwarded) header names the client. Default none: the socket's peer
	// address is the client, whatever the headers say.
	TrustedProxies []netip.Prefix

	// OnPeerGone, when set, is called with a native-protocol peer's id
	// once its connection has closed and it has left everything, so the
	// TURN server can end the allocations made with the credentials that
	// peer was given (cmd/veil wires (*turn.Server).EndPeer). It must not
	// block. Default nil.
	OnPeerGone func(peerID string)
	// MaxHTTPConnections caps the TCP connections LimitListener accepts in
	// total, WebSockets and plain requests together. Default
	// MaxConnections + 1024 (DefaultMaxHTTPConnections); negative: none.
	MaxHTTPConnections int
	// MaxHTTPConnectionsPerIP caps the TCP connections LimitListener
	// accepts per peer address (IPv6: per /64). Default twice
	// MaxConnectionsPerIP (DefaultMaxHTTPConnectionsPerIP); negative: none.
	MaxHTTPConnectionsPerIP int
	// ListenerExempt reports whether a peer address skips LimitListener's
	// per-IP cap. Default: loopback addresses and TrustedProxies, whose
	// connections carry many clients.
	ListenerExempt func(netip.Addr) bool

	// Access control (signaling/auth; every door: signaling/internal/edge/doors.go).

	// AuthSecret, when set, requires an HS256 operator token (auth.Mint) on
	// every door: each join, publish and play, PeerJS connections (the
	// client's token must grant join on its id) and TURN credentials
	// (welcome, /turn-credentials); see edge/doors.go. At least
	// auth.MinSecretBytes. Default none: names alone admit.
	AuthSecret []byte
	// RequireUnguessable refuses (unauthorized) room and stream names
	// shorter than this many characters. Default 0: any length.
	RequireUnguessable int

	// Resume (native protocol; docs/PROTOCOL.md "Resume").

	// ResumeGrace is how long a native peer whose connection dropped keeps
	// its id, rooms, streams and plays for a resume with its token; what
	// others send it meanwhile is held. With a Cluster the resume may come
	// on any node: the session moves there (docs/CLUSTER.md). Default
	// DefaultResumeGrace; negative: off (a drop leaves everything at once).
	ResumeGrace time.Duration
	// MaxParked caps the sessions waiting for a resume in total; a drop
	// beyond it leaves at once. Default DefaultMaxParked; negative: none.
	MaxParked int
	// MaxParkedPerIP caps the sessions waiting for a resume per client
	// address (IPv6: per /64; loopback exempt unless a trusted proxy).
	// Default DefaultMaxParkedPerIP; negative: none.
	MaxParkedPerIP int
}

// Defaults of the resume settings.
const (
	DefaultResumeGrace = native.DefaultResumeGrace
	// DefaultMaxParked is DefaultMaxConnections: a proxy restart that drops
	// every connection at once can have them all resume.
	DefaultMaxParked = DefaultMaxConnections
	// DefaultMaxParkedPerIP is a quarter of DefaultMaxConnectionsPerIP.
	DefaultMaxParkedPerIP = 16
)

func (c Config) withDefaults() Config {
	if c.Policy == (privacy.Policy{}) {
		c.Policy = privacy.DefaultPolicy()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&c.MaxRoomPeers, DefaultMaxRoomPeers)
	def(&c.MaxPeerRooms, DefaultMaxPeerRooms)
	def(&c.MaxPeerStreams, DefaultMaxPeerStreams)
	def(&c.MaxPeerPlays, DefaultMaxPeerPlays)
	def(&c.MaxNameBytes, DefaultMaxNameBytes)
	def(&c.SendQueue, DefaultSendQueue)
	// Room for two of the largest frames, whatever MaxMessageBytes is.
	def(&c.SendQueueBytes, max(DefaultSendQueueBytes, 2*(c.MaxMessageBytes+edge.MaxFrameGrowth)))
	def(&c.MaxQueuedBytes, DefaultMaxQueuedBytes)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c = c.withLimitDefaults()
	if c.ResumeGrace == 0 {
		c.ResumeGrace = DefaultResumeGrace
	}
	def(&c.MaxParked, DefaultMaxParked)
	def(&c.MaxParkedPerIP, DefaultMaxParkedPerIP)
	c = c.turnDefaults()
	if c.ICEServers == nil {
		c.ICEServers = func(*http.Request, string) []ICEServer { return nil }
	}
	c.PeerJS = c.PeerJS.WithDefaults()
	c.VDO = c.VDO.WithDefaults()
	return c
}

func (c Config) validate() error {
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errInvalidConfig, err)
	}
	if err := c.PeerJS.Validate(); err != nil {
		return err
	}
	if err := c.VDO.Validate(); err != nil {
		return err
	}
	for name, v := range map[string]int{
		"MaxMessageBytes": c.MaxMessageBytes, "MaxRoomPeers": c.MaxRoomPeers,
		"MaxPeerRooms": c.MaxPeerRooms, "MaxPeerStreams": c.MaxPeerStreams, "MaxPeerPlays": c.MaxPeerPlays,
		"MaxNameBytes": c.MaxNameBytes, "SendQueue": c.SendQueue,
	} {
		if v < 0 {
			return fmt.Errorf("%w: %s must not be negative", errInvalidConfig, name)
		}
	}
	if c.SendQueueBytes > 0 && c.SendQueueBytes < c.MaxMessageBytes+edge.MaxFrameGrowth {
		return fmt.Errorf("%w: SendQueueBytes (%d) must be at least MaxMessageBytes + %d", errInvalidConfig, c.SendQueueBytes, edge.MaxFrameGrowth)
	}
	return c.validateLimits()
}

// edge is what the protocols' shared layer reads of a defaulted c.
func (c Config) edge() edge.Config {
	return edge.Config{
		Policy:                  c.Policy,
		TrustedRelays:           c.TrustedRelays,
		AllowedOrigins:          c.AllowedOrigins,
		MaxMessageBytes:         c.MaxMessageBytes,
		MaxNameBytes:            c.MaxNameBytes,
		SendQueue:               c.SendQueue,
		SendQueueBytes:          c.SendQueueBytes,
		MaxQueuedBytes:          c.MaxQueuedBytes,
		MaxConnections:          c.MaxConnections,
		MaxConnectionsPerIP:     c.MaxConnectionsPerIP,
		ConnectRatePerIP:        c.ConnectRatePerIP,
		ConnectBurstPerIP:       c.ConnectBurstPerIP,
		MessageRate:             c.MessageRate,
		MessageBurst:            c.MessageBurst,
		ActionRate:              c.ActionRate,
		ActionBurst:             c.ActionBurst,
		ByteRate:                c.ByteRate,
		ByteBurst:               c.ByteBurst,
		CredentialRatePerIP:     c.CredentialRatePerIP,
		CredentialBurstPerIP:    c.CredentialBurstPerIP,
		TrustedProxies:          c.TrustedProxies,
		MaxHTTPConnections:      c.MaxHTTPConnections,
		MaxHTTPConnectionsPerIP: c.MaxHTTPConnectionsPerIP,
		ListenerExempt:          c.ListenerExempt,
		AuthSecret:              c.AuthSecret,
		RequireUnguessable:      c.RequireUnguessable,
		MaxParked:               c.MaxParked,
		MaxParkedPerIP:          c.MaxParkedPerIP,
		Logger:                  c.Logger,
	}
}

// validateAuth checks the access control fields.
func (c Config) validateAuth() error {
	if len(c.AuthSecret) > 0 && len(c.AuthSecret) < auth.MinSecretBytes {
		return fmt.Errorf("%w: AuthSecret must be at least %d bytes", errInvalidConfig, auth.MinSecretBytes)
	}
	if c.RequireUnguessable < 0 || c.RequireUnguessable > c.MaxNameBytes {
		return fmt.Errorf("%w: RequireUnguessable must be between 0 and MaxNameBytes", errInvalidConfig)
	}
	return nil
}

// Cluster is what Server needs of a cluster (package signaling/cluster
// implements it over NATS): the hook its hub tells local changes to, and
// its health for /healthz. Implementations must be safe for concurrent
// use.
type Cluster interface {
	// Attach is called once, by New, with the server's hub: the cluster
	// starts inserting other nodes' peers into it and returns the Bus the
	// hub tells its local peers' changes to.
	Attach(h *hub.Hub) (hub.Bus, error)
	// Health is "" while the cluster is reachable, else a short status
	// without any address or identity ("cluster unreachable"), which
	// /healthz reports as degraded.
	Health() string
}
