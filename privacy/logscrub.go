package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// minIdentifierLen is the shortest run of identifier characters
// (letters, digits, '-' and '_') ScrubLog replaces by its Redact tag. veil's
// peer ids are 24 (native, VDO.Ninja) or 36 (PeerJS) such characters, TURN
// user names end in one, and a token's base64url segments are longer still;
// English words and pion's own vocabulary are shorter.
const minIdentifierLen = 20

// ScrubLog returns a log line from a library (pion, net/http, crypto/tls)
// fit for veil's logs at any level: every IP address literal is replaced
// as by ScrubIPs, the port that follows a replaced address becomes 0
// ("198.51.100.7:52100" -> "0.0.0.0:0", "[2001:db8::1]:443" -> "[::]:0"),
// and every run of at least 20 identifier characters (letters, digits,
// '-', '_': peer ids, TURN user names, token segments, hex dumps of
// addresses) is replaced by its Redact tag. Libraries put these in
// messages of every level in shapes veil does not control, so the whole
// line is scrubbed rather than chosen fields. A user-chosen short name is
// not recognisable here; veil never hands one to a library logger. Pure
// and safe for concurrent use.
func ScrubLog(s string) string {
	s = ScrubIPs(s)
	s = zeroPortsAfter(s, scrubbedIPv4+":")
	s = zeroPortsAfter(s, "["+scrubbedIPv6+"]:")
	s = redactIdentifiers(s)
	// A Redact tag ends in hex digits, which can join what follows into a
	// new address ("~168ada88" + ".0.0.0"): scrub until nothing changes.
	for range maxScrubPasses {
		t := ScrubIPs(s)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// zeroPortsAfter replaces the port after each occurrence of prefix by 0.
func zeroPortsAfter(s, prefix string) string {
	if !strings.Contains(s, prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+len(prefix)])
		s = s[i+len(prefix):]
		j := 0
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		// Digits followed by '.' start another (scrubbed) address, not a
		// port: leave them for the next search.
		if j > 0 && (j == len(s) || s[j] != '.') {
			b.WriteByte('0')
			s = s[j:]
		}
	}
}

func isIdentByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// redactIdentifiers replaces runs of at least minIdentifierLen identifier
// characters by their Redact tag.
func redactIdentifiers(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isIdentByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		if j-i >= minIdentifierLen {
			b.WriteString(s[last:i])
			b.WriteString(Redact(s[i:j]))
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Configured marks a value taken from the operator's own configuration (a
// listen address, the relay address, a URL built from them) that
// ScrubHandler logs as it is, so start-up can tell a person where veil
// listens. Never wrap anything a client sent or anything derived from a
// client's connection.
type Configured string

// ScrubHandler wraps h so that every record's message and every string,
// error and fmt.Stringer attribute value (in groups too) goes through
// ScrubLog before h sees it: a last line of defence for logs at every
// level, including what libraries and error values carry (a listen
// error names an address, a TLS error the client's). Numbers, booleans,
// durations and times pass unchanged. Safe for concurrent use if h is.
func ScrubHandler(h slog.Handler) slog.Handler { return scrubHandler{h} }

type scrubHandler struct{ h slog.Handler }

func (s scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, ScrubLog(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = scrubAttr(a)
	}
	return scrubHandler{s.h.WithAttrs(scrubbed)}
}

func (s scrubHandler) WithGroup(name string) slog.Handler { return scrubHandler{s.h.WithGroup(name)} }

func scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, ScrubLog(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, g := range as {
			out[i] = scrubAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case Configured:
			return slog.String(a.Key, string(x))
		case error:
			return slog.String(a.Key, ScrubLog(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, ScrubLog(x.String()))
		default:
			return slog.String(a.Key, ScrubLog(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
