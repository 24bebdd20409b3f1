package privacy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

// chromeStats is what an app might send as debug data: a few RTCStats
// reports from Chrome's getStats(), as an array, plus device details.
const chromeStats = `{
 "connectionState": "connected",
 "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
 "hardwareConcurrency": 8, "deviceMemory": 8, "platform": "Linux x86_64",
 "stats": [
  {"type": "candidate-pair", "id": "CPq1w2e3r4_t5y6u7i8", "timestamp": 1732334256123.456, "state": "succeeded",
   "nominated": true, "currentRoundTripTime": 0.012, "availableOutgoingBitrate": 2500000,
   "bytesSent": 123456, "bytesReceived": 654321, "localCandidateId": "Iq1w2e3r4", "remoteCandidateId": "It5y6u7i8"},
  {"type": "local-candidate", "id": "Iq1w2e3r4", "address": "192.168.1.23", "port": 54400,
   "candidateType": "relay", "protocol": "udp", "relayProtocol": "udp", "networkType": "wifi",
   "url": "turn:198.51.100.20:3478?transport=udp", "relatedAddress": "203.0.113.7", "relatedPort": 54400,
   "foundation": "1982375340", "usernameFragment": "EsAw"},
  {"type": "inbound-rtp", "kind": "video", "id": "IT01V123", "packetsReceived": 5000, "packetsLost": 3,
   "jitter": 0.004, "framesPerSecond": 30, "frameWidth": 1280, "frameHeight": 720, "framesDecoded": 9000,
   "framesDropped": 2, "nackCount": 1, "pliCount": 0, "firCount": 0, "mimeType": "video/VP8",
   "decoderImplementation": "libvpx", "trackIdentifier": "9c8b7a6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4"},
  {"type": "outbound-rtp", "kind": "audio", "id": "OT01A99", "packetsSent": 4000,
   "qualityLimitationReason": "none", "qualityLimitationDurations": {"bandwidth": 0, "cpu": 1.5, "none": 10, "other": 0},
   "encoderImplementation": "ExternalEncoder", "powerEfficientEncoder": true}
 ],
 "candidatePair": {"state": "succeeded", "id": "note from 10.1.2.3", "localCandidate": {"candidateType": "relay", "ip": "192.168.1.23"}},
 "battery": {"level": 0.5}
}`

func TestSanitizeStats(t *testing.T) {
	got := SanitizeStats(decodeJSON(t, chromeStats))
	want := decodeJSON(t, `{
 "connectionState": "connected",
 "stats": [
  {"type": "candidate-pair", "id": "CPq1w2e3r4_t5y6u7i8", "timestamp": 1732334256123.456, "state": "succeeded",
   "nominated": true, "currentRoundTripTime": 0.012, "availableOutgoingBitrate": 2500000,
   "bytesSent": 123456, "bytesReceived": 654321, "localCandidateId": "Iq1w2e3r4", "remoteCandidateId": "It5y6u7i8"},
  {"type": "local-candidate", "id": "Iq1w2e3r4", "candidateType": "relay", "protocol": "udp", "relayProtocol": "udp"},
  {"type": "inbound-rtp", "kind": "video", "id": "IT01V123", "packetsReceived": 5000, "packetsLost": 3,
   "jitter": 0.004, "framesPerSecond": 30, "frameWidth": 1280, "frameHeight": 720, "framesDecoded": 9000,
   "framesDropped": 2, "nackCount": 1, "pliCount": 0, "firCount": 0, "mimeType": "video/VP8"},
  {"type": "outbound-rtp", "kind": "audio", "id": "OT01A99", "packetsSent": 4000, "qualityLimitationReason": "none"}
 ],
 "candidatePair": {"state": "succeeded", "id": "note from 0.0.0.0", "localCandidate": {"candidateType": "relay"}}
}`)
	assert.Equal(t, want, got)
}

func TestSanitizeStatsShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"string", "host 192.168.1.23", "host 0.0.0.0"},
		{"number", 1.5, 1.5},
		{"json number", json.Number("12"), json.Number("12")},
		{"bool", true, true},
		{"array", []any{"a", 1.0, map[string]any{"type": "x", "ip": "1.2.3.4"}}, []any{"a", 1.0, map[string]any{"type": "x"}}},
		{"non-json type", 42, nil},
		{"struct", struct{ IP string }{"1.2.3.4"}, nil},
		{"typed map", map[string]string{"type": "1.2.3.4"}, nil},
		{"long string", strings.Repeat("x", maxStatsString+1), nil},
		{"keyed by report id", map[string]any{"RTCIceCandidate_1": map[string]any{"type": "local-candidate"}}, map[string]any{}},
		{"denied spelling", map[string]any{"UserAgent": "x", "user_agent": "x", "type": "ok"}, map[string]any{"type": "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SanitizeStats(tc.in))
		})
	}
}

// nest wraps v in n single-key objects under key.
func nest(key string, n int, v any) any {
	for range n {
		v = map[string]any{key: v}
	}
	return v
}

