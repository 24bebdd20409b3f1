package signaling

import (
	"unicode"
	"unicode/utf8"
)

// validName reports whether s is a usable room or stream name: 1 to max
// bytes of printable UTF-8.
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
