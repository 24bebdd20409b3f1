package privacy

import (
	"net/netip"
	"strings"
)

// maxIPLiteralLen is the longest textual IP address ScrubIPs looks for: a
// full IPv6 address with an embedded IPv4 tail
// ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 characters).
// Bounding candidates by it keeps ScrubIPs linear in the input length.
const maxIPLiteralLen = 45

// Replacements for scrubbed addresses: the unspecified address of each
// family, so the text keeps its shape and says plainly that an address was
// there.
const (
	scrubbedIPv4 = "0.0.0.0"
	scrubbedIPv6 = "::"
)

// ScrubIPs returns s with every IPv4 and IPv6 address literal replaced:
// IPv4 by 0.0.0.0, IPv6 (including IPv4-mapped and NAT64 forms) by ::.
//
// Candidates are runs of hex digits, dots and colons; each is validated
// with net/netip, so timestamps ("12:30:45.123"), version strings with an
// octet above 255 and UUIDs survive. The check errs on the side of privacy:
// dotted quads with leading zeros ("010.001.002.003") count as IPv4, an
// address glued to other digits or letters is still found ("ip1.2.3.4"),
// and anything that is a valid IPv6 literal is replaced even if it was
// meant as something else (eight colon-separated hex groups of a DTLS
// fingerprint, for instance). An IPv6 zone ("%eth0") is left in place
// without its address. The result is a fixed point: ScrubIPs(ScrubIPs(s))
// equals ScrubIPs(s).
//
// Safe for concurrent use.
func ScrubIPs(s string) string {
	// One pass can create a new literal where a replacement meets the text
	// before it ("2" + "56.1.2.3" -> "20.0.0.0"), so repeat until nothing
	// changes. Each change strictly lowers (non-zero digits, length), so the
	// loop ends; the bound is only a guard.
	for range len(s) + 1 {
		out := scrubIPsOnce(s)
		if out == s {
			return s
		}
		s = out
	}
	return s
}

func isIPChar(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') || c == '.' || c == ':'
}

func scrubIPsOnce(s string) string {
	if !strings.ContainsAny(s, ".:") {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] has been copied to b
	for i := 0; i < len(s); {
		if !isIPChar(s[i]) {
			i++
			continue
		}
		end := i
		for end < len(s) && isIPChar(s[end]) {
			end++
		}
		if out, ok := scrubRun(s[i:end]); ok {
			if last == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(out)
			last = end
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubRun replaces the leftmost-longest IP literals inside run, a maximal
// run of hex digits, dots and colons. ok is false when nothing was found.
func scrubRun(run string) (string, bool) {
	if strings.Count(run, ".") < 3 && strings.Count(run, ":") < 2 {
		return run, false
	}
	var b strings.Builder
	found := false
	for k := 0; k < len(run); {
		repl, n := longestIPAt(run[k:])
		if n == 0 {
			b.WriteByte(run[k])
			k++
			continue
		}
		found = true
		b.WriteString(repl)
		k += n
	}
	if !found {
		return run, false
	}
	return b.String(), true
}

// longestIPAt returns the replacement for, and length of, the longest IP
// literal at the start of s, or n == 0 if there is none.
func longestIPAt(s string) (repl string, n int) {
	limit := min(len(s), maxIPLiteralLen)
	for j := limit; j >= 2; j-- {
		if r, ok := ipLiteral(s[:j]); ok {
			return r, j
		}
	}
	return "", 0
}

// ipLiteral reports whether t is an IP address literal and what replaces it.
func ipLiteral(t string) (string, bool) {
	if strings.Contains(t, ":") {
		if _, err := netip.ParseAddr(t); err == nil {
			return scrubbedIPv6, true
		}
		return "", false
	}
	if len(t) < len("0.0.0.0") {
		return "", false
	}
	// netip rejects leading zeros, but many parsers (inet_aton, browsers)
	// read "010.001.002.003" as an address, so normalise before validating.
	parts := strings.Split(t, ".")
	if len(parts) != 4 {
		return "", false
	}
	for i, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return "", false
		}
		if q := strings.TrimLeft(p, "0"); q != p {
			if q == "" {
				q = "0"
			}
			parts[i] = q
		}
	}
	if a, err := netip.ParseAddr(strings.Join(parts, ".")); err == nil && a.Is4() {
		return scrubbedIPv4, true
	}
	return "", false
}
