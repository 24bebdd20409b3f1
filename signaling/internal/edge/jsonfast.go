package edge

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A one-pass reader and writer for the frames on the hot path (issue #14,
// phase 2): a client's signal is validated and its fields located in one
// scan, without maps or reflection, the SDP unescaped once and the
// filtered SDP escaped once into the outgoing frame.
//
// It is a fast path, not a second decoder: it accepts only what it can
// decode exactly as encoding/json does, and answers ok=false for anything
// else (invalid JSON, a key that encoding/json would match only
// case-insensitively or through an escape, an escape it does not handle,
// nesting deeper than maxFastDepth). The caller then takes the
// encoding/json path, which decides and words every error, so error
// codes and behaviour stay those of encoding/json. FuzzFieldsMatchEncodingJSON
// and the dialects' differential fuzz tests hold it to that.

// maxFastDepth bounds the nesting the fast path follows; deeper documents
// go to encoding/json (whose own limit is 10 000).
const maxFastDepth = 64

// Fields validates doc as one JSON object (json.Valid's grammar, with
// optional white space around it) and sets vals[i] to the raw bytes of
// the value of top-level key keys[i] (the last one when a key repeats, as
// encoding/json keeps), nil when absent. keys must be ASCII. ok=false
// when doc is not such an object or when the fast path must not decide:
// a key that holds an escape or a non-ASCII byte, or that equals one of
// keys only case-insensitively (encoding/json would match it to the
// field). vals are subslices of doc.
func Fields(doc []byte, keys []string, vals [][]byte) (ok bool) {
	return fields(doc, keys, vals, false)
}

// FieldsOf is Fields for a value already validated (a subslice Fields
// returned, or a json.RawMessage encoding/json decoded): it finds the ends
// of strings with a vectorised search instead of validating them again.
// On other input it may return wrong values, never panic.
func FieldsOf(doc []byte, keys []string, vals [][]byte) (ok bool) {
	return fields(doc, keys, vals, true)
}

func fields(doc []byte, keys []string, vals [][]byte, valid bool) (ok bool) {
	for i := range vals {
		vals[i] = nil
	}
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return skipWS(doc, i+1) == len(doc)
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return false
		}
		end, esc := scanStr(doc, i, valid)
		if end < 0 || esc {
			return false
		}
		key := doc[i+1 : end-1]
		idx, ok := matchKey(key, keys)
		if !ok {
			return false
		}
		i = skipWS(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return false
		}
		i = skipWS(doc, i+1)
		start := i
		if i = skipValue(doc, i, 1, valid); i < 0 {
			return false
		}
		if idx >= 0 {
			vals[idx] = doc[start:i]
		}
		i = skipWS(doc, i)
		if i >= len(doc) {
			return false
		}
		switch doc[i] {
		case ',':
			i = skipWS(doc, i+1)
		case '}':
			return skipWS(doc, i+1) == len(doc)
		default:
			return false
		}
	}
}

// matchKey returns the index of key in keys (-1: none of them). ok=false
// when encoding/json could match key to one of keys other than exactly:
// a non-ASCII byte (Unicode folding: U+212A KELVIN SIGN is a 'k') or an
// ASCII case-insensitive match.
func matchKey(key []byte, keys []string) (idx int, ok bool) {
	for i, k := range keys {
		if string(key) == k {
			return i, true
		}
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return -1, false
		}
	}
	for _, k := range keys {
		if strings.EqualFold(string(key), k) {
			return -1, false
		}
	}
	return -1, true
}

// PlainString returns the string a raw JSON value holds when it is a
// string without escapes; ok=false for anything else (an escaped string,
// null, another type). raw must come from Fields (validated).
func PlainString(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			return "", false
		}
	}
	return string(body), true
}

// AppendUnquoted appends the string a raw JSON string value holds,
// decoded as encoding/json decodes it. ok=false when raw is no string or
// holds an escape the fast path leaves to encoding/json (\u of a UTF-16
// surrogate, which encoding/json pairs or replaces). raw must come from
// Fields (validated) and, like every frame, be valid UTF-8.
func AppendUnquoted(dst, raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return dst, false
	}
	s := raw[1 : len(raw)-1]
	for len(s) > 0 {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:k]...)
		s = s[k:]
		// s[0] is a backslash starting a valid escape (validated).
		switch s[1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(unhex(s[2]))<<12 | rune(unhex(s[3]))<<8 | rune(unhex(s[4]))<<4 | rune(unhex(s[5]))
			if 0xd800 <= r && r < 0xe000 {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			s = s[6:]
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[1])
		}
		s = s[2:]
	}
	return dst, true
}

