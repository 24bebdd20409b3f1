package privacy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// SDPOptions says which scrubbing ScrubSDP applies.
type SDPOptions struct {
	// ForceRelay keeps only relay candidates and hides every address
	// (Policy.ForcesRelay for the sender).
	ForceRelay bool
	// StripSysinfo replaces the o= user name, where Firefox writes its
	// version (Policy.StripsSysinfo).
	StripSysinfo bool
	// TrustedRelays, under ForceRelay, keeps only relay candidates whose
	// transport address (IP and port) it accepts (see
	// FilterRelayCandidate). Nil accepts any.
	TrustedRelays func(netip.AddrPort) bool
}

// SDPStats counts what ScrubSDP did under ForceRelay: a=candidate lines
// kept and dropped, and other lines dropped because they could not be
// classified or still carried an address (a=remote-candidates lines, always
// dropped, are not counted).
type SDPStats struct {
	CandidatesKept, CandidatesDropped int
	LinesDropped                      int
}

// hiddenConnAddr is what c=, a=rtcp: and o= carry once scrubbed. Browsers
// write the same for a description with no default candidate, and always
// IN IP4 even in an IPv6 session: the line must not hint at the family
// either.
const hiddenConnAddr = "IN IP4 0.0.0.0"

// hiddenConnLine is every c= line once scrubbed.
const hiddenConnLine = "c=" + hiddenConnAddr

// ScrubSDP scrubs a session description (RFC 8866) line by line.
//
// Under opt.ForceRelay it:
//   - drops every a=candidate line that is not a relay candidate (host,
//     mDNS .local, srflx, prflx, unparseable), see FilterCandidate, and
//     rewrites raddr/rport of the kept ones to 0.0.0.0 / 0;
//   - rewrites every c= line to c=IN IP4 0.0.0.0 and the address of every
//     a=rtcp: line to IN IP4 0.0.0.0 (also when IPv6 was given);
//   - rewrites the o= unicast address to IN IP4 0.0.0.0 (and a user name
//     that holds an address to "-");
//   - drops a=remote-candidates lines, which name the other side's
//     addresses;
//   - drops every line it cannot classify: one with a byte outside
//     printable ASCII (tab, control character, Unicode space), an a= line
//     whose attribute name is not an RFC 8866 token ("a=:candidate:...",
//     "a= rtcp:..."), and any line that still holds an IP literal or .local
//     name other than 0.0.0.0 and the relay addresses of kept candidates
//     (FindLeak): the forced-relay invariant holds line by line.
//
// Under opt.StripSysinfo the o= user name becomes "-".
//
// Every other line stays byte-identical, in order, with its original line
// ending (CRLF or LF, and a missing final newline stays missing): browsers
// reject descriptions that differ in ways they do not expect. Attribute
// and line-type letters are matched case-insensitively so a variant
// spelling cannot slip past the filter.
//
// It returns an error wrapping ErrBadSDP when sdp does not start with "v=",
// holds a CR that does not end a line or a NUL, has an o= line without its
// six fields, or (under ForceRelay) has a non-empty line that is not
// "<letter>=", an a=rtcp: line with a bad port, or a v= line it drops. The caller then refuses
// the message: a description that cannot be scrubbed safely is not
// forwarded. With neither option set, a well-formed sdp is returned as is.
//
// Safe for concurrent use.
func ScrubSDP(sdp string, opt SDPOptions) (string, SDPStats, error) {
	var st SDPStats
	if !strings.HasPrefix(sdp, "v=") {
		return "", st, fmt.Errorf("%w: does not start with v=", ErrBadSDP)
	}
	if !opt.ForceRelay && !opt.StripSysinfo {
		return sdp, st, nil
	}

	var b strings.Builder
	b.Grow(len(sdp))
	for lineNo := 1; sdp != ""; lineNo++ {
		line, eol, rest := cutLine(sdp)
		sdp = rest
		// Two vectorised searches: ContainsAny walks byte by byte.
		if strings.IndexByte(line, '\r') >= 0 || strings.IndexByte(line, 0) >= 0 {
			return "", SDPStats{}, fmt.Errorf("%w: line %d: stray CR or NUL", ErrBadSDP, lineNo)
		}
		out, keep, err := scrubLine(line, opt, &st)
		if err != nil {
			return "", SDPStats{}, fmt.Errorf("%w: line %d: %v", ErrBadSDP, lineNo, err)
		}
		if keep {
			b.WriteString(out)
			b.WriteString(eol)
		}
	}
	out := b.String()
	if !strings.HasPrefix(out, "v=") {
		// The v= line itself could not be classified.
		return "", SDPStats{}, fmt.Errorf("%w: v= line dropped", ErrBadSDP)
	}
	return out, st, nil
}

