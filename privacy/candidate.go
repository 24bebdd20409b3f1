package privacy

import (
	"net/netip"
	"strconv"
	"strings"
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
	if strings.HasPrefix(body, "candidate:") || !candSingleSpaced(body) {
		return "", false
	}
	var f [candMinFields]string
	rest := body
	for i := range f {
		var found bool
		if f[i], rest, found = strings.Cut(rest, " "); !found && i < candMinFields-1 {
			return "", false // fewer than candMinFields fields
		}
	}
	if !isFoundation(f[0]) || f[candFieldTyp] != "typ" || f[candFieldType] != "relay" {
		return "", false
	}
	// parseCandidate reads as pion's UnmarshalCandidate does
	// (FuzzParseCandidateMatchesPion), without allocating.
	c, ok := parseCandidate(body)
	if !ok || c.typ != "relay" {
		return "", false
	}
	// pion drops an IPv6 zone before parsing; a zone names the sender's
	// interface and has no business in a relay address.
	if strings.IndexByte(f[candFieldAddress], '%') >= 0 {
		return "", false
	}
	a, err := netip.ParseAddr(f[candFieldAddress])
	if err != nil {
		return "", false
	}
	if trusted != nil && !trustedRelay(f[candFieldTransport], f[candFieldPort], a, trusted) {
		return "", false
	}

	// What follows the type: "raddr A rport P" (pion has checked its
	// shape), then extensions, every field of which is scrubbed.
	head := len(body) - len(rest) // up to and including "typ relay "
	// b holds the rewritten candidate once something changes (one
	// allocation); until then the input is the output.
	var b strings.Builder
	changed := false
	if c.related {
		// rest is "raddr A rport P[ ext...]".
		_, r1, _ := strings.Cut(rest, " ")
		addr, r2, _ := strings.Cut(r1, " ")
		_, r3, _ := strings.Cut(r2, " ")
		port, ext, hasExt := strings.Cut(r3, " ")
		if addr != hiddenRelatedAddr || port != hiddenRelatedPort {
			changed = true
			b.Grow(len(prefix) + len(body) + len(hiddenRelatedAddr))
			b.WriteString(prefix)
			b.WriteString(body[:head])
			b.WriteString("raddr " + hiddenRelatedAddr + " rport " + hiddenRelatedPort)
			if hasExt {
				b.WriteByte(' ')
			}
		}
		rest = ext
	}
	for rest != "" {
		field, next, more := strings.Cut(rest, " ")
		scrubbed := ScrubAddresses(field)
		if scrubbed == "" {
			return "", false
		}
		if !changed && scrubbed != field {
			changed = true
			b.Grow(len(prefix) + len(body) + len(scrubbedIPv4))
			b.WriteString(prefix)
			b.WriteString(body[:len(body)-len(rest)])
		}
		if changed {
			b.WriteString(scrubbed)
			if more {
				b.WriteByte(' ')
			}
		}
		rest = next
	}
	out = cand
	if changed {
		out = b.String()
	}
	if !isHiddenRelay(out[len(prefix):]) {
		return "", false
	}
	return out, true
}

// candSingleSpaced reports whether body is fields separated by single
// spaces: not empty, no space at either end, no two spaces in a row.
func candSingleSpaced(body string) bool {
	return body != "" && body[0] != ' ' && body[len(body)-1] != ' ' && !strings.Contains(body, "  ")
}

// trustedRelay reports whether a relay candidate with this transport and
// port field, at address a, is a UDP candidate at a transport address
// trusted accepts.
func trustedRelay(transport, portField string, a netip.Addr, trusted func(netip.AddrPort) bool) bool {
	if !strings.EqualFold(transport, "udp") {
		return false
	}
	port, err := strconv.ParseUint(portField, 10, 16)
	if err != nil || strconv.FormatUint(port, 10) != portField {
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
	c, ok := parseCandidate(body)
	return ok && c.typ == "relay" && (c.relAddr == "" || c.relAddr == hiddenRelatedAddr) && c.relPort == 0
}
