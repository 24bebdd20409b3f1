// Package hub is veil's signaling core: peers, rooms, streams, who may
// reach whom, and room directors. It knows no wire format and no transport.
//
// # Overview
//
// A dialect (veil's native protocol, PeerJS, VDO.Ninja: package signaling)
// decodes a wire message into a call on a [Hub] (Join, Publish, Play,
// Route, ...) and encodes the [Event] values the hub delivers to its
// [Client] back into wire messages. Rooms, streams and ids live in one
// namespace per protocol, so no dialect can see or probe another's peers.
// [Hub.Route] finds the peer a signal is for: it answers [ErrUnknownPeer]
// for anyone the sender shares no room or stream with, live or not
// (privacy invariant 5, docs/THREAT-MODEL.md); [Hub.Lookup] is for a
// dialect whose peers address each other by id alone (PeerJS). A
// [Directory] finds registered peers by id; [LocalDirectory] keeps them in
// this process's memory.
//
// A cluster (package signaling/cluster) federates hubs through [Bus]: the
// hub tells it every change of a local peer, and it inserts other nodes'
// peers as remote peers ([NewRemotePeer]) changed with the same calls;
// [Hub.Route] hands out a forwarding handle for a remote peer (bus.go).
// Dialects whose peers address each other by id declare it
// ([Hub.AllowByID]) and send through [Hub.LookupFrom], which carries the
// sender to a remote peer's node; client-chosen ids ([Hub.ChosenIDs]) are
// claimed cluster-wide through a [Claimer] before they are given, a
// reconnecting client takes its id over from another node with a proof
// ([Peer.SetProof], [Hub.OnTakeover]); a [DirectorBus] learns room
// directors and a [MigrateForwarder] moves a remote member on its node.
//
// Errors a client may see are *[Error] values with a protocol [Code].
//
// # Concurrency
//
// Everything is safe for concurrent use. Rooms, streams and the directory
// are sharded maps with one lock per shard, room, stream and peer; there is
// no global lock on the message path. Lock order is shard, then room or
// stream, then peer. Client.Notify must not block: the hub calls it with
// those locks held.
package hub
