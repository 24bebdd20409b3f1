package privacy

import (
	"html"
	"net/netip"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// The forced-relay invariant: when relay is forced, no IP literal and no
// mDNS ".local" name other than the server's own relay addresses (as the
// address of a kept relay candidate) and the unspecified addresses
// (0.0.0.0, ::) leaves the server, in any field and any spelling. FindAddress finds such a spelling in text, FindLeak and
// FindLeakJSON apply the invariant to a string and to a whole JSON frame,
// and ScrubAddresses removes what FindAddress finds from free-form text.
//
// What counts as an address (decided once, here, for every caller):
//   - an IPv4 dotted quad: four dot-separated decimal fields, each at most
//     255, with any number of leading zeros ("010.001.002.003",
//     "0001.0002.0003.0004", which a URL parser reads as 1.2.3.4), wherever it stands in a run of digits and dots
//     ("1.2.3.4.5" holds two), with or without ":port";
//   - an IPv6 literal as net/netip parses it (full, compressed, with an
//     IPv4 tail, IPv4-mapped "::ffff:7f00:1" or "::ffff:127.0.0.1", NAT64),
//     made of whole colon- or dot-separated groups of a run of hex digits,
//     colons and dots, so bracketed ("[::1]:80"), zoned ("fe80::1%eth0")
//     and port-suffixed forms are found too;
//   - a name ending in the label "local" ("4f9e1c2a-....local", "x.LOCAL",
//     "printer.local."), as mDNS resolves it;
//   - any of the above spelled with characters that Unicode normalisation
//     (NFKC) or IDNA folds to ASCII (full-width, mathematical, superscript
//     or circled digits, ideographic full stops) or with invisible
//     characters inside (soft hyphen, zero-width space, variation
//     selectors), percent-encoded (which URL parsers decode), with
//     JavaScript or JSON escapes (\uXXXX, \u{X}, \xXX, octal, "\.") or
//     HTML character references (named or numeric), in any nesting;
//     FindLeakJSON also decodes the frame's own JSON escapes.
//
// Not counted: a run of more than eight colon-separated groups of exactly
// two hex digits (the shape of every certificate fingerprint, which no
// IPv6 address has: it has at most eight groups of up to four digits), and
// inet_aton shorthand ("127.1", "2130706433", "0x7f.1"), which is also an
// ordinary number; no candidate or SDP address field veil forwards accepts
// it, since those fields are parsed or rewritten by structure.

// maxFingerprintGroupLen is the length of a group of a certificate
// fingerprint in SDP (RFC 8122): two hex digits.
const maxFingerprintGroupLen = 2

// maxIPv6Groups is how many colon-separated groups an IPv6 literal has at
// most.
const maxIPv6Groups = 8

// FindAddress reports the first IP literal or .local name in s that
// allowed refuses (see the package's notes above for what counts). The
// unspecified addresses 0.0.0.0 and :: (and ::ffff:0.0.0.0) always pass;
// allowed, when not nil, sees every other address, IPv4-mapped ones
// unmapped. A nil allowed refuses them all.
//
// leak is the offending text as found; it is an address: never log it.
//
// Safe for concurrent use if allowed is.
func FindAddress(s string, allowed func(netip.Addr) bool) (leak string, found bool) {
	if !mayHoldAddress(s) {
		return "", false
	}
	// spellings(s) one at a time: most text has only the one, and the
	// slice was an allocation per line searched. Each step undoes one
	// encoding, so every intermediate spelling is searched: decoding two
	// layers at once could destroy the one in between ("%１０.0.0.1"
	// folds to "%10.0.0.1", whose percent-decoding eats the "10").
	for range maxSpellingSteps + 1 {
		if leak, found = findAddress(s, allowed); found {
			return leak, true
		}
		t := nextSpelling(s)
		if t == s {
			return "", false
		}
		s = t
	}
	// Still decoding after maxSpellingSteps layers: what it spells cannot
	// be classified, so it counts as an address (fail-secure).
	return tooDeep, true
}

// tooDeep is the leak FindAddress reports for text still decoding after
// maxSpellingSteps layers of encoding.
const tooDeep = "(encoded too deeply to classify)"

// mayHoldAddress reports whether FindAddress could find anything in s,
// in one pass without allocating: false means ASCII text without an
// escape that could spell an address ('%', '\\', '&'), without ".local",
// and in which no maximal run of hex digits, dots and colons has the three
// dots of a dotted quad or the two colons of an IPv6 literal: exactly the
// runs findAddress and ScrubIPs look into. Most SDP lines and candidate
// extensions ("generation 0", "a=rtpmap:111 opus/48000/2") skip the
// decoding passes this way.
func mayHoldAddress(s string) bool {
	dots, colons := 0, 0
	for i := 0; i < len(s); i++ {
		switch addrClass[s[i]] {
		case classOther:
			dots, colons = 0, 0 // the run ends
		case classDot:
			if dots++; dots >= 3 || i+len(mdnsTLD) < len(s) && strings.EqualFold(s[i+1:i+1+len(mdnsTLD)], mdnsTLD) {
				return true
			}
		case classColon:
			if colons++; colons >= 2 {
				return true
			}
		case classEscape:
			return true
		}
	}
	return false
}

// Byte classes of mayHoldAddress.
const (
	classOther  = iota // ends a run
	classHex           // continues a run
	classDot           // '.'
	classColon         // ':'
	classEscape        // '%', '\\', '&' or a byte of a non-ASCII character
)

// addrClass is the class of each byte, for mayHoldAddress's single pass.
var addrClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf || c == '%' || c == '\\' || c == '&':
			t[c] = classEscape
		case c == '.':
			t[c] = classDot
		case c == ':':
			t[c] = classColon
		case isHexDigit(byte(c)):
			t[c] = classHex
		}
	}
	return t
}()

