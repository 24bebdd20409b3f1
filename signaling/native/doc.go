// Package native speaks veil's own signaling protocol, version 1
// (docs/PROTOCOL.md), on /ws: a peer gets an unguessable id and its ICE
// servers in welcome, joins rooms (mesh), publishes or plays streams
// (publisher and viewers), and sends signal and debug messages to the
// peers it shares a room or stream with. Every message carries a type and
// may carry a rid the reply echoes; every error carries a protocol code.
//
// # Overview
//
// [New] builds the protocol over the shared layer of one signaling.Server
// (package signaling mounts it at GET /ws). A signal's payload is
// validated field by field, filtered by the sender's privacy policy
// (relay-only candidates, scrubbed SDP, stripped system information,
// sealed payloads only where allowed) and re-encoded; the frame to the
// recipient is built once and checked for any address while relay is
// forced. With an operator secret, TURN credentials are held back from
// welcome until the peer shows a valid token (icegate.go). Peers live in
// the hub namespace [Namespace].
//
// A session survives a dropped connection for [Config.ResumeGrace]
// (resume.go): it is parked, still a member of its rooms and streams in
// the hub, what is sent to it is held within the send queue's budgets, and
// a connection to /ws?resume=TOKEN with the token of its last welcome
// takes it over; otherwise it leaves when the window ends, and only then
// does [Config.OnPeerGone] end its TURN allocations.
//
// # Concurrency
//
// A Dialect is safe for concurrent use. Each connection's session runs
// its messages on the connection's reader goroutine; the hub calls its
// Notify from any goroutine, which only queues frames (or holds them while
// the session is parked, under the session's resume lock). A session has
// one reader at a time: a resume takes it over only once its previous
// connection's reader has ended and parked it; a parked session's timer
// ends it on the timer's goroutine.
package native
