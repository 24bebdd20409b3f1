package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := parseOptions(nil, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", o.listen)
	assert.Equal(t, privacy.DefaultPolicy(), o.policy)
	assert.True(t, o.turnEnabled)
	assert.True(t, o.demo)
	assert.Empty(t, o.turnSecret, "a random per-process secret is made by the TURN server")
}

func TestOptionsEnvironment(t *testing.T) {
	env := map[string]string{
		"VEIL_RELAY":            "optional",
		"VEIL_TURN_ALLOW_PEER":  "10.1.0.0/16, 192.168.5.5",
		"VEIL_TURN_RELAY_PORTS": "49160-49200",
		"VEIL_LISTEN":           "127.0.0.1:9999",
	}
	o, err := parseOptions([]string{"--listen=127.0.0.1:7777"}, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7777", o.listen, "the command line wins over the environment")
	assert.Equal(t, privacy.RelayOptional, o.policy.Relay)
	require.Len(t, o.turnAllow, 2)
	assert.Equal(t, "192.168.5.5/32", o.turnAllow[1].String())
	assert.Equal(t, 49160, o.turnPortMin)
	assert.Equal(t, 49200, o.turnPortMax)
}

func TestOptionsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--relay=sometimes"},
		{"--sealed=maybe"},
		{"--turn-url=turn:turn.example:3478"}, // no secret
		{"--turn-relay-ports=9-1"},
		{"--turn-relay-ports=80"},
		{"--turn-shared-relay-ports=9-1"},
		{"--turn-shared-relay-ports=49160"},
		{"--turn-allow-peer=not-a-cidr"},
		{"--turn-public-ip=example.com"},
		{"--turn-cert=c.pem"}, // no key
		{"stray-argument"},
	} {
		_, err := parseOptions(args, func(string) string { return "" })
		assert.Error(t, err, "%v", args)
	}
	o, err := parseOptions([]string{"--turn-url=turn:a:3478", "--turn-url=turns:b:5349", "--turn-secret=s3cret"}, func(string) string { return "" })
	require.NoError(t, err)
	assert.False(t, o.turnEnabled, "external TURN replaces the embedded one")
	assert.Equal(t, []string{"turn:a:3478", "turns:b:5349"}, o.turnURLs)
	assert.Equal(t, []byte("s3cret"), o.turnSecret, "used as text, like coturn's static-auth-secret")
}

func TestOptionsDialects(t *testing.T) {
	o, err := parseOptions([]string{"--peerjs=false", "--vdo-path=/ninja"}, func(k string) string {
		return map[string]string{"VEIL_PEERJS_KEY": "myapp"}[k]
	})
	require.NoError(t, err)
	assert.True(t, o.peerjs.Disabled)
	assert.Equal(t, "myapp", o.peerjs.Key)
	assert.False(t, o.vdo.Disabled)
	assert.Equal(t, "/ninja", o.vdo.Path)
	assert.Equal(t, "/vdo-fanout", o.vdo.FanoutPath)

	o, err = parseOptions(nil, func(k string) string {
		return map[string]string{"VEIL_VDO_FANOUT_PATH": "/ninja-fan"}[k]
	})
	require.NoError(t, err)
	assert.Equal(t, "/ninja-fan", o.vdo.FanoutPath)

	a := startVeil(t, func(o *options) { o.peerjs.Disabled = true; o.vdo.Path = "/ninja" })
	for path, want := range map[string]int{"/peerjs/peerjs/id": 404, "/vdo": 404} {
		resp, err := http.Get(a.URL() + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ninja", nil)
	require.NoError(t, err, "VDO.Ninja dialect moved to /ninja")
	_ = resp.Body.Close()
	_ = ws.Close()
}

func TestOptionsResume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		cluster bool
		want    time.Duration
	}{
		{"default", nil, nil, false, signaling.DefaultResumeGrace},
		{"flag", []string{"--resume-grace=5s"}, nil, false, 5 * time.Second},
		{"environment", nil, map[string]string{"VEIL_RESUME_GRACE": "7s"}, false, 7 * time.Second},
		{"zero is off", []string{"--resume-grace=0"}, nil, false, -1},
		{"cluster default: on", nil, nil, true, signaling.DefaultResumeGrace},
		{"cluster, asked for", []string{"--resume-grace=10s"}, nil, true, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, func(k string) string { return tc.env[k] })
			require.NoError(t, err)
			var c signaling.Config
			o.resume.apply(&c, tc.cluster)
			assert.Equal(t, tc.want, c.ResumeGrace)
			assert.Equal(t, signaling.DefaultMaxParkedPerIP, c.MaxParkedPerIP)
		})
	}
	_, err := parseOptions([]string{"--resume-grace=-1s"}, func(string) string { return "" })
	assert.Error(t, err)
}
