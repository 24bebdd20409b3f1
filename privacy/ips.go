package privacy

import (
	"net/netip"
	"strings"
)

// maxIPLiteralLen is the longest textual IPv6 address ScrubIPs looks for: a
// full address with an embedded IPv4 tail
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
// Candidates are validated with net/netip, not matched by a loose pattern,
// so timestamps ("12:30:45.123"), dates, UUIDs, MAC addresses and version
// strings such as "128.0.6613.84" survive. Where text is ambiguous the
// check errs on the side of privacy, replacing the whole ambiguous run
// rather than leaving parts of an address behind:
//   - a run of hex digits, dots and colons that contains an IPv6 literal
//     anywhere is replaced as a whole by "::" ("[2001:db8::1]:443" becomes
//     "[::]:443"; a DTLS fingerprint, which contains eight colon-separated
//     hex groups, becomes "::" too);
//   - otherwise a run of digits and dots that contains four consecutive
//     decimal fields each no greater than 255 is replaced as a whole by
//     "0.0.0.0": leading zeros count, any number of them
//     ("010.001.002.003", "0001.0002.0003.0004"), and so
//     do overlapping forms ("1.2.3.4.5"), since other parsers read them as
//     addresses. Version strings made of four small numbers
//     ("Chrome/120.0.0.0") are replaced as well.
//
// An IPv6 zone ("%eth0") is left in place without its address. The result
// is a fixed point: ScrubIPs(ScrubIPs(s)) == ScrubIPs(s).
//
// Safe for concurrent use.
func ScrubIPs(s string) string {
	// A replacement can complete a literal in the text around it
	// ("1:2:3:4:5:6:01.2.3.4" -> "1:2:3:4:5:6:0.0.0.0"), so repeat until
	// nothing changes. Each change strictly lowers (non-zero digits,
	// length), so the loop ends; the bound is only a guard.
	for range len(s) + 1 {
		out := scrubIPsOnce(s)
		if out == s {
			return s
		}
		s = out
	}
	return s
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func scrubIPsOnce(s string) string {
	if !strings.ContainsAny(s, ".:") {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] has been copied to b
	for i := 0; i < len(s); {
		if !isHexDigit(s[i]) && s[i] != '.' && s[i] != ':' {
			i++
			continue
		}
		end := i
		for end < len(s) && (isHexDigit(s[end]) || s[end] == '.' || s[end] == ':') {
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

// scrubRun scrubs one maximal run of hex digits, dots and colons. ok is
// false when the run holds no address.
func scrubRun(run string) (string, bool) {
	if strings.Count(run, ":") >= 2 && containsIPv6(run) {
		return scrubbedIPv6, true
	}
	if strings.Count(run, ".") < 3 {
		return run, false
	}
	var b strings.Builder
	found := false
	last := 0
	for i := 0; i < len(run); {
		if !isDigit(run[i]) && run[i] != '.' {
			i++
			continue
		}
		end := i
		for end < len(run) && (isDigit(run[end]) || run[end] == '.') {
			end++
		}
		// Dots around the numbers are punctuation ("at 1.2.3.4."), keep them.
		lo, hi := i, end
		for lo < hi && run[lo] == '.' {
			lo++
		}
		for hi > lo && run[hi-1] == '.' {
			hi--
		}
		if containsDottedQuad(run[lo:hi]) {
			found = true
			b.WriteString(run[last:lo])
			b.WriteString(scrubbedIPv4)
			last = hi
		}
		i = end
	}
	if !found {
		return run, false
	}
	b.WriteString(run[last:])
	return b.String(), true
}

// containsIPv6 reports whether any substring of run is an IPv6 literal.
func containsIPv6(run string) bool {
	for i := 0; i < len(run); i++ {
		if !isHexDigit(run[i]) && run[i] != ':' {
			continue
		}
		for j := min(len(run), i+maxIPLiteralLen); j >= i+2; j-- {
			if !isHexDigit(run[j-1]) && run[j-1] != ':' {
				continue
			}
			t := run[i:j]
			if !strings.Contains(t, ":") {
				break // shorter prefixes have no colon either
			}
			if a, err := netip.ParseAddr(t); err == nil && a.Is6() {
				return true
			}
		}
	}
	return false
}

// containsDottedQuad reports whether the digits-and-dots text t has four
// consecutive dot-separated decimal fields, each at most 255: an IPv4
// address as netip reads it once leading zeros are dropped.
func containsDottedQuad(t string) bool {
	run := 0
	for f := range strings.SplitSeq(t, ".") {
		if isOctet(f) {
			run++
			if run == 4 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func isOctet(f string) bool {
	_, ok := octetValue(f)
	return ok
}

// octetValue reads a dotted-quad field: decimal digits, any number of
// leading zeros, at most 255. It allocates nothing.
func octetValue(f string) (byte, bool) {
	if f == "" {
		return 0, false
	}
	// Any number of leading zeros: WHATWG URL parsing reads
	// "0001.0002.0003.0004" as 1.2.3.4.
	f = strings.TrimLeft(f, "0")
	if len(f) > 3 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(f); i++ {
		if !isDigit(f[i]) {
			return 0, false
		}
		v = v*10 + int(f[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}
