package privacy

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// parsedCandidate is a candidate attribute read the way pion/ice's
// UnmarshalCandidate reads it, without allocating: every string is a slice
// of the input. FuzzParseCandidateMatchesPion holds the two parsers to the
// same accept/reject decision and the same fields; the relay filter needs
// pion's reading, since that is what the peers' stacks are tested against,
// and parses every forwarded candidate once or twice.
type parsedCandidate struct {
	foundation string // " " for an empty one, as pion stores it
	component  uint16
	protocol   string // as written ("udp", "UDP", "tcp", "udpfoo")
	priority   uint32 // as written; pion computes one for 0
	address    string // as written, an IPv6 zone removed
	port       int
	typ        string // host, srflx, prflx or relay
	related    bool   // raddr/rport present
	relAddr    string
	relPort    int
	tcpType    string // the last tcptype extension's value, as written
	ext        string // the extensions, raw: *(name SP value) separated by SP
}

// Limits of the candidate grammar pion applies (RFC 8839 section 5.1).
const (
	candMaxFoundation = 32
	candMaxComponent  = 5  // digits
	candMaxPriority   = 10 // digits
	candMaxPort       = 5  // digits
	candMaxPortValue  = 65535
	candMaxCompValue  = 65535
	candMaxPrioValue  = 1<<32 - 1
)

// parseCandidate reads raw ("candidate:..." or without the prefix) as
// pion/ice v4's UnmarshalCandidate does and reports whether pion accepts
// it. It allocates nothing.
func parseCandidate(raw string) (c parsedCandidate, ok bool) {
	raw = strings.TrimPrefix(raw, "candidate:")
	pos := 0

	c.foundation, pos, ok = candCharToken(raw, pos, candMaxFoundation)
	if !ok {
		return c, false
	}
	if c.foundation == "" {
		c.foundation = " "
	}
	if pos >= len(raw) {
		return c, false
	}
	v, pos, ok := candDigitToken(raw, pos, candMaxComponent)
	if !ok || v > candMaxCompValue {
		return c, false
	}
	c.component = uint16(v)
	if pos >= len(raw) {
		return c, false
	}
	c.protocol, pos = candStringToken(raw, pos)
	if pos >= len(raw) {
		return c, false
	}
	if v, pos, ok = candDigitToken(raw, pos, candMaxPriority); !ok || v > candMaxPrioValue {
		return c, false
	}
	c.priority = uint32(v)
	if pos >= len(raw) {
		return c, false
	}
	c.address, pos = candStringToken(raw, pos)
	if before, _, found := strings.Cut(c.address, "%"); found {
		c.address = before
	}
	if pos >= len(raw) {
		return c, false
	}
	if c.port, pos, ok = candPort(raw, pos); !ok {
		return c, false
	}
	var key string
	if key, pos = candStringToken(raw, pos); key != "typ" {
		return c, false
	}
	if pos >= len(raw) {
		return c, false
	}
	c.typ, pos = candStringToken(raw, pos)

	// [raddr A rport P]
	if key, next := candStringToken(raw, pos); key == "raddr" {
		pos = next
		if pos >= len(raw) {
			return c, false
		}
		c.relAddr, pos = candStringToken(raw, pos)
		if pos >= len(raw) {
			return c, false
		}
		if key, pos = candStringToken(raw, pos); key != "rport" || pos >= len(raw) {
			return c, false
		}
		if c.relPort, pos, ok = candPort(raw, pos); !ok {
			return c, false
		}
		c.related = true
	}

	if pos < len(raw) {
		c.ext = raw[pos:]
		if c.ext[0] == ' ' {
			return c, false
		}
		bad := false
		c.extensions(func(string, string) bool { return true }, &bad)
		if bad {
			return c, false
		}
		if c.tcpType != "" && candTCPType(c.tcpType) == "" {
			return c, false
		}
	}

	switch c.typ {
	case "host":
		if strings.HasSuffix(c.address, ".local") || strings.HasSuffix(c.address, ".invalid") {
			return c, true // pion leaves mDNS names unresolved
		}
	case "srflx", "prflx", "relay":
	default:
		return c, false
	}
	if _, err := netip.ParseAddr(c.address); err != nil {
		return c, false
	}
	return c, candNetwork(c.protocol) != ""
}

