// Package signaling is veil's WebRTC signaling server: a hub that pairs
// peers by room (mesh) or by stream (publisher and viewers), the wire
// protocols spoken at its edge, and the HTTP handler that serves them.
//
// # Overview
//
// [New] builds a [Server] from a [Config]; mount [Server.Handler] in an
// http.Server or an existing mux (the server never listens by itself) and
// call [Server.Shutdown] when stopping. The handler serves:
//
//   - /ws: veil's native protocol v1 (docs/PROTOCOL.md);
//   - /peerjs/: the PeerJS protocol, for unmodified PeerJS apps;
//   - /vdo: the VDO.Ninja handshake dialect (the SDK, the app's &wss2=);
//   - /vdo-fanout: VDO.Ninja's fan-out dialect (its self-host server, the
//     app's &wss=), with client-chosen ids bound to one socket as labels;
//   - /turn-credentials: short-lived TURN credentials over HTTP, for the
//     dialects that cannot receive them in-band;
//   - /privacy, /healthz, /veil.js and, with Config.Demo, the demo page.
//
// The hub (package signaling/hub) knows peers, rooms, streams and who may
// reach whom, and nothing about wire formats: each protocol (packages
// signaling/native, signaling/peerjs and signaling/vdo) decodes client
// messages into hub calls (Join, Publish, Play, Route, ...) and encodes the
// hub's events (EvJoined, EvPeerJoined, EvPlaying, ...) for its own
// clients, over what they share in signaling/internal/edge (connections,
// limits, metrics, the privacy filter). Rooms, streams and peer ids are
// namespaced per protocol, so no dialect can reach or probe another's
// peers. Operator tokens are minted and verified by package
// signaling/auth. docs/ARCHITECTURE.md draws the packages and how a signal
// travels through them.
//
// Every message a peer forwards goes through the privacy policy (package
// privacy): under forced relay only relay candidates and no real address
// leave the server, system information is stripped, and payloads the server
// cannot read are refused unless the operator allows them. Under forced
// relay every encoded frame is checked once more right before it is queued
// (edge.Server.LeakFree): one that would still carry an IP literal or
// .local name is not forwarded, whatever field it hides in. Admission and
// rate limits, operator tokens and the Origin check apply to every
// protocol alike; with Config.AuthSecret every door (each protocol, TURN
// credentials) needs a token (edge/doors.go). An embedded TURN server is wired
// in with Config.TURN, which also trusts only the relay transport addresses
// (IP and port) of its live allocations.
//
// # Concurrency
//
// Server is safe for concurrent use, as is everything of package hub. Each
// connection has one reader goroutine, which decodes and acts on its
// messages, and at most one writer goroutine, which owns every data write
// and the write deadlines. The writer runs only while frames are queued, and
// one pinger per Server queues the pings, so an idle connection holds a
// single goroutine and no timer (memory per idle connection is a measured
// target: docs/BENCHMARKS.md). Delivery to a peer never blocks: events are
// queued on a queue bounded in frames and bytes (and all queues together
// in bytes), and a peer whose queue is full is disconnected at once. There
// is no global lock on the message path.
//
// Nothing is written to disk and nothing identifying reaches the logs at
// info level or above.
package signaling
