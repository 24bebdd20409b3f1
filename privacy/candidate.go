package privacy

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
)

// Positions of the fields of a candidate attribute (RFC 8839 section 5.1)
// after the "candidate:" prefix, split on single spaces the way pion's
// parser reads them:
//
//	foundation component transport priority address port typ type [raddr A rport P] *(ext-name ext-value)
const (
	candFieldTransport = 2
	candFieldAddress   = 4
	candFieldPort      = 5
	candFieldTyp       = 6
	candFieldType      = 7
	candFieldRaddr     = 8  // "raddr", when present
	candFieldRport     = 10 // "rport", when raddr is present
	candMinFields      = 8
)

// Values written over a relay candidate's related address: the address of
// the client behind the relay (its host or server-reflexive address) is
// exactly what forced relay hides. Browsers emit and accept these values
// themselves when they hide an address.
const (
	hiddenRelatedAddr = "0.0.0.0"
	hiddenRelatedPort = "0"
)

// FilterCandidate filters one trickle ICE candidate, as sent in a signaling
// message: "candidate:..." with or without a leading "a=".
//
// Without forceRelay it returns cand unchanged and keep is true.
//
// With forceRelay it keeps only relay candidates whose address is an IP
// literal, and rewrites their raddr/rport to 0.0.0.0 / 0. Every other field
// (foundation, priority, the relay address, extensions such as generation,
// ufrag, network-id, network-cost and tcptype) stays as written, except
// that an IP literal or .local name inside an extension is scrubbed as
// ScrubAddresses does. The foundation must be 1-32 ice-chars (RFC 8839). Host
// (including mDNS ".local"), srflx and prflx candidates are dropped, and so
// is anything pion's parser (ice.UnmarshalCandidate) rejects or that
// contains control or non-ASCII characters (a CR/LF could smuggle a second
// SDP line) or empty fields (double spaces, an empty foundation): when in
// doubt the candidate does not leave the server. A kept
// candidate is checked by parsing the output again.
//
// The empty string, which signals end-of-candidates, is always kept.
//
// Safe for concurrent use.
func FilterCandidate(cand string, forceRelay bool) (out string, keep bool) {
	return FilterRelayCandidate(cand, forceRelay, nil)
}

// FilterRelayCandidate is FilterCandidate that, under forceRelay, also
// drops a relay candidate whose transport address trusted refuses (nil
// trusts every address). "typ relay" is only a label: a peer can put its
// own address behind it, or a port of the relay's IP address that no
// allocation holds (and someone else may receive on), and a receiver whose
// client ignores the relay policy would then send connectivity checks from
// its real address straight there. With trusted set to "a relay address
// of a live allocation on our TURN server", only candidates that really
// lead to a relay cross the server.
//
// trusted is asked about a UDP transport address: the candidate's address
// (IPv4-mapped addresses unmapped) and port. With trusted set, a candidate
// whose transport is not UDP is dropped (a TURN relay relays UDP; a
// "tcp ... typ relay" candidate would draw TCP connections to a port no
// relay listens on), and so is one whose port is not written in plain
// decimal, which a client could read differently.
//
// Safe for concurrent use if trusted is.
func FilterRelayCandidate(cand string, forceRelay bool, trusted func(netip.AddrPort) bool) (out string, keep bool) {
	if cand == "" || !forceRelay {
		return cand, true
	}
	for i := 0; i < len(cand); i++ {
		if c := cand[i]; c < 0x20 || c >= 0x7f {
			return "", false
		}
	}

	prefix := ""
	body := cand
	if rest, ok := strings.CutPrefix(body, "a="); ok {
		// In SDP form the attribute name is mandatory.
		if !strings.HasPrefix(rest, "candidate:") {
			return "", false
		}
		prefix, body = "a=", rest
	}
	if rest, ok := strings.CutPrefix(body, "candidate:"); ok {
		prefix += "candidate:"
		body = rest
	}

	// pion strips one more "candidate:" and reads empty fields (double
	// spaces) as zero values; a browser may read either differently, and the
	// field positions below assume neither.
	if strings.HasPrefix(body, "candidate:") {
		return "", false
	}
	fields := strings.Split(body, " ")
	if len(fields) < candMinFields || slices.Contains(fields, "") || !isFoundation(fields[0]) ||
		fields[candFieldTyp] != "typ" || fields[candFieldType] != "relay" {
		return "", false
	}
	c, err := ice.UnmarshalCandidate(body)
	if err != nil || c.Type() != ice.CandidateTypeRelay {
		return "", false
	}
	// pion drops an IPv6 zone before parsing; a zone names the sender's
	// interface and has no business in a relay address.
	a, err := netip.ParseAddr(fields[candFieldAddress])
	if err != nil || a.Zone() != "" {
		return "", false
	}
	if trusted != nil && !trustedRelay(fields, a, trusted) {
		return "", false
	}
	ext := candMinFields
	if len(fields) > candFieldRaddr && fields[candFieldRaddr] == "raddr" {
		if len(fields) <= candFieldRport+1 || fields[candFieldRport] != "rport" {
			return "", false
		}
		fields[candFieldRaddr+1] = hiddenRelatedAddr
		fields[candFieldRport+1] = hiddenRelatedPort
		ext = candFieldRport + 2
	}
	for i := ext; i < len(fields); i++ {
		if fields[i] = ScrubAddresses(fields[i]); fields[i] == "" {
			return "", false
		}
	}
	body = strings.Join(fields, " ")

	if !isHiddenRelay(body) {
		return "", false
	}
	return prefix + body, true
}

// trustedRelay reports whether the relay candidate split into fields, at
// address a, is a UDP candidate at a transport address trusted accepts.
func trustedRelay(fields []string, a netip.Addr, trusted func(netip.AddrPort) bool) bool {
	if !strings.EqualFold(fields[candFieldTransport], "udp") {
		return false
	}
	port, err := strconv.ParseUint(fields[candFieldPort], 10, 16)
	if err != nil || strconv.FormatUint(port, 10) != fields[candFieldPort] {
		return false
	}
	return trusted(netip.AddrPortFrom(a.Unmap(), uint16(port))) //nolint:gosec // parsed with bitSize 16
}

// maxFoundationLen is the longest candidate foundation (RFC 8839:
// foundation = 1*32ice-char).
const maxFoundationLen = 32

// isFoundation reports whether f is 1 to 32 ice-chars (ALPHA / DIGIT /
// "+" / "/"). pion reads any text as a foundation; a strict one leaves no
// room for an address.
func isFoundation(f string) bool {
	if f == "" || len(f) > maxFoundationLen {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(isASCIILetter(c) || isDigit(c) || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// isHiddenRelay re-parses a rewritten candidate: it must still be a relay
// candidate to pion, with no related address other than 0.0.0.0:0.
func isHiddenRelay(body string) bool {
	c, err := ice.UnmarshalCandidate(body)
	if err != nil || c.Type() != ice.CandidateTypeRelay {
		return false
	}
	r := c.RelatedAddress()
	return r == nil || ((r.Address == "" || r.Address == hiddenRelatedAddr) && r.Port == 0)
}
