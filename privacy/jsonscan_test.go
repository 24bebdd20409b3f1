package privacy

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+3`, `true`, `null`, ` {"a" : [1, 2, {"b":"c"}], "d":"\u0031.2.3.4"} `,
	`{"type":"signal","from":"x","data":{"sdp":{"type":"offer","sdp":"v=0\r\nc=IN IP4 192.168.1.2\r\n"}}}`,
	`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, "\"\xff\xfe\"", `"\/\b\f\n\r\t\"\\"`,
	`{"a":1,}`, `[1,]`, `01`, `1.`, `-`, `1e`, `"\x"`, `"\u12"`, "\"a\x01\"", `{"a"}`, `{"a":}`, `[1 2]`, `{} {}`, `tru`, `nul`,
	`{"a":"1.2.3.4"}`, `{"1.2.3.4":"a"}`, `["fe80::1", "x.local"]`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
}

// FuzzScanJSONMatchesEncodingJSON holds scanJSON to encoding/json: valid
// exactly when json.Valid says so, and the strings it yields are those
// json.Unmarshal decodes (for escaped ones) or the raw bytes (unescaped),
// in document order.
func FuzzScanJSONMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var got []string
		valid, stopped := scanJSON(doc, func(s string) bool { got = append(got, s); return true })
		if stopped {
			t.Fatal("stopped without being asked")
		}
		if valid != json.Valid([]byte(doc)) {
			t.Fatalf("%q: scanJSON valid=%v, json.Valid=%v", doc, valid, !valid)
		}
		if !valid {
			return
		}
		want := jsonStringsRef(t, doc)
		if len(want) != len(got) {
			t.Fatalf("%q: strings %q, want %q", doc, got, want)
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("%q: string %d is %q, want %q", doc, i, got[i], want[i])
			}
		}
	})
}

// jsonStringsRef lists the strings of a valid document as the old
// FindLeakJSON read them: unescaped ones as raw bytes, escaped ones
// through json.Unmarshal.
func jsonStringsRef(t *testing.T, doc string) []string {
	var out []string
	b := []byte(doc)
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		j, escaped := i+1, false
		for ; j < len(b) && b[j] != '"'; j++ {
			if b[j] == '\\' {
				escaped = true
				j++
			}
		}
		s := string(b[i+1 : j])
		if escaped {
			if err := json.Unmarshal(b[i:j+1], &s); err != nil {
				t.Fatalf("%q: %v", b[i:j+1], err)
			}
		}
		out = append(out, s)
		i = j
	}
	return out
}

// FuzzFindLeakJSONMatchesRef holds FindLeakJSON to its previous
// implementation (json.Valid, then json.Unmarshal of each escaped string).
func FuzzFindLeakJSONMatchesRef(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	ours := netip.MustParseAddrPort("198.51.100.20:61234")
	trusted := func(a netip.AddrPort) bool { return a == ours }
	f.Fuzz(func(t *testing.T, doc string) {
		for _, tr := range []func(netip.AddrPort) bool{nil, trusted} {
			_, want := findLeakJSONRef([]byte(doc), tr)
			if _, got := FindLeakJSON([]byte(doc), tr); got != want {
				t.Fatalf("%q: FindLeakJSON found=%v, before %v", doc, got, want)
			}
		}
	})
}

func TestScanJSONSeeds(t *testing.T) {
	for _, doc := range jsonSeeds {
		valid, _ := scanJSON(doc, func(string) bool { return true })
		assert.Equal(t, json.Valid([]byte(doc)), valid, "%.80q", doc)
		_, want := findLeakJSONRef([]byte(doc), nil)
		_, got := FindLeakJSON([]byte(doc), nil)
		assert.Equal(t, want, got, "%.80q", doc)
	}
}

func BenchmarkFindLeakJSON(b *testing.B) {
	sdp := "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + strings.Repeat("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n", 50) +
		"a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 0.0.0.0 rport 0 generation 0\r\n"
	frame := []byte(`{"type":"signal","from":"abcdefghijklmnopqrstuvwx","data":{"sdp":{"type":"offer","sdp":"` + sdp + `"}}}`)
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			findLeakJSONRef(frame, nil)
		}
	})
	b.Run("after", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			FindLeakJSON(frame, nil)
		}
	})
}

// findLeakJSONRef is FindLeakJSON before the one-pass scanner.
func findLeakJSONRef(b []byte, trusted func(netip.AddrPort) bool) (leak string, found bool) {
	if !json.Valid(b) {
		return "invalid JSON", true
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		// Valid JSON: outside strings there is no quote, inside one a quote
		// is escaped.
		j, escaped := i+1, false
		for ; j < len(b) && b[j] != '"'; j++ {
			if b[j] == '\\' {
				escaped = true
				j++
			}
		}
		var s string
		if escaped {
			if json.Unmarshal(b[i:j+1], &s) != nil {
				return "invalid JSON string", true
			}
		} else {
			s = string(b[i+1 : j])
		}
		if leak, found = FindLeak(s, trusted); found {
			return leak, true
		}
		i = j
	}
	return "", false
}
