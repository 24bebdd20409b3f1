package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf8"

	"github.com/veilrtc/veil/signaling/hub"
)

// MaxFrameGrowth bounds how much larger a forwarded frame may be than the
// client message it came from: the envelope veil writes around a payload
// (the sender's id in place of the recipient's, the type) is at most a few
// hundred bytes. A payload that would grow more when re-encoded (numbers
// spelled short and written long, values replaced by null) is refused with
// bad-message, so a client cannot make veil queue more than it sent.
const MaxFrameGrowth = 512

// errTrailingData: a payload holds more than one JSON value.
var errTrailingData = errors.New("signaling: data after the JSON value")

// errFrameGrowth refuses a message whose forwarded form would outgrow it.
var errFrameGrowth = &hub.Error{Code: hub.CodeBadMessage, Message: "message would grow when forwarded; send it as it would be forwarded"}

// CheckGrowth is nil when a frame of out bytes forwarded for a client
// message of in bytes stays within MaxFrameGrowth of it.
func CheckGrowth(in, out int) error {
	if out > in+MaxFrameGrowth {
		return errFrameGrowth
	}
	return nil
}

// marshal encodes v as compact JSON the way it goes on the wire. Unlike
// json.Marshal it does not escape <, > and & (each would become six
// bytes: a 64 KiB message of '<' left as 384 KiB) nor U+2028 and U+2029
// (three bytes that would become six). JSON allows all of them raw; the
// frames are never embedded in HTML.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return unescapeLineSeparators(b), nil
}

// unescapeLineSeparators writes the escapes \u2028 and \u2029 of encoder
// output as the characters themselves. In encoder output a backslash only
// ever starts an escape inside a string, so skipping each escape's second
// byte keeps "\\u2028" (an escaped backslash, then text) as it is.
func unescapeLineSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			out = append(out, 0xe2, 0x80, 0xa8+(b[i+5]-'8'))
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// UnmarshalAny decodes raw into a generic value, keeping numbers as
// json.Number so they are re-encoded exactly as sent (a float64 would turn
// "1e20" into 21 digits).
func UnmarshalAny(raw []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Whitespace may follow the value; anything else is not one document.
	if len(bytes.Trim(raw[dec.InputOffset():], " \t\r\n")) != 0 {
		return errTrailingData
	}
	return nil
}

// ValidName reports whether s is a usable room or stream name (or any
// other short client text: a session tag): 1 to max bytes of printable
// UTF-8.
func ValidName(s string, max int) bool {
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

// SessionDesc is an RTCSessionDescription as every dialect carries it.
type SessionDesc struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// Candidate is an RTCIceCandidate as every dialect carries it. Unknown
// fields are dropped by construction: forwarded candidates are rebuilt
// from these.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}
