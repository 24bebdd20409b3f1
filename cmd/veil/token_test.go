package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", 48)
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte(secret+"\n"), 0o600))
	loose := filepath.Join(dir, "loose")
	require.NoError(t, os.WriteFile(loose, []byte(secret), 0o600))
	require.NoError(t, os.Chmod(loose, 0o640))
	noEnv := func(string) string { return "" }
	run := func(getenv func(string) string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runToken(args, &out, &errb, getenv)
		return code, strings.TrimSpace(out.String()), errb.String()
	}

	code, tok, _ := run(noEnv, "--secret-file", file, "--room", "room-Xy7", "--actions", "join", "--ttl", "10m")
	require.Equal(t, 0, code)
	var claims jwt.MapClaims
	parsed, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	assert.True(t, parsed.Valid)
	assert.Equal(t, "room-Xy7", claims["room"])
	assert.Equal(t, []any{"join"}, claims["actions"])
	exp, err := claims.GetExpirationTime()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), exp.Time, 5*time.Second)

	code, tok, _ = run(func(k string) string {
		return map[string]string{"VEIL_AUTH_SECRET_FILE": file}[k]
	}, "--stream", "cam", "--actions", "publish,play")
	require.Equal(t, 0, code, "the secret file may come from the environment")
	assert.NotEmpty(t, tok)

	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"no secret", []string{"--room", "room-Xy7"}, "no secret"},
		{"group-readable secret", []string{"--secret-file", loose, "--room", "room-Xy7"}, "chmod 600"},
		{"publish needs a stream", []string{"--secret-file", file, "--room", "room-Xy7", "--actions", "join,publish"}, "stream or a prefix"},
		{"unknown action", []string{"--secret-file", file, "--room", "room-Xy7", "--actions", "admin"}, "unknown action"},
		{"negative ttl", []string{"--secret-file", file, "--room", "room-Xy7", "--ttl", "-1h"}, "ttl"},
		{"stray argument", []string{"--secret-file", file, "room-Xy7"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(noEnv, tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.err)
			assert.NotContains(t, errOut, "room-Xy7", "the room never reaches the terminal log")
		})
	}
}

func TestTokensEndToEnd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat("z", 32)), 0o600))
	a := startVeil(t, func(o *options) {
		o.turnEnabled = false
		o.security.authSecretFile = file
		require.NoError(t, o.security.finish())
	})
	var out bytes.Buffer
	require.Equal(t, 0, runToken([]string{"--secret-file", file, "--room", "standup-9f2"}, &out, &out, func(string) string { return "" }))
	tok := strings.TrimSpace(out.String())

	ws, _, err := websocket.DefaultDialer.Dial(a.wsURL(), nil)
	require.NoError(t, err)
	defer func() { _ = ws.Close() }()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	require.NoError(t, ws.ReadJSON(&m)) // welcome
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join", "room": "standup-9f2"}))
	require.NoError(t, ws.ReadJSON(&m))
	assert.Equal(t, "unauthorized", m["code"])
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join", "room": "standup-9f2", "token": tok}))
	m = nil
	require.NoError(t, ws.ReadJSON(&m))
	assert.Equal(t, "joined", m["type"])
}
