// Package edge is what every wire protocol of veil does between a
// WebSocket and the hub, written once: the connection and its writer,
// byte budgets and admission, per-connection rate limits, the client's
// address, metrics, the sender's privacy policy with the final
// forced-relay check, the errors a client may see, and the life of a
// connection from upgrade to hand-off. The dialect packages
// (signaling/native, signaling/peerjs, signaling/vdo) build on it and
// know nothing of each other; package signaling creates one [Server] and
// mounts the dialects over it.
//
// # Overview
//
// A dialect serves a WebSocket with [Server.Serve]: it checks the origin
// and admits the connection (per-address and total caps, connect rates),
// upgrades it, counts it under the dialect's metrics label, lets the
// dialect open its [Session] (register in the hub, greet), and hands the
// read loop off to a goroutine of its own. Each client message starts
// with [Decode] (UTF-8, a JSON object) and [Server.AdmitMessage] (the
// message and byte budgets); joins, publishes and plays pass
// [Server.CheckAction] (name, action budget, operator token). Payloads go
// through [Server.ScrubSDP] and [Server.FilterCandidate] under the
// sender's [SenderPolicy], and while relay is forced every encoded frame
// passes [Server.LeakFree] right before it is queued: a frame that would
// still carry an address is refused with [ErrAddressLeak], whatever field
// it hides in. [ToWire] maps any error to its protocol code and a message
// safe to show; anything else is "internal error". A dialect that keeps a
// session across a dropped connection (native resume) counts it with
// [Server.Park] (per-address and total caps) and holds its frames within
// the send queues' total budget ([Server.ReserveHeld]).
//
// # Concurrency
//
// Server is safe for concurrent use. Each [Conn] has one reader goroutine
// (the Session's Handle runs on it) and at most one writer goroutine,
// which runs only while frames are queued; one pinger per Server queues
// the pings, so an idle connection holds a single goroutine and no timer.
// Conn.Send never blocks: a peer whose queue is full, in frames or bytes,
// or that is backlogged while all queues together are over budget, is
// dropped.
package edge