// AppendQuoted appends s as a JSON string exactly as Marshal writes it:
// '"' and '\\' escaped, control bytes as \b \f \n \r \t or \u00XX, each
// byte of invalid UTF-8 as \ufffd, everything else (<, >, &, U+2028,
// U+2029 included) as it is.
func AppendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		i += asciiRun(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func skipWS(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue validates the value starting at doc[i] and returns the index
// after it, -1 when it is invalid or nested deeper than maxFastDepth.
func skipValue(doc []byte, i, depth int, valid bool) int {
	if i >= len(doc) {
		return -1
	}
	switch c := doc[i]; {
	case c == '"':
		end, _ := scanStr(doc, i, valid)
		return end
	case c == '{' || c == '[':
		if depth >= maxFastDepth {
			return -1
		}
		i = skipWS(doc, i+1)
		if i < len(doc) && doc[i] == c+2 { // '}' or ']': empty
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(doc) || doc[i] != '"' {
					return -1
				}
				if i, _ = scanStr(doc, i, valid); i < 0 {
					return -1
				}
				i = skipWS(doc, i)
				if i >= len(doc) || doc[i] != ':' {
					return -1
				}
				i = skipWS(doc, i+1)
			}
			if i = skipValue(doc, i, depth+1, valid); i < 0 {
				return -1
			}
			i = skipWS(doc, i)
			if i >= len(doc) {
				return -1
			}
			switch doc[i] {
			case ',':
				i = skipWS(doc, i+1)
			case c + 2:
				return i + 1
			default:
				return -1
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return scanNumber(doc, i)
	case c == 't':
		return scanLiteral(doc, i, "true")
	case c == 'f':
		return scanLiteral(doc, i, "false")
	case c == 'n':
		return scanLiteral(doc, i, "null")
	}
	return -1
}

// scanStr is scanString, or findString for a validated document.
func scanStr(doc []byte, i int, valid bool) (end int, escaped bool) {
	if valid {
		return findString(doc, i)
	}
	return scanString(doc, i)
}

// findString returns the end of the string starting at doc[i] == '"' in
// a validated document, and whether it holds an escape: the first quote
// not escaped by an odd run of backslashes.
func findString(doc []byte, i int) (end int, escaped bool) {
	j := i + 1
	for j < len(doc) {
		k := bytes.IndexByte(doc[j:], '"')
		if k < 0 {
			return -1, false
		}
		q := j + k
		n := 0
		for q-1-n > i && doc[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1, escaped || bytes.IndexByte(doc[i+1:q], '\\') >= 0
		}
		escaped = true
		j = q + 1
	}
	return -1, false
}

// scanString validates the string starting at doc[i] == '"' and returns
// the index after its closing quote (-1: invalid) and whether it holds an
// escape. Like encoding/json's scanner it does not check UTF-8 (frames
// are checked whole first).
func scanString(doc []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(doc); j++ {
		j += plainRun(doc, j)
		if j >= len(doc) {
			break
		}
		switch c := doc[j]; {
		case c == '"':
			return j + 1, escaped
		case c == '\\':
			escaped = true
			if j+1 >= len(doc) {
				return -1, false
			}
			switch doc[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(doc) || !isHex(doc[j+2]) || !isHex(doc[j+3]) || !isHex(doc[j+4]) || !isHex(doc[j+5]) {
					return -1, false
				}
				j += 5
			default:
				return -1, false
			}
		default: // a control byte
			return -1, false
		}
	}
	return -1, false
}

// strPlain marks the bytes a JSON string holds as they are.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// scanNumber validates the number at doc[i] and returns the index after it.
func scanNumber(doc []byte, i int) int {
	if doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && '1' <= doc[i] && doc[i] <= '9':
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if i >= len(doc) || !isDigit(doc[i]) {
			return -1
		}
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if i >= len(doc) || !isDigit(doc[i]) {
			return -1
		}
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	}
	return i
}

func scanLiteral(doc []byte, i int, lit string) int {
	if len(doc)-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// DecodeFields is the fast path of Decode for a message whose fields are
// all of keys: the frame is valid UTF-8 and a JSON object Fields can
// read. ok=false: call Decode, which decides and words the error.
func DecodeFields(b []byte, keys []string, vals [][]byte) (ok bool) {
	return utf8.Valid(b) && Fields(b, keys, vals)
}

// StringField sets *dst to the string a raw value from Fields holds when
// it is a string without escapes; an absent (nil) value leaves *dst as it
// is, as encoding/json leaves an absent field. ok=false for anything else
// (null, another type, an escaped string): the fast path does not decide.
func StringField(raw []byte, dst *string) (ok bool) {
	if raw == nil {
		return true
	}
	s, ok := PlainString(raw)
	if ok {
		*dst = s
	}
	return ok
}

// AppendCompact appends a raw JSON value from Fields as Marshal writes a
// json.RawMessage field: compacted (white space outside strings removed,
// nothing escaped), with \u2028 and \u2029 escapes written as the
// characters (see Marshal).
func AppendCompact(dst, raw []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return append(dst, raw...) // validated by Fields: cannot happen
	}
	return append(dst, unescapeLineSeparators(buf.Bytes())...)
}

// plainRun returns how many bytes from doc[j] on are plain string bytes
// (not '"', not '\\', not a control byte), eight at a time while it can:
// a JSON string's bulk (an SDP) is long runs of them.
func plainRun(doc []byte, j int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	start := j
	for ; j+8 <= len(doc); j += 8 {
		w := binary.LittleEndian.Uint64(doc[j:])
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		// A byte is flagged when it is zero after the XOR (a quote or a
		// backslash) or below 0x20; bytes >= 0x80 are never flagged.
		if ((q-ones)&^q|(b-ones)&^b|(w-ones*0x20)&^w)&highs != 0 {
			break
		}
	}
	for j < len(doc) && strPlain[doc[j]] {
		j++
	}
	return j - start
}

// asciiRun returns how many bytes from s[i] on AppendQuoted writes as
// they are without looking closer: ASCII, not '"', not '\\', not a
// control byte; eight at a time while it can.
func asciiRun(s string, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	start := i
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		if (w|(q-ones)&^q|(b-ones)&^b|(w-ones*0x20)&^w)&highs != 0 {
			break
		}
	}
	return i - start
}
