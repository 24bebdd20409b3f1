package privacy

import (
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A one-pass JSON scanner for FindLeakJSON: it validates a document as
// encoding/json's json.Valid does and hands each string (object keys
// included) to a callback, decoded as json.Unmarshal decodes it. The
// forced-relay check runs on every forwarded frame, and json.Valid
// followed by a json.Unmarshal of each escaped string walked a 4 KB offer
// twice more than needed. FuzzScanJSONMatchesEncodingJSON holds it to
// encoding/json.

// maxJSONDepth is encoding/json's nesting limit: a document nested deeper
// is not valid to json.Valid.
const maxJSONDepth = 10000

// scanJSON reports whether doc is one valid JSON value (surrounded by
// optional white space), calling str for every string in document order
// until it returns false. An escaped string is decoded the way
// json.Unmarshal decodes it (invalid UTF-8 and unpaired surrogates become
// U+FFFD); an unescaped one is passed as it is, bytes and all, as a
// substring of doc. stopped is true when str stopped the scan,
// which leaves valid undecided (false).
func scanJSON(doc string, str func(s string) bool) (valid, stopped bool) {
	return scanJSONStrings(doc, nil, str)
}

// scanJSONStrings is scanJSON; with a non-nil borrow, decoded escaped
// strings go into *borrow (grown as needed and left there for the caller
// to reuse) and are handed to str in place, without a copy per escaped
// string: str must not keep one, nor anything cut from it, past its return
// unless it copies it, and must stop the scan (return false) when it keeps
// one; the caller copies it before reusing *borrow (FindLeakJSON).
func scanJSONStrings(doc string, borrow *[]byte, str func(s string) bool) (valid, stopped bool) {
	var (
		stackBuf [64]byte // '{' or '[' per open container
		stack    = stackBuf[:0]
		buf      []byte // decoded escaped strings
	)
	if borrow != nil {
		buf = (*borrow)[:0]
		defer func() { *borrow = buf[:0] }()
	}
	i := skipWS(doc, 0)
	for {
		// A value starts at i.
		if i >= len(doc) {
			return false, false
		}
		switch c := doc[i]; {
		case c == '{' || c == '[':
			if len(stack) == maxJSONDepth {
				return false, false
			}
			stack = append(stack, c)
			i = skipWS(doc, i+1)
			if i < len(doc) && doc[i] == c+2 { // '}' or ']': empty
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				var ok bool
				if i, ok = scanKey(doc, i, &buf, borrow != nil, str, &stopped); !ok {
					return false, stopped
				}
			}
			continue
		case c == '"':
			end, esc := scanString(doc, i)
			if end < 0 {
				return false, false
			}
			s := doc[i+1 : end-1]
			if esc {
				buf = appendUnquoted(buf[:0], s)
				s = bufString(buf, borrow != nil)
			}
			if !str(s) {
				return false, true
			}
			i = end
		case c == '-' || isDigit(c):
			if i = scanNumber(doc, i); i < 0 {
				return false, false
			}
		case c == 't':
			if i = scanLiteral(doc, i, "true"); i < 0 {
				return false, false
			}
		case c == 'f':
			if i = scanLiteral(doc, i, "false"); i < 0 {
				return false, false
			}
		case c == 'n':
			if i = scanLiteral(doc, i, "null"); i < 0 {
				return false, false
			}
		default:
			return false, false
		}
		// After a value: close containers, or a comma and the next value.
		for {
			i = skipWS(doc, i)
			if len(stack) == 0 {
				return i == len(doc), false
			}
			if i >= len(doc) {
				return false, false
			}
			top := stack[len(stack)-1]
			if doc[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if doc[i] != ',' {
				return false, false
			}
			i = skipWS(doc, i+1)
			if top == '{' {
				var ok bool
				if i, ok = scanKey(doc, i, &buf, borrow != nil, str, &stopped); !ok {
					return false, stopped
				}
			}
			break
		}
	}
}

// scanKey reads `"key" :` at i and returns where the value starts.
func scanKey(doc string, i int, buf *[]byte, borrow bool, str func(string) bool, stopped *bool) (int, bool) {
	if i >= len(doc) || doc[i] != '"' {
		return 0, false
	}
	end, esc := scanString(doc, i)
	if end < 0 {
		return 0, false
	}
	s := doc[i+1 : end-1]
	if esc {
		*buf = appendUnquoted((*buf)[:0], s)
		s = bufString(*buf, borrow)
	}
	if !str(s) {
		*stopped = true
		return 0, false
	}
	i = skipWS(doc, end)
	if i >= len(doc) || doc[i] != ':' {
		return 0, false
	}
	return skipWS(doc, i+1), true
}

func skipWS(doc string, i int) int {
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

// scanString validates the string starting at doc[i] == '"' and returns
// the index after its closing quote (-1: invalid) and whether it holds an
// escape.
func scanString(doc string, i int) (end int, escaped bool) {
	for j := i + 1; j < len(doc); j++ {
		j += plainRun(doc, j) // the bulk of an SDP: no quote, backslash or control byte
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
				if j+5 >= len(doc) || !isHex4(doc[j+2:j+6]) {
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

// strPlain marks the bytes a JSON string holds as they are: not '"', not
// '\\', not a control byte (encoding/json does not check UTF-8 here).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanNumber validates the number at doc[i] and returns the index after it.
func scanNumber(doc string, i int) int {
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

func scanLiteral(doc string, i int, lit string) int {
	if len(doc)-i < len(lit) || doc[i:i+len(lit)] != lit {
		return -1
	}
	return i + len(lit)
}

// appendUnquoted appends the JSON string body s (valid, without its
// quotes) decoded as encoding/json decodes it: escapes resolved, a UTF-16
// surrogate pair joined, an unpaired surrogate and each byte of invalid
// UTF-8 written as U+FFFD.
func appendUnquoted(b []byte, s string) []byte {
	b = slices.Grow(b, len(s))
	for r := 0; r < len(s); {
		// Copy up to the next escape in one piece when it is valid UTF-8.
		k := strings.IndexByte(s[r:], '\\')
		if k < 0 {
			k = len(s) - r
		}
		if chunk := s[r : r+k]; utf8.ValidString(chunk) {
			b = append(b, chunk...)
		} else {
			for _, rr := range chunk { // each invalid byte reads as U+FFFD
				b = utf8.AppendRune(b, rr)
			}
		}
		r += k
		if r >= len(s) {
			break
		}
		// s[r] is a backslash starting a valid escape.
		switch s[r+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			rr := hex4(s[r+2 : r+6])
			r += 6
			if utf16.IsSurrogate(rr) {
				if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' && isHex4(s[r+2:r+6]) {
					if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						r += 6
						continue
					}
				}
				rr = utf8.RuneError
			}
			b = utf8.AppendRune(b, rr)
			continue
		default: // '"', '\\', '/'
			b = append(b, s[r+1])
		}
		r += 2
	}
	return b
}

func isHex4(s string) bool {
	return isHexDigit(s[0]) && isHexDigit(s[1]) && isHexDigit(s[2]) && isHexDigit(s[3])
}

func hex4(s string) rune {
	return rune(unhex(s[0]))<<12 | rune(unhex(s[1]))<<8 | rune(unhex(s[2]))<<4 | rune(unhex(s[3]))
}

// plainRun returns how many bytes from doc[j] on are plain string bytes
// (not '"', not '\\', not a control byte), eight at a time while it can:
// a JSON string's bulk (an SDP) is long runs of them.
func plainRun(doc string, j int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	start := j
	for ; j+8 <= len(doc); j += 8 {
		w := uint64(doc[j]) | uint64(doc[j+1])<<8 | uint64(doc[j+2])<<16 | uint64(doc[j+3])<<24 |
			uint64(doc[j+4])<<32 | uint64(doc[j+5])<<40 | uint64(doc[j+6])<<48 | uint64(doc[j+7])<<56
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

// bufString is buf as a string: copied, or (borrow) read in place.
func bufString(buf []byte, borrow bool) string {
	if borrow {
		return unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	return string(buf)
}