// cutLine splits the first line off s: its text, its terminator ("\r\n",
// "\n" or "" at the end of input) and the rest.
func cutLine(s string) (line, eol, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, "", ""
	}
	line, rest = s[:i], s[i+1:]
	if strings.HasSuffix(line, "\r") {
		return line[:len(line)-1], "\r\n", rest
	}
	return line, "\n", rest
}

func scrubLine(line string, opt SDPOptions, st *SDPStats) (out string, keep bool, err error) {
	if line == "" {
		return line, true, nil
	}
	if len(line) < 2 || line[1] != '=' || !isASCIILetter(line[0]) {
		if opt.ForceRelay {
			return "", false, errors.New("not a <type>= line")
		}
		return line, true, nil
	}
	if !opt.ForceRelay {
		if line[0]|0x20 == 'o' {
			return scrubOrigin(line, opt)
		}
		return line, true, nil
	}
	// Under forced relay a line crosses only if it is classified: printable
	// ASCII, a strict attribute grammar for a=, and no address left.
	if !isPrintableASCII(line) {
		st.LinesDropped++
		return "", false, nil
	}
	out, keep, err = scrubForcedLine(line, opt, st)
	if err != nil || !keep {
		return "", false, err
	}
	if out == hiddenConnLine {
		return out, true, nil // our own constant: nothing to find in it
	}
	if _, leak := FindLeak(out, opt.TrustedRelays); leak {
		st.LinesDropped++
		return "", false, nil
	}
	return out, true, nil
}

// scrubForcedLine rewrites or drops one "<letter>=" line under ForceRelay.
func scrubForcedLine(line string, opt SDPOptions, st *SDPStats) (string, bool, error) {
	switch line[0] | 0x20 { // lower case
	case 'o':
		return scrubOrigin(line, opt)
	case 'c':
		return hiddenConnLine, true, nil
	case 'a':
	default:
		return line, true, nil
	}
	// RFC 8866: attribute = attribute-name [":" attribute-value], and
	// attribute-name is a token. Lenient parsers also read names after a
	// leading ':' or white space ("a=:candidate:...", "a= candidate");
	// such a line is not an attribute and does not cross.
	name, param, hasParam := strings.Cut(line[2:], ":")
	if !isToken(name) {
		st.LinesDropped++
		return "", false, nil
	}
	switch {
	case hasPrefixFold(name, "candidate"):
		// Anything named like a candidate must pass the filter as one;
		// FilterRelayCandidate drops variant spellings.
		if out, ok := FilterRelayCandidate(line, true, opt.TrustedRelays); ok && out != "" {
			st.CandidatesKept++
			return out, true, nil
		}
		st.CandidatesDropped++
		return "", false, nil
	case hasPrefixFold(name, "remote-candidates"):
		return "", false, nil
	case asciiEqualFold(name, "rtcp") && hasParam:
		return scrubRTCP(param)
	}
	return line, true, nil
}

// hasPrefixFold reports whether strings.ToLower(s) starts with the
// lower-case ASCII word prefix, for s an RFC 8866 token (ASCII): without
// allocating the lowered copy.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// isToken reports whether s is an RFC 8866 token: one or more of ALPHA,
// DIGIT and !#$%&'*+-.^_`{|}~.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIILetter(c) || isDigit(c) {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`{|}~", rune(c)) {
			return false
		}
	}
	return true
}

// isPrintableASCII reports whether s holds only bytes 0x20-0x7e. Browsers
// write nothing else in SDP; a tab, a control character or a Unicode space
// is where lenient parsers and this filter could read a line differently.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// scrubOrigin rewrites "o=<username> <sess-id> <sess-version> <nettype>
// <addrtype> <unicast-address>".
func scrubOrigin(line string, opt SDPOptions) (string, bool, error) {
	f := strings.Split(line[2:], " ")
	if len(f) != 6 {
		return "", false, fmt.Errorf("o= line has %d fields, want 6", len(f))
	}
	if opt.StripSysinfo {
		f[0] = "-"
	}
	if opt.ForceRelay {
		f[3], f[4], f[5] = "IN", "IP4", "0.0.0.0"
		if _, leak := FindAddress(f[0], nil); leak {
			f[0] = "-"
		}
	}
	return "o=" + strings.Join(f, " "), true, nil
}

// scrubRTCP rewrites the value of "a=rtcp:<port> [<nettype> <addrtype>
// <address>]" (RFC 3605).
func scrubRTCP(param string) (string, bool, error) {
	port, _, hasAddr := strings.Cut(param, " ")
	if _, err := strconv.ParseUint(port, 10, 16); err != nil || len(port) > 5 {
		return "", false, errors.New("a=rtcp: bad port")
	}
	if !hasAddr {
		return "a=rtcp:" + port, true, nil
	}
	return "a=rtcp:" + port + " " + hiddenConnAddr, true, nil
}
