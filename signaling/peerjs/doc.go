// Package peerjs speaks the wire protocol of the `peerjs` npm client
// (1.5.5) as the `peer` server (1.0.2) does, so an unmodified PeerJS app
// only changes host, port and path to use veil. Peers address each other
// by id directly; there are no rooms. What veil adds: OFFER, ANSWER and
// CANDIDATE go through the privacy filter, forwarded messages are rebuilt
// from known fields, ids veil mints carry 144 random bits, peer listing is
// off unless enabled, and with an operator secret the client's token must
// grant join on its id.
//
// # Overview
//
// [New] builds the dialect over the shared layer of one signaling.Server
// and [Dialect.Mount] registers its endpoints: the WebSocket at
// {Path}peerjs, {Path}{Key}/id, {Path}{Key}/peers and a description at
// {Path}; package signaling does both from its Config.PeerJS ([Config])
// and adds the TURN credentials door {Path}{Key}/turn. A message for an
// id that is not connected is held, in memory, for at most
// Config.ExpireTimeout and within byte caps (held.go); then its sender
// gets EXPIRE, which the client shows as peer-unavailable. Ids live in
// the hub namespace [Namespace]: a PeerJS client can neither reach nor
// probe another protocol's peers.
//
// # Concurrency
//
// A Dialect is safe for concurrent use. Each connection's session runs
// its messages on the connection's reader goroutine; the hub calls its
// Notify from any goroutine, which only queues frames.
package peerjs
