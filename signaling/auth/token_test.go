package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-only")

// signRaw builds a JWT by hand so tests can forge any header and payload.
func signRaw(secret []byte, header, payload string) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestMint(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		secret []byte
		g      Grant
		ttl    time.Duration
	}{
		{"short secret", []byte("short"), Grant{Room: "r", Actions: []Action{ActionJoin}}, time.Hour},
		{"no actions", testSecret, Grant{Room: "r"}, time.Hour},
		{"unknown action", testSecret, Grant{Room: "r", Actions: []Action{"admin"}}, time.Hour},
		{"join without room", testSecret, Grant{Stream: "s", Actions: []Action{ActionJoin}}, time.Hour},
		{"publish without stream", testSecret, Grant{Room: "r", Actions: []Action{ActionJoin, ActionPublish}}, time.Hour},
		{"zero ttl", testSecret, Grant{Room: "r", Actions: []Action{ActionJoin}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Mint(tc.secret, tc.g, tc.ttl, now)
			require.ErrorIs(t, err, errBadGrant)
		})
	}
	tok, err := Mint(testSecret, Grant{Room: "r", Actions: []Action{ActionJoin}}, time.Minute, now)
	require.NoError(t, err)
	g, err := Verify(testSecret, tok)
	require.NoError(t, err)
	assert.Equal(t, &Grant{Room: "r", Actions: []Action{ActionJoin}}, g)
	_, err = Verify([]byte("0123456789abcdef0123456789abcdeX-test-only"), tok)
	assert.ErrorIs(t, err, ErrInvalidToken)
}

// FuzzVerify feeds arbitrary tokens, and arbitrary claims correctly
// signed with the secret: never a panic; a forged token never passes; a
// correctly signed one passes only with a future exp.
func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJub25lIn0.e30.", `{"room":"r","actions":["join"],"exp":99999999999}`)
	f.Add("a.b.c", `{"exp":1}`)
	f.Add("", `{"room":"r","actions":"join","exp":"soon"}`)
	f.Add("....", `{"exp":1e999}`)
	f.Add("x", `[]`)
	f.Fuzz(func(t *testing.T, raw, payload string) {
		if _, err := Verify(testSecret, raw); err == nil {
			t.Fatalf("an unsigned token passed: %q", raw)
		}
		g, err := Verify(testSecret, signRaw(testSecret, `{"alg":"HS256","typ":"JWT"}`, payload))
		if err != nil {
			return
		}
		require.NotNil(t, g)
		var c struct {
			Exp *float64 `json:"exp"`
		}
		require.NoError(t, json.Unmarshal([]byte(payload), &c))
		require.NotNil(t, c.Exp, "a token without exp passed")
		require.Greater(t, *c.Exp, float64(time.Now().Add(-time.Minute).Unix()), "an expired token passed")
	})
}

func TestGrantAllows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		g      Grant
		action Action
		target string
		want   bool
	}{
		{"room join", Grant{Room: "r", Actions: []Action{ActionJoin}}, ActionJoin, "r", true},
		{"other room", Grant{Room: "r", Actions: []Action{ActionJoin}}, ActionJoin, "r2", false},
		{"room grants no play", Grant{Room: "r", Actions: []Action{ActionJoin, ActionPlay}}, ActionPlay, "r", false},
		{"stream play", Grant{Stream: "s", Actions: []Action{ActionPlay}}, ActionPlay, "s", true},
		{"action not granted", Grant{Stream: "s", Actions: []Action{ActionPlay}}, ActionPublish, "s", false},
		{"prefix", Grant{Prefix: "team-", Actions: []Action{ActionPublish}}, ActionPublish, "team-a", true},
		{"prefix mismatch", Grant{Prefix: "team-", Actions: []Action{ActionPublish}}, ActionPublish, "tea", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.g.Allows(tc.action, tc.target))
		})
	}
}
