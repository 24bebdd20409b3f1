// Package vdo speaks VDO.Ninja's two handshake dialects, so the VDO.Ninja
// app and its SDK can use veil as their signaling server: the official
// dialect, where the server assigns every peer a UUID, and the fan-out
// dialect of VDO.Ninja's self-host server, where pages pick their own
// labels. Both keep veil's rules: a message reaches only peers that share
// a room or a stream with its sender, goes through the privacy filter,
// and is rebuilt from known fields; every refusal the app's user can act
// on is doubled by an alert the app shows (alert.go).
//
// # Overview
//
// [New] builds the dialects over the shared layer of one
// signaling.Server and [Dialect.Mount] registers them; package signaling
// does both from its Config.VDO ([Config]). Rooms and streams live in the
// hub namespaces [Namespace] and [FanoutNamespace], never shared with
// another protocol.
//
// The official dialect (Config.Path, /vdo) is the handshake protocol of
// VDO.Ninja's apps and of its SDK (vdoninja-sdk.js), which take the server as a full ws(s):// URL
// (the "wss" URL parameter, the SDK's "host" option). JSON text frames; a
// message with "request" asks the server for something, a message without
// one is direct: "UUID" names the peer it is for.
//
// Client -> server:
//
//	{"request":"seed","streamID":S}            publish S (one stream per socket)
//	{"request":"play","streamID":S}            view S, now or when it is seeded
//	{"request":"joinroom","roomid":R,"claim"?:true}
//	{"request":"migrate","roomid":R,"target":UUID}   director only
//	{"request":"ping"}                          -> {"request":"pong"}
//	{"request":"leave"} or {"leave":true}       leave the room
//	{"request":"bye"|"hangup"} or {"bye"|"hangup":true} without UUID:
//	                                            leave, unseed, stop every play
//	{"UUID":U, description|candidate|candidates|..., session, streamID, type, vector}
//
// Server -> client:
//
//	{"request":"offerSDP","UUID":VIEWER}        to a publisher: send VIEWER an offer
//	{"request":"listing","list":[{"UUID":..,"streamID"?:..}],"director"?:UUID,"claim"?:bool}
//	{"request":"transferred","list":[...],"director"?:UUID}
//	{"request":"someonejoined","UUID":..,"streamID"?:..,"director"?:true}
//	{"request":"videoaddedtoroom","UUID":..,"streamID":S}
//	{"request":"alert","message":..}
//	{"request":"error","code":C,"message":..}   C: STREAMID_IN_USE or a veil code
//	direct messages, with "UUID" rewritten to the sender's
//
// Room IDs and stream IDs arrive hashed by the client; veil still treats
// them as secrets and never logs them.
//
// The fan-out dialect (Config.FanoutPath, /vdo-fanout) is what the
// VDO.Ninja app speaks when it is given a server with &wss= (or session.customWSS in a self-hosted copy's
// index.html), and what VDO.Ninja's self-host server (websocket_server)
// relays. There is no server-assigned id: every message carries "from",
// the page's own random id (20 characters, about 116 bits), and a page
// drops every message whose "UUID" is not its own id. The self-host
// server broadcasts; veil does not. It keeps its relation rule (a message
// reaches only room members and publisher/viewer pairs) and the privacy
// filter of the official dialect, and answers in the forms the app reacts
// to, all carrying the sender's label as "from":
//
// Client -> server (every message also has "from":LABEL, and in a room
// "roomid"; a director page adds "director":true, which veil ignores):
//
//	{"request":"seed","streamID":S}              publish S
//	{"request":"play","streamID":S}              view S, now or once seeded
//	{"request":"joinroom","roomid":R,"streamID"?:S,"claim"?:true}
//	{"request":"migrate","roomid":R2,"target":LABEL}   director only
//	{"auth":TOKEN}                               operator token (&auth=)
//	{"UUID":LABEL, description|candidates|..., session, streamID, type, vector, isScene}
//
// Server -> client:
//
//	{"request":"play","streamID":S,"from":V,"director"?:true}
//	        to S's publisher, once per viewer V (the app then offers to V)
//	{"request":"joinroom","streamID"?:S,"from":G,"director"?:true}
//	        to each member when G joins (each plays S and offers to G)
//	{"request":"migrate","roomid":R2,"target":T,"from":D,"director":true}
//	        to T, moved by its director D into R2 (T then re-joins R2)
//	{"request":"alert","message":...}            a refusal, shown to the user
//	{"request":"error","code":C,"message":...}   every refusal (logged by the app)
//	direct messages with "UUID" = the recipient's label, "from" = the sender's
//
// Labels: the first message binds its "from" to the socket, first come
// (the hub's directory, as PeerJS ids), until the socket closes. A label
// is 16-64 letters, digits, '-' or '_'; it is never another socket's: a
// label that is in use is refused generically and the socket closed with
// 1013, so the app's reconnect (every 5 s, same label) gets it once the
// old socket is gone. Every later message must carry the same "from".
// Labels are chosen by clients, not handed out by veil; the refusal says
// only that a string the client already knows is in use (see README).
//
// # Concurrency
//
// A Dialect is safe for concurrent use. Each connection's session runs
// its messages on the connection's reader goroutine; the hub calls its
// Notify from any goroutine, which only queues frames.
package vdo
