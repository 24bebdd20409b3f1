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
// ListenUDPAndTCP binds the UDP socket and TCP listener on one port, and a
// Server is a prometheus.Collector of its own veil_turn_* metrics
// (signaling.New registers it when it is Config.TURN).
//
// A peer allocates with fresh credentials, and its allocation,
// permissions and channels keep being refreshed with the same username for
// as long as the call lasts. Once the username has expired, Allocate
// fails and permissions (or channels) to peers the allocation never had
// are refused: an allocation keeps only its existing peers.
//
// Privacy invariant 4 (docs/THREAT-MODEL.md): the server never relays into
// loopback, private, link-local, CGNAT, multicast or unspecified space.
// PeerPolicy refuses privacy.IsSpecialPurpose addresses (IPv4-mapped addresses
// unmapped first) in pion's permission hook, except the server's own relay
// address and Config.AllowPeers; Config.DenyPeers always wins. Allowing the own
// relay address lets two peers of the same server relay to each other, but the
// hook sees only an IP, so every relay socket also filters each datagram by
// port: traffic to or from the relay address passes only for ports that are
// live allocations of this server, never to another service on the host. TCP
// relay allocations (RFC 6062) are refused; WebRTC relays over UDP.
//
// When RelayBindIP is a wildcard address, relay sockets are reachable on
// every address of the host; only the relay address is treated as the
// server's own, so do not put the host's other addresses in AllowPeers.
//
// # Bounds
//
// Quotas follow the client, not the credential: a client can fetch many
// credential sets (each for a fresh peer id), but it has one address.
// Allocations are capped per peer id, per client address (IPv4 address or
// IPv6 /64) and in total; the per-address cap stays below the total, so
// one address never holds the pool. Distinct permitted peers are capped
// per allocation and per client address. Authenticated requests are rate
// limited per client address (relayed data is not). Every allocation ends
// MaxAllocationLifetime after it was made, however it is refreshed, and
// EndPeer ends a peer's allocations when its signaling session closes.
// TCP and TLS connections are capped in total and per client address,
// must finish the TLS handshake and send bytes within
// TCPFirstMessageTimeout, and are closed after TCPIdleTimeout of silence;
// the accept loop backs off on errors such as EMFILE instead of ending.
// Stats returns aggregate counters only, with refusals by reason
// (RefusalReasons). Nothing here logs an address, a username or a
// peer id at info level or above: pion's logs are re-emitted at debug
// level.
//
// # Concurrency
//
// All exported functions and methods are safe for concurrent use. pion
// runs one read loop per PacketConn, one accept loop per Listener, one
// read loop per accepted connection and one reader per relay socket.
// The data path takes no server-wide lock: each relay socket remembers the
// last peer address it let through in each direction until a relay socket
// closes (an atomic generation), looks up live relay ports in a sync.Map
// only when that changes, and counts its own traffic with uncontended
// atomic adds. A datagram from one relay socket to another of this server
// is handed over in process (a bounded inbox, see inbox.go) instead of
// through the kernel. The mutex guards the quota counters, the per-address
// table, the set of accepted connections and the live relay sockets, and
// is taken once per authenticated request, never per relayed datagram.
// Close closes every socket and waits for those loops to stop.
//
// # Metrics
//
// A Server is a prometheus.Collector (metrics.go); every series is
// aggregate: allocations by the client's transport (udp, tcp, tls),
// relayed datagrams and bytes by direction (to_peer, from_peer),
// refusals by reason, drops and timeouts.
package turn
