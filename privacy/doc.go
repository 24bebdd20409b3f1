// Package privacy holds veil's privacy rules as pure functions: what a
// signal may carry when it crosses the server, what an address is allowed to
// be, and what a log line or a privacy notice may say.
//
// # Overview
//
// Policy is the effective policy (relay force|optional|off, sysinfo
// strip|pass, sealed deny|allow, retention none, logs redacted); its JSON is
// the protocol's welcome.policy object. Policy.ForcesRelay tells a caller
// whether to filter a sender's signals.
//
// When relay is forced, FilterCandidate filters trickle ICE candidates and
// ScrubSDP filters session descriptions: only relay candidates survive,
// their related address becomes 0.0.0.0:0, and the c=, a=rtcp: and o=
// addresses become 0.0.0.0, so no peer learns another peer's address even
// if a client ignores the policy. Candidates are parsed with pion's ICE
// parser, never with regular expressions. Anything that cannot be parsed is
// dropped or refused (fail-secure).
//
// The forced-relay invariant: no IP literal and no .local name other than
// the relay addresses and 0.0.0.0/:: in anything forwarded, in any field or
// spelling. FindAddress finds an address in text (dotted quads, IPv6 in
// every form netip parses, .local names, and their full-width and
// percent-encoded spellings), ScrubAddresses and ScrubAddressesDeep remove
// them from free-form text and decoded JSON, and FindLeak and FindLeakJSON
// check a string or a whole JSON frame, allowing only the address of a
// relay candidate the candidate filter keeps (with a trusted predicate: one
// whose UDP transport address, IP and port, it accepts). Under ForceRelay, ScrubSDP
// drops every line it cannot classify (an a= attribute name that is not an
// RFC 8866 token, a byte outside printable ASCII, an address left in it).
//
// When system information is stripped, ScrubSDP replaces the o= user name
// (Firefox writes its version there), SanitizeStats keeps only an allowlist
// of WebRTC statistics keys (AllowedStatsKeys) and StripSysinfo removes
// user-agent, platform and hardware keys from free-form objects. ScrubIPs
// replaces IP literals left in strings.
//
// IsSpecialPurpose classifies addresses the embedded TURN server must never
// relay to. Redact, Secret and RedactAddr turn secrets (room and stream
// names, peer ids, tokens, TURN user names, addresses) into short tags for
// logs. NoticeMarkdown and NoticeHTML render the privacy notice an operator
// can publish, generated from the running configuration.
//
// The package does no I/O; the only state is the random key behind Redact,
// drawn once per process.
//
// # Concurrency
//
// All functions and methods are safe for concurrent use.
package privacy