// spellings returns s and the normalised forms of it that FindAddress also
// searches: Unicode folded to ASCII where it reads as ASCII (foldUnicode),
// percent-escapes decoded, and text escapes decoded (unescapeText), again
// and again while that changes something, since each step may reveal
// another encoding layer. Each step shortens the text or keeps its length
// in runes, so this ends within maxScrubPasses.
func spellings(s string) []string {
	out := []string{s}
	for range maxSpellingSteps {
		t := nextSpelling(s)
		if t == s {
			break
		}
		s = t
		out = append(out, s)
	}
	return out
}

// nextSpelling is one normalisation step of spellings: s itself when it
// reads the same under every step, else s under the first step that
// changes it (Unicode folded, percent-escapes decoded, text escapes
// decoded), one layer at a time so that no spelling in between is skipped.
func nextSpelling(s string) string {
	if f, ok := foldUnicode(s); ok && f != s {
		return f
	}
	if p, ok := percentDecode(s); ok && p != s {
		return p
	}
	if u, ok := unescapeText(s); ok && u != s {
		return u
	}
	return s
}

// unescapeText decodes the escapes a parser further down may decode: HTML
// character references (named, numeric, with or without ';', as
// html.UnescapeString reads them), and JavaScript or JSON escapes in text
// nested in a string (\uXXXX, \u{X...}, \xXX, octal \NNN, and a backslash
// before punctuation, which JavaScript drops); ok is false when s holds
// none.
func unescapeText(s string) (string, bool) {
	changed := false
	if strings.IndexByte(s, '&') >= 0 {
		if u := html.UnescapeString(s); u != s {
			s, changed = u, true
		}
	}
	if strings.IndexByte(s, '\\') < 0 {
		return s, changed
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := decodeEscape(s[i:])
		if n == 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteRune(r)
		i += n
		changed = true
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}

// maxBraceHexDigits bounds \u{...}: a code point has at most six hex digits.
const maxBraceHexDigits = 6

// decodeEscape decodes one backslash escape at the start of s: the rune
// and the bytes it took, or n=0.
func decodeEscape(s string) (r rune, n int) {
	hexRun := func(t string, max int) (v rune, k int) {
		for k < len(t) && k < max && isHexDigit(t[k]) {
			v = v<<4 | rune(unhex(t[k]))
			k++
		}
		return v, k
	}
	if len(s) < 2 || s[0] != '\\' {
		return 0, 0
	}
	switch c := s[1]; {
	case strings.HasPrefix(s, `\u{`):
		if v, k := hexRun(s[3:], maxBraceHexDigits); k > 0 && 3+k < len(s) && s[3+k] == '}' && v <= utf8.MaxRune {
			return v, 4 + k
		}
	case c == 'u':
		if v, k := hexRun(s[2:], 4); k == 4 {
			return v, 6
		}
	case c == 'x':
		if v, k := hexRun(s[2:], 2); k == 2 {
			return v, 4
		}
	case '0' <= c && c <= '7':
		// JavaScript's legacy octal escapes: up to three digits, at most \377.
		v, k := rune(0), 0
		for k < 3 && 1+k < len(s) && '0' <= s[1+k] && s[1+k] <= '7' && v*8+rune(s[1+k]-'0') <= 0o377 {
			v = v*8 + rune(s[1+k]-'0')
			k++
		}
		return v, 1 + k
	case c < utf8.RuneSelf && !isHexDigit(c) && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z'):
		// An identity escape: "\." reads as ".".
		return rune(c), 2
	}
	return 0, 0
}

// foldUnicode maps text that reads as ASCII once Unicode-normalised to that
// ASCII: NFKC compatibility forms (full-width, mathematical, superscript,
// circled digits and letters), the ideographic full stops IDNA treats as
// dots, and it removes the invisible characters (format characters, such
// as soft hyphen, zero-width space, word joiner and byte order mark, and
// variation selectors) that URL and IDNA processing drop. ok is false when
// s is ASCII or nothing changed.
func foldUnicode(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s, false
	}
	t := strings.Map(func(r rune) rune {
		switch {
		case r == '\u3002' || r == '\uff61' || r == '\uff0e':
			return '.'
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r),
			unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			return -1
		}
		return r
	}, norm.NFKC.String(s))
	return t, t != s
}