// extensions walks c.ext as pion does: name, then value (empty at the
// end), each up to the next space; a tcptype pair is recorded in c.tcpType
// (the last one wins) and not passed to yield. It sets *bad when a name or
// value holds a character pion refuses (NUL, LF, CR, or a rune above
// U+00FF) and stops.
func (c *parsedCandidate) extensions(yield func(k, v string) bool, bad *bool) {
	raw := c.ext
	for i := 0; i < len(raw); {
		key, next, ok := candByteString(raw, i)
		if !ok {
			*bad = true
			return
		}
		i = next
		var value string
		if i < len(raw) {
			if value, next, ok = candByteString(raw, i); !ok {
				*bad = true
				return
			}
			i = next
		}
		if key == "tcptype" {
			c.tcpType = value
			continue
		}
		if !yield(key, value) {
			return
		}
	}
}

// candCharToken reads ice-chars (ALPHA / DIGIT / "+" / "/") up to a space
// or the end; a token reaching limit bytes before either is refused.
func candCharToken(raw string, start, limit int) (string, int, bool) {
	for i := start; i < len(raw); i++ {
		ch := raw[i]
		if ch == ' ' {
			return raw[start:i], i + 1, true
		}
		if i-start == limit {
			return "", 0, false
		}
		if !isASCIILetter(ch) && !isDigit(ch) && ch != '+' && ch != '/' {
			return "", 0, false
		}
	}
	return raw[start:], len(raw), true
}

// candStringToken reads up to a space or the end. A space byte never
// occurs inside a multi-byte UTF-8 sequence, and pion's rune loop reads an
// invalid byte as U+FFFD, so bytes and runes split alike.
func candStringToken(raw string, start int) (string, int) {
	if i := strings.IndexByte(raw[start:], ' '); i >= 0 {
		return raw[start : start+i], start + i + 1
	}
	return raw[start:], len(raw)
}

// candDigitToken reads decimal digits up to a space or the end (none is
// zero, as in pion); a token reaching limit bytes before either is refused.
func candDigitToken(raw string, start, limit int) (uint64, int, bool) {
	var v uint64
	for i := start; i < len(raw); i++ {
		ch := raw[i]
		if ch == ' ' {
			return v, i + 1, true
		}
		if i-start == limit || !isDigit(ch) {
			return 0, 0, false
		}
		v = v*10 + uint64(ch-'0')
	}
	return v, len(raw), true
}

func candPort(raw string, start int) (int, int, bool) {
	v, pos, ok := candDigitToken(raw, start, candMaxPort)
	if !ok || v > candMaxPortValue {
		return 0, 0, false
	}
	return int(v), pos, true
}

// candByteString reads an RFC 4566 byte-string as pion does: runes up to a
// space or the end, each in U+0001-0009, U+000B-000C or U+000E-00FF (an
// invalid UTF-8 byte reads as U+FFFD and is refused).
func candByteString(raw string, start int) (string, int, bool) {
	for i := start; i < len(raw); {
		ch := raw[i]
		if ch == ' ' {
			return raw[start:i], i + 1, true
		}
		if ch < utf8.RuneSelf {
			if ch == 0 || ch == '\n' || ch == '\r' {
				return "", 0, false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(raw[i:])
		if r > 0xff { // includes utf8.RuneError
			return "", 0, false
		}
		i += n
	}
	return raw[start:], len(raw), true
}

// candTCPType is pion's NewTCPType: the canonical name, or "" when pion
// does not know it.
func candTCPType(v string) string {
	for _, t := range [...]string{"active", "passive", "so"} {
		if asciiEqualFold(v, t) {
			return t
		}
	}
	return ""
}

// asciiEqualFold reports whether s equals the lower-case ASCII word lower
// once ASCII upper-case letters in s are lowered. For the words it is used
// with this is pion's strings.ToLower(s) == lower (or HasPrefix): the only
// runes that lower to ASCII are U+0130 and U+212A, to 'i' and 'k', which
// "udp" and "tcp" do not hold, and a tcptype value with either has been
// refused already (a byte-string holds no rune above U+00FF).
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// candNetwork is the network pion derives from the transport: "udp" or
// "tcp" when it starts with either (any case), else "".
func candNetwork(protocol string) string {
	if len(protocol) >= 3 {
		switch p := protocol[:3]; {
		case asciiEqualFold(p, "udp"):
			return "udp"
		case asciiEqualFold(p, "tcp"):
			return "tcp"
		}
	}
	return ""
}
