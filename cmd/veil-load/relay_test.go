package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanTop(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
	}{
		{"flat", `{"type":"signal","to":"abc","data":{"sdp":{"type":"offer","sdp":"v=0\r\n"}}}`,
			map[string]string{"type": `"signal"`, "to": `"abc"`, "data": `{"sdp":{"type":"offer","sdp":"v=0\r\n"}}`}},
		{"spaces and nesting", ` { "a" : [1, {"b":"]}"}] , "c":true,"d":null , "e":-1.5e3}`,
			map[string]string{"a": `[1, {"b":"]}"}]`, "c": "true", "d": "null", "e": "-1.5e3"}},
		{"escaped quote in a string", `{"x":"a\"b}","y":1}`, map[string]string{"x": `"a\"b}"`, "y": "1"}},
		{"not an object", `["type","signal"]`, map[string]string{}},
		{"cut short", `{"type":"signal","data":{"sdp":`, map[string]string{"type": `"signal"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			scanTop([]byte(tc.in), func(k, v []byte) { got[string(k)] = string(v) })
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestRelaySaturate runs the saturation workload against the no-policy
// relay over loopback, in both framings: every offer is answered and
// counted.
func TestRelaySaturate(t *testing.T) {
	srv := httptest.NewServer(newRelay("/peerjs/"))
	t.Cleanup(srv.Close)
	for _, mode := range []string{"native", "peerjs"} {
		t.Run(mode, func(t *testing.T) {
			c, err := parseFlags("saturate", []string{"--mode", mode, "--url", srv.URL, "--pairs", "3", "--window", "2",
				"--warmup", "100ms", "--run", "400ms", "--duration", "20s"})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), c.duration)
			defer cancel()
			r := run(ctx, c)
			assert.Empty(t, r.Errors)
			assert.Positive(t, r.RoundTrips)
			assert.Equal(t, 2*r.RoundTrips, r.Delivered)
			assert.Zero(t, r.Lost)
			assert.LessOrEqual(t, r.RTTP50, r.RTTP99)
		})
	}
}

// TestRelayStorm drops and reconnects a few peers through several source
// addresses.
func TestRelayStorm(t *testing.T) {
	srv := httptest.NewServer(newRelay("/peerjs/"))
	t.Cleanup(srv.Close)
	c, err := parseFlags("storm", []string{"--mode", "native", "--url", srv.URL, "--peers", "40", "--sources", "4",
		"--concurrency", "10", "--duration", "20s"})
	require.NoError(t, err)
	start := time.Now()
	r := run(context.Background(), c)
	assert.Empty(t, r.Errors)
	assert.Equal(t, 40, r.StormWelcomed)
	assert.Less(t, r.StormSeconds, time.Since(start).Seconds())
}

func TestSourceAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := range 1000 {
		a := sourceAddr(i)
		require.True(t, a.IsLoopback(), a)
		require.NotEqual(t, "127.0.0.1", a.String())
		require.False(t, seen[a.String()], "source %d repeats %v", i, a)
		seen[a.String()] = true
		assert.NotZero(t, a.To4()[3])
	}
}
