package privacy

import (
	"encoding/json"
	"net/netip"
	"os"
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
	raw, err := os.ReadFile("../cmd/veil-load/offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	// The offer as veil forwards it under forced relay: scrubbed.
	sdp, _, err := ScrubSDP(strings.ReplaceAll(string(raw), "\n", "\r\n"), SDPOptions{ForceRelay: true, StripSysinfo: true})
	if err != nil {
		b.Fatal(err)
	}
	frame, err := json.Marshal(map[string]any{"type": "signal", "from": "abcdefghijklmnopqrstuvwx",
		"data": map[string]any{"sdp": map[string]string{"type": "offer", "sdp": sdp}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, found := FindLeakJSON(frame, nil); found {
		b.Fatal("the scrubbed offer leaks")
	}
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

// findDottedQuadRef is findDottedQuad before it stopped allocating.
func findDottedQuadRef(run string, allowed func(netip.Addr) bool) (string, bool) {
	canon := func(f string) string {
		if q := strings.TrimLeft(f, "0"); q != "" {
			return q
		}
		return "0"
	}
	octet := func(f string) bool {
		if f == "" {
			return false
		}
		f = canon(f)
		if len(f) > 3 {
			return false
		}
		_, err := netip.ParseAddr(f + ".0.0.0")
		return err == nil
	}
	for i := 0; i < len(run); {
		if !isDigit(run[i]) {
			i++
			continue
		}
		end := i
		for end < len(run) && (isDigit(run[end]) || run[end] == '.') {
			end++
		}
		fields := strings.Split(run[i:end], ".")
		for k := 0; k+4 <= len(fields); k++ {
			q := fields[k : k+4]
			if !octet(q[0]) || !octet(q[1]) || !octet(q[2]) || !octet(q[3]) {
				continue
			}
			a, err := netip.ParseAddr(canon(q[0]) + "." + canon(q[1]) + "." + canon(q[2]) + "." + canon(q[3]))
			if err == nil && !passes(a, allowed) {
				return strings.Join(q, "."), true
			}
		}
		i = end
	}
	return "", false
}

func FuzzFindDottedQuadMatchesRef(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "1.2.3.4.5", "0001.0002.0003.0004", "256.1.1.1.2", "1..2.3.4.", "a1.2.3.4b", "127.0.0.1:80", "9.9.9", ""} {
		f.Add(s)
	}
	allowed := func(a netip.Addr) bool { return a == netip.MustParseAddr("1.2.3.4") }
	f.Fuzz(func(t *testing.T, run string) {
		for _, al := range []func(netip.Addr) bool{nil, allowed} {
			wl, wf := findDottedQuadRef(run, al)
			gl, gf := findDottedQuad(run, al)
			if wl != gl || wf != gf {
				t.Fatalf("%q: (%q, %v), before (%q, %v)", run, gl, gf, wl, wf)
			}
		}
	})
}