func TestSanitizeBounds(t *testing.T) {
	// The value passed in is depth 0; 16 levels of nesting survive, 17 do not.
	assert.Equal(t, nest("stats", 16, "ok"), SanitizeStats(nest("stats", 16, "ok")))
	assert.Equal(t, nest("stats", 17, nil), SanitizeStats(nest("stats", 17, "ok")))
	assert.Equal(t, nest("x", 17, nil), StripSysinfo(nest("x", 17, "ok")))

	big := make([]any, 3*maxSanitizeNodes)
	for i := range big {
		big[i] = 1.0
	}
	out := SanitizeStats(map[string]any{"stats": big}).(map[string]any)
	assert.Less(t, len(out["stats"].([]any)), maxSanitizeNodes)
	out = StripSysinfo(map[string]any{"list": big}).(map[string]any)
	assert.Less(t, len(out["list"].([]any)), maxSanitizeNodes)
}

func TestAllowedStatsKeys(t *testing.T) {
	keys := AllowedStatsKeys()
	require.NotEmpty(t, keys)
	seen := map[string]bool{}
	for _, k := range keys {
		assert.False(t, seen[k], "duplicate %q", k)
		seen[k] = true
		assert.False(t, isDeniedKey(k), "allowlisted key %q is also denied", k)
	}
	for _, k := range []string{"address", "ip", "port", "relatedAddress", "relatedPort", "url", "userAgent",
		"platform", "os", "browser", "cpu", "gpu", "memory", "battery", "hardwareConcurrency", "deviceMemory",
		"networkType", "foundation", "usernameFragment", "label", "trackIdentifier"} {
		assert.False(t, seen[k], "%q must not be allowlisted", k)
	}
	// A copy: callers cannot widen the allowlist.
	keys[0] = "address"
	assert.NotContains(t, AllowedStatsKeys(), "address")
}

// vdoInfo is the kind of "info" object a VDO.Ninja client sends about
// itself.
const vdoInfo = `{
 "label": "Guest 1", "version": "26.1", "order": 2, "muted": false,
 "useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0.6613.84",
 "platform": "Win32", "OS": "Windows", "Browser": "Chrome", "CPU": "Intel i7", "gpGPU": "NVIDIA GeForce RTX 3060",
 "gpu_vendor": "NVIDIA", "webglRenderer": "ANGLE", "hardwareConcurrency": 16, "deviceMemory": 8, "device-name": "Laptop",
 "power": {"battery": 0.87, "charging": true, "batteryLevel": 87},
 "screen": {"width": 1920}, "screenWidth": 1920, "timezone": "Europe/Berlin", "languages": ["de-DE", "en"],
 "Language": "de", "plugins": [], "vendor": "Google Inc.",
 "note": "call me at 198.51.100.7 or [2001:db8::7]",
 "stats": {"bitrate": 2500, "ip": "192.168.1.23", "relatedAddress": "203.0.113.7"},
 "203.0.113.9": "key was an address"
}`

func TestStripSysinfo(t *testing.T) {
	got := StripSysinfo(decodeJSON(t, vdoInfo))
	want := decodeJSON(t, `{
 "label": "Guest 1", "version": "26.1", "order": 2, "muted": false,
 "power": {},
 "note": "call me at 0.0.0.0 or [::]",
 "stats": {"bitrate": 2500},
 "0.0.0.0": "key was an address"
}`)
	assert.Equal(t, want, got)
	assert.Equal(t, []any{"0.0.0.0", "ok"}, StripSysinfo([]any{"10.0.0.1", "ok"}))
	assert.Nil(t, StripSysinfo(struct{}{}))
}

// walkJSON calls leaf for every string value and every object key in v.
func walkJSON(v any, key func(string), str func(string)) {
	switch x := v.(type) {
	case string:
		str(x)
	case []any:
		for _, e := range x {
			walkJSON(e, key, str)
		}
	case map[string]any:
		for k, e := range x {
			key(k)
			walkJSON(e, key, str)
		}
	}
}

func FuzzSanitizeStats(f *testing.F) {
	f.Add([]byte(chromeStats))
	f.Add([]byte(vdoInfo))
	f.Add([]byte(`[{"stats":[{"type":"x","id":"1.2.3.4:5"}]},"::1",{"IP":"x"}]`))
	f.Add([]byte(`{"reports":{"local":{"remote":{"codec":{"kind":"fe80::1%eth0"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		for name, fn := range map[string]func(any) any{"SanitizeStats": SanitizeStats, "StripSysinfo": StripSysinfo} {
			out := fn(v)
			checkStr := func(s string) {
				if ScrubIPs(s) != s {
					t.Fatalf("%s kept an address in %q", name, s)
				}
				if lits := ipLiteralsIn(s); len(lits) > 0 {
					t.Fatalf("%s kept %q in %q", name, lits, s)
				}
			}
			walkJSON(out, func(k string) {
				if isDeniedKey(k) {
					t.Fatalf("%s kept denied key %q", name, k)
				}
				if name == "SanitizeStats" && !statsKeySet[k] {
					t.Fatalf("%s kept key %q not on the allowlist", name, k)
				}
				checkStr(k)
			}, checkStr)
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("%s output does not marshal: %v", name, err)
			}
		}
	})
}