// percentDecode decodes %XX escapes; ok is false when s holds none.
func percentDecode(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	changed := false
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			if !changed {
				b.Grow(len(s))
				b.WriteString(s[:i])
				changed = true
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		if changed {
			b.WriteByte(s[i])
		}
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// passes reports whether a may appear: unspecified, or accepted by allowed.
func passes(a netip.Addr, allowed func(netip.Addr) bool) bool {
	a = a.Unmap()
	return a.IsUnspecified() || (allowed != nil && allowed(a))
}

func findAddress(s string, allowed func(netip.Addr) bool) (string, bool) {
	if name, _, _, ok := nextMDNSName(s, 0); ok {
		return name, true
	}
	for i := 0; i < len(s); {
		if !isAddrChar(s[i]) {
			i++
			continue
		}
		end := i
		for end < len(s) && isAddrChar(s[end]) {
			end++
		}
		if leak, ok := findInRun(s[i:end], allowed); ok {
			return leak, true
		}
		i = end
	}
	return "", false
}

func isAddrChar(c byte) bool { return isHexDigit(c) || c == '.' || c == ':' }

// findInRun looks for an address in one maximal run of hex digits, dots and
// colons.
func findInRun(run string, allowed func(netip.Addr) bool) (string, bool) {
	if strings.Count(run, ".") >= 3 {
		if leak, ok := findDottedQuad(run, allowed); ok {
			return leak, true
		}
	}
	if strings.Count(run, ":") < 2 || isFingerprint(run) {
		return "", false
	}
	// Substrings made of whole groups: one starts at the run's start, after
	// a ':' or '.', or at a "::", and ends at the run's end, before a ':'
	// or '.', or after a "::". From each start the longest one that parses
	// counts; the starts inside an address that passes are part of it
	// ("2001:db8::" inside an allowed "2001:db8::20" is not another address).
	covered := 0
	for p := 0; p < len(run); p++ {
		if p < covered || !(p == 0 || run[p-1] == ':' || run[p-1] == '.' || strings.HasPrefix(run[p:], "::")) {
			continue
		}
		for q := min(len(run), p+maxIPLiteralLen); q >= p+2; q-- {
			if !(q == len(run) || run[q] == ':' || run[q] == '.' || strings.HasSuffix(run[:q], "::")) {
				continue
			}
			t := run[p:q]
			if !strings.Contains(t, ":") {
				break // shorter ones have no colon either
			}
			a, err := netip.ParseAddr(t)
			if err != nil {
				continue
			}
			if !passes(a, allowed) {
				return t, true
			}
			covered = q
			break
		}
	}
	return "", false
}

// isFingerprint reports whether run has the shape of a certificate
// fingerprint: more than eight colon-separated groups of exactly two hex
// digits. No IPv6 literal has more than eight groups.
func isFingerprint(run string) bool {
	if strings.Count(run, ":") < maxIPv6Groups {
		return false
	}
	for g := range strings.SplitSeq(run, ":") {
		if len(g) != maxFingerprintGroupLen || !isHexDigit(g[0]) || !isHexDigit(g[1]) {
			return false
		}
	}
	return true
}

// findDottedQuad looks for four consecutive octet fields in each run of
// digits and dots of run.
func findDottedQuad(run string, allowed func(netip.Addr) bool) (string, bool) {
	for i := 0; i < len(run); {
		if !isDigit(run[i]) {
			i++
			continue
		}
		end := i
		for end < len(run) && (isDigit(run[end]) || run[end] == '.') {
			end++
		}
		// The last four dot-separated fields: where each starts and its
		// value, or ok false.
		var (
			starts [4]int
			vals   [4]byte
			oks    [4]bool
			n      int
		)
		for fs := i; ; {
			fe := fs + strings.IndexByte(run[fs:end], '.')
			if fe < fs {
				fe = end
			}
			k := n % 4
			starts[k] = fs
			vals[k], oks[k] = octetValue(run[fs:fe])
			n++
			if n >= 4 && oks[0] && oks[1] && oks[2] && oks[3] {
				f := n % 4 // the oldest of the four
				a := netip.AddrFrom4([4]byte{vals[f], vals[(f+1)%4], vals[(f+2)%4], vals[(f+3)%4]})
				if !passes(a, allowed) {
					return run[starts[f]:fe], true
				}
			}
			if fe == end {
				break
			}
			fs = fe + 1
		}
		i = end
	}
	return "", false
}

// mdnsTLD is the top-level label mDNS resolves (RFC 6762).
const mdnsTLD = "local"

// isLabelByte reports whether c may be part of a DNS label as a lenient
// resolver reads it: ASCII letters and digits, '-', '_' and any byte of a
// multi-byte UTF-8 character (internationalised labels).
func isLabelByte(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || isDigit(c) || c == '-' || c == '_' || c >= 0x80
}

// nextMDNSName finds the first name ending in the label "local" at or
// after from: one or more labels, a dot, "local" in any case, then the end,
// a character that cannot continue a label, or a final dot that no label
// follows. It returns the name and where it starts and ends in s.
func nextMDNSName(s string, from int) (name string, start, end int, ok bool) {
	for i := from; i+len(mdnsTLD) < len(s); i++ {
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			return "", 0, 0, false
		}
		i += j
		e := i + 1 + len(mdnsTLD)
		if e > len(s) || !strings.EqualFold(s[i+1:e], mdnsTLD) || i == 0 || !isLabelByte(s[i-1]) {
			continue
		}
		if e < len(s) && isLabelByte(s[e]) {
			continue // "x.localhost", "x.local-net"
		}
		if e+1 < len(s) && s[e] == '.' && isLabelByte(s[e+1]) {
			continue // "x.local.example.com" is a name under example.com
		}
		st := i
		for st > from && (isLabelByte(s[st-1]) || s[st-1] == '.') {
			st--
		}
		return s[st:e], st, e, true
	}
	return "", 0, 0, false
}

// scrubbedName replaces a .local name: the same text that replaces an IPv4
// address, saying plainly that an address was there.
const scrubbedName = scrubbedIPv4

// maxScrubPasses bounds how often ScrubAddresses normalises and scrubs
// again; each pass shortens the text, and real text needs one.
const maxScrubPasses = 8

// maxSpellingSteps bounds the decoding steps FindAddress and spellings
// take, one encoding layer each (three kinds of step per pass).
const maxSpellingSteps = 3 * maxScrubPasses

// ScrubAddresses returns s with every address FindAddress would find
// (with a nil allowed) replaced: IP literals as ScrubIPs replaces them, and
// .local names by 0.0.0.0. Text that spells an address only once
// normalised (full-width, percent-encoded) is normalised and scrubbed; if
// after that an address can still be read, the result is "". Afterwards
// FindAddress(ScrubAddresses(s), nil) finds nothing. Text without an
// address is returned unchanged. Meant for free-form fields (app data,
// labels, debug values); a certificate fingerprint does not survive it.
//
// Safe for concurrent use.
func ScrubAddresses(s string) string {
	if !mayHoldAddress(s) {
		return s
	}
	out := scrubMDNS(ScrubIPs(s))
	for range maxScrubPasses {
		if _, found := FindAddress(out, nil); !found {
			return out
		}
		sp := spellings(out)
		out = scrubMDNS(ScrubIPs(sp[len(sp)-1]))
	}
	if _, found := FindAddress(out, nil); !found {
		return out
	}
	return ""
}

// scrubMDNS replaces every .local name in s by scrubbedName.
func scrubMDNS(s string) string {
	var b strings.Builder
	last := 0
	for {
		_, st, e, ok := nextMDNSName(s, last)
		if !ok {
			break
		}
		b.WriteString(s[last:st])
		b.WriteString(scrubbedName)
		last = e
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// ScrubAddressesDeep applies ScrubAddresses to every string and object key
// of a decoded JSON value (map[string]any, []any, string, float64,
// json.Number, bool, nil). A value nested deeper than 16 levels becomes nil;
// values of other types are returned as they are. Maps and slices are
// rebuilt, the input is not modified.
//
// Safe for concurrent use.
func ScrubAddressesDeep(v any) any { return scrubDeep(v, 0) }

func scrubDeep(v any, depth int) any {
	if depth > maxSanitizeDepth {
		return nil
	}
	switch x := v.(type) {
	case string:
		return ScrubAddresses(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrubDeep(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[ScrubAddresses(k)] = scrubDeep(e, depth+1)
		}
		return out
	default:
		return x
	}
}

// FindLeak applies the forced-relay invariant to s: it reports the first
// IP literal or .local name in s other than 0.0.0.0 and ::.
//
// One place may carry another address: the connection address of a relay
// candidate line ("candidate:..." or "a=candidate:...", alone on its line)
// that FilterRelayCandidate(line, true, trusted) keeps exactly as it is.
// With trusted set (the server's relay transport addresses) that is a
// relay address and port trusted accepts; with trusted nil (veil does not
// know its relay addresses: an external TURN server) it is whatever relay
// address the peer's TURN server gave it. Anywhere else, the relay
// addresses are leaks too: an address with no port cannot be judged.
//
// leak is an address: never log it. Safe for concurrent use if trusted is.
func FindLeak(s string, trusted func(netip.AddrPort) bool) (leak string, found bool) {
	if !strings.Contains(s, "candidate:") {
		return FindAddress(s, nil)
	}
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if leak, found = FindAddress(exemptRelayAddress(line, trusted), nil); found {
			return leak, true
		}
	}
	return "", false
}

// exemptRelayAddress returns line with the address of a kept relay
// candidate replaced by 0.0.0.0, or line itself.
func exemptRelayAddress(line string, trusted func(netip.AddrPort) bool) string {
	body, _ := strings.CutPrefix(line, "a=")
	body, ok := strings.CutPrefix(body, "candidate:")
	if !ok {
		return line
	}
	if out, keep := FilterRelayCandidate(line, true, trusted); !keep || out != line {
		return line
	}
	// The address field replaced, in one concatenation (Split and Join
	// were three allocations per relay candidate line).
	start := 0
	for range candFieldAddress {
		k := strings.IndexByte(body[start:], ' ')
		if k < 0 {
			return line // a kept candidate has more fields: cannot happen
		}
		start += k + 1
	}
	end := len(body)
	if k := strings.IndexByte(body[start:], ' '); k >= 0 {
		end = start + k
	}
	return "candidate:" + body[:start] + scrubbedIPv4 + body[end:]
}

// leakBufPool holds the buffers FindLeakJSON decodes escaped strings into.
var leakBufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledLeakBuf is the largest buffer returned to leakBufPool.
const maxPooledLeakBuf = 64 << 10

// FindLeakJSON applies FindLeak to every string of the JSON text b, object
// keys included, at any depth, each decoded (so "\u0031" is read as "1").
// Text that is not valid JSON is reported as a leak: what cannot be read
// cannot be shown to be clean.
//
// leak is an address: never log it. Safe for concurrent use if trusted is.
func FindLeakJSON(b []byte, trusted func(netip.AddrPort) bool) (leak string, found bool) {
	// One pass validates and yields every string decoded (jsonscan.go).
	// The frame and its decoded strings are read in place, not copied: b
	// is not written while this runs, the scan stops at the first leak,
	// and the leak is copied before it is returned.
	bp := leakBufPool.Get().(*[]byte)
	valid, stopped := scanJSONStrings(unsafe.String(unsafe.SliceData(b), len(b)), bp, func(s string) bool {
		leak, found = FindLeak(s, trusted)
		return !found
	})
	leak = strings.Clone(leak)
	if cap(*bp) <= maxPooledLeakBuf {
		leakBufPool.Put(bp)
	}
	switch {
	case stopped:
		return leak, true
	case !valid:
		return "invalid JSON", true
	}
	return "", false
}
