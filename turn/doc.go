// Package turn is veil's embedded TURN server (RFC 8656), built on
// pion/turn, and the TURN REST credentials veil hands to peers for it or
// for an external TURN server such as coturn.
//
// # Overview
//
// New takes a Config holding the sockets to serve on (the server never
// listens by itself) and returns a running Server. Server.Credentials
// issues TURN REST credentials (username "<unix expiry>:<peer id>",
// password base64(HMAC-SHA1(secret, username)), the convention of coturn's
// use-auth-secret); NewCredentials does the same for an external server
// sharing the secret. ICEURLs builds the turn:/turns: URLs for a host.
//
// Expiry is checked on Allocate only. A peer allocates with fresh
// credentials, and its allocation, permissions and channels keep being
// refreshed with the same username for as long as the call lasts.
//
// Invariant 4: the server never relays into loopback, private,
// link-local, CGNAT, multicast or unspecified space. PeerPolicy refuses
// privacy.IsSpecialPurpose addresses (IPv4-mapped addresses unmapped
// first) in pion's permission hook, except the server's own relay address
// and Config.AllowPeers; Config.DenyPeers always wins. Allowing the own
// relay address lets two peers of the same server relay to each other,
// but the hook sees only an IP, so every relay socket also filters each
// datagram by port: traffic to or from the relay address passes only for
// ports that are live allocations of this server, never to another service
// on the host. TCP relay allocations (RFC 6062) are refused; WebRTC relays
// over UDP.
//
// When RelayBindIP is a wildcard address, relay sockets are reachable on
// every address of the host; only the relay address is treated as the
// server's own, so do not put the host's other addresses in AllowPeers.
//
// Allocations are capped per peer id and in total. Stats returns
// aggregate counters only. Nothing here logs an address, a username or a
// peer id at info level or above: pion's logs are re-emitted at debug
// level.
//
// # Concurrency
//
// All exported functions and methods are safe for concurrent use. pion
// runs one read loop per PacketConn, one accept loop per Listener, one
// read loop per accepted connection and one reader per relay socket.
// Relayed datagrams look up live relay ports in a sync.Map, so the data
// path takes no server-wide lock; the mutex guards only quota counters and
// the set of accepted connections. Close closes every socket and waits for
// those loops to stop.
package turn
