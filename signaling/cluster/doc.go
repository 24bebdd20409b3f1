// Package cluster makes several veil nodes act as one over core NATS (no
// JetStream): a peer on one node sees peers on the others join, leave,
// publish and play, and signals them, as if they were on one node.
//
// # Overview
//
// A [Node] is one process's member of a cluster. Attached to a hub
// (signaling.Config.Cluster), it is the hub's [hub.Bus]: every change a
// local peer makes (registered, joined, left, published, unpublished,
// played, stopped, gone) is numbered and broadcast to the other nodes.
// Each node inserts the others' peers into its own hub as remote peers
// ([hub.NewRemotePeer]) and applies their changes with the hub's own calls,
// so the hub computes every event for its local peers as it does on one
// node, and the routing rule (a peer reaches only peers it shares a room
// or stream with) holds unchanged. A signal to a remote peer is filtered
// and encoded on the ingress node, travels sealed to the node that holds
// the recipient, and is delivered there only if that node's hub, too,
// lets the sender reach it.
//
// The dialects work across nodes the same way: a PeerJS message (sent by
// id) carries its sender and is delivered only in a namespace that
// allows sends by id on the receiving node too; PeerJS ids and fan-out
// labels, chosen by clients, are claimed from every other node (request
// and reply) before they are given, and a reconnecting PeerJS client
// takes its id over from another node with a proof of its token; PeerJS
// messages held for an absent id follow it to the node it connects to;
// VDO.Ninja directors are replicated, and a director's migrate of a
// member on another node is done by that node (claims.go, remote.go).
//
// Every node knows every peer of the cluster (full replication over one
// broadcast subject, not a subject per room): NATS then sees no room
// structure at all, a join needs no round trip, and a node that starts
// or comes back asks each other node for a snapshot. The cost is memory
// for every peer on every node and one broadcast per change.
//
// # Privacy
//
// Subjects carry only a tag derived from the cluster secret and random
// node ids; payloads are sealed with XChaCha20-Poly1305 under a key
// derived (HKDF-SHA256) from the secret, a random nonce per message and
// the subject as additional data. A NATS operator reads no room, stream,
// peer id, address or SDP. Sequence numbers and a replay window refuse
// replayed messages. Nothing is persisted: presence lives in the nodes'
// memory and is rebuilt by snapshots (request and reply over NATS).
//
// # Faults
//
// Nodes send heartbeats; a node silent for Config.DeadAfter is taken for
// dead and its peers leave on every other node. A node that loses NATS
// keeps serving its own peers (Health says so) and, when NATS is back,
// exchanges snapshots with the others. A heartbeat carries the sender's
// change count, so a change lost on the way is noticed and repaired by a
// snapshot. Close says goodbye: the others forget the node's peers at
// once.
//
// # Concurrency
//
// A Node is safe for concurrent use. One goroutine applies what arrives
// from NATS in arrival order (which NATS keeps per sender) and sends the
// heartbeats; local changes are broadcast under one mutex so they leave
// in the order the hub made them. Signals take no lock of the Node's.
package cluster
