// Package privacytest is an independent checker of the forced-relay invariant
// for veil's tests: no IP literal and no .local name other than the
// server's relay addresses (as the address of a relay candidate) and
// 0.0.0.0/:: in anything forwarded.
//
// # Overview
//
// It shares no code with privacy.FindAddress on purpose: it splits text
// into tokens of hex digits, dots and colons and asks net/netip whether a
// token (or the token without surrounding punctuation, or with a port) is
// an address, the way a parser reading a field would. The privacy package
// must find at least what this package finds; tests and fuzz targets
// assert it on arbitrary input.
//
// # Concurrency
//
// All functions are safe for concurrent use.
package privacytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
)

// Strings returns every string of the JSON text b, object keys included,
// decoded, at any depth.
func Strings(b []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out []string
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return out, nil
			}
			return nil, err
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

// FindJSON returns the first address Find reports in any string of the
// JSON text b; invalid JSON is an error.
func FindJSON(b []byte, trusted func(netip.AddrPort) bool) (string, error) {
	ss, err := Strings(b)
	if err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	for _, s := range ss {
		if leak := Find(s, trusted); leak != "" {
			return leak, nil
		}
	}
	return "", nil
}

// Find returns the first IP literal or .local name in s other than
// 0.0.0.0 and ::, or "". The connection address of a relay candidate line
// (as pion parses it) is not counted when trusted is nil (the server
// cannot know an external TURN server's relay addresses) or accepts its
// UDP transport address (address and port); no other address is trusted.
// s is also read with full-width characters folded and percent escapes
// decoded.
func Find(s string, trusted func(netip.AddrPort) bool) string {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		line = exemptRelay(line, trusted)
		variants := []string{line, fold(line)}
		if u, err := url.PathUnescape(variants[1]); err == nil {
			variants = append(variants, u)
		}
		variants = append(variants, unescape(variants[len(variants)-1]))
		for _, v := range variants {
			if leak := findLine(v); leak != "" {
				return leak
			}
		}
	}
	return ""
}

var escapeRe = regexp.MustCompile(`\\u[0-9a-fA-F]{4}|&#[0-9]{1,7};|&#[xX][0-9a-fA-F]{1,6};`)

// unescape decodes JSON-style \uXXXX escapes and HTML character references.
func unescape(s string) string {
	return escapeRe.ReplaceAllStringFunc(s, func(m string) string {
		var v int64
		switch {
		case strings.HasPrefix(m, "&#x"), strings.HasPrefix(m, "&#X"):
			v, _ = strconv.ParseInt(m[3:len(m)-1], 16, 32)
		case strings.HasPrefix(m, "&#"):
			v, _ = strconv.ParseInt(m[2:len(m)-1], 10, 32)
		default:
			v, _ = strconv.ParseInt(m[2:], 16, 32)
		}
		return string(rune(v))
	})
}

func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '。' || r == '．' || r == '｡':
			return '.'
		case r >= '！' && r <= '～':
			return r - '！' + '!'
		}
		return r
	}, s)
}

func exemptRelay(line string, trusted func(netip.AddrPort) bool) string {
	body := strings.TrimPrefix(line, "a=")
	if !strings.HasPrefix(body, "candidate:") {
		return line
	}
	c, err := ice.UnmarshalCandidate(body)
	if err != nil || c.Type() != ice.CandidateTypeRelay {
		return line
	}
	f := strings.Split(strings.TrimPrefix(body, "candidate:"), " ")
	if len(f) < 6 || f[4] != c.Address() {
		return line
	}
	if trusted != nil {
		a, err := netip.ParseAddr(c.Address())
		if err != nil || !c.NetworkType().IsUDP() || f[5] != strconv.Itoa(c.Port()) ||
			!trusted(netip.AddrPortFrom(a.Unmap(), uint16(c.Port()))) { //nolint:gosec // pion parsed a 16-bit port
			return line
		}
	}
	f[4] = "0.0.0.0"
	return "candidate:" + strings.Join(f, " ")
}

func isTok(r rune) bool {
	return ('0' <= r && r <= '9') || ('a' <= r && r <= 'f') || ('A' <= r && r <= 'F') || r == '.' || r == ':'
}

func findLine(line string) string {
	for _, tok := range strings.FieldsFunc(line, func(r rune) bool { return !isTok(r) }) {
		for _, t := range []string{tok, strings.Trim(tok, ".:"), strings.TrimRight(tok, ".")} {
			if a, ok := parse(t); ok {
				a = a.Unmap()
				if !a.IsUnspecified() {
					return t
				}
			}
		}
	}
	low := []byte(line) // ASCII lower case, same length as line
	for i, c := range low {
		if 'A' <= c && c <= 'Z' {
			low[i] = c + 'a' - 'A'
		}
	}
	for i := bytes.Index(low, []byte(".local")); i >= 0; {
		end := i + len(".local")
		before := i > 0 && isLabel(low[i-1])
		after := end < len(low) && isLabel(low[end])
		under := end+1 < len(low) && low[end] == '.' && isLabel(low[end+1])
		if before && !after && !under {
			return line[:end]
		}
		j := bytes.Index(low[i+1:], []byte(".local"))
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return ""
}

func isLabel(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c >= 0x80
}

// parse reads t as an address, an address with a port, or a dotted quad
// with leading zeros (which inet_aton-style parsers accept).
func parse(t string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(t); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(t); err == nil {
		return ap.Addr(), true
	}
	if host, _, ok := strings.Cut(t, ":"); ok && strings.Count(t, ":") == 1 {
		t = host
	}
	f := strings.Split(t, ".")
	if len(f) != 4 {
		return netip.Addr{}, false
	}
	for i, x := range f {
		if len(x) == 0 || len(x) > 3 || strings.Trim(x, "0123456789") != "" {
			return netip.Addr{}, false
		}
		if x = strings.TrimLeft(x, "0"); x == "" {
			x = "0"
		}
		f[i] = x
	}
	a, err := netip.ParseAddr(strings.Join(f, "."))
	return a, err == nil
}
