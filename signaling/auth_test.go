package signaling

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// signRaw builds a JWT by hand so tests can forge any header and payload.
func signRaw(secret []byte, header, payload string) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestTokens(t *testing.T) {
	_, ts := newTestServer(t, Config{AuthSecret: testutil.Secret})
	now := time.Now()
	hs := func(claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testutil.Secret)
		require.NoError(t, err)
		return tok
	}
	exp := now.Add(time.Hour).Unix()
	noneTok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"room": "lobby", "actions": []string{"join"}, "exp": exp}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"room": "lobby", "actions": []string{"join"}, "exp": exp}).
		SignedString(testutil.Secret)
	require.NoError(t, err)
	payload := `{"room":"lobby","actions":["join"],"exp":` + jsonInt(exp) + `}`

	for _, tc := range []struct {
		name   string
		typ    string // join, publish or play
		target string
		token  string
		ok     bool
	}{
		{name: "valid room token", typ: "join", target: "lobby", token: testutil.Mint(t, auth.Grant{Room: "lobby", Actions: []auth.Action{auth.ActionJoin}}, time.Hour), ok: true},
		{name: "valid stream token publish", typ: "publish", target: "cam-1", token: testutil.Mint(t, auth.Grant{Stream: "cam-1", Actions: []auth.Action{auth.ActionPublish}}, time.Hour), ok: true},
		{name: "valid stream token play", typ: "play", target: "cam-2", token: testutil.Mint(t, auth.Grant{Stream: "cam-2", Actions: []auth.Action{auth.ActionPlay}}, time.Hour), ok: true},
		{name: "valid prefix token", typ: "join", target: "team-blue", token: testutil.Mint(t, auth.Grant{Prefix: "team-", Actions: []auth.Action{auth.ActionJoin, auth.ActionPublish}}, time.Hour), ok: true},
		{name: "missing token", typ: "join", target: "lobby", token: ""},
		{name: "garbage", typ: "join", target: "lobby", token: "not.a.token"},
		{name: "expired", typ: "join", target: "lobby", token: hs(jwt.MapClaims{"room": "lobby", "actions": []string{"join"}, "exp": now.Add(-time.Hour).Unix()})},
		{name: "no exp", typ: "join", target: "lobby", token: hs(jwt.MapClaims{"room": "lobby", "actions": []string{"join"}})},
		{name: "not yet valid", typ: "join", target: "lobby", token: hs(jwt.MapClaims{"room": "lobby", "actions": []string{"join"}, "exp": exp, "nbf": now.Add(time.Hour).Unix()})},
		{name: "forged signature", typ: "join", target: "lobby", token: signRaw([]byte("another-secret-another-secret-xx"), `{"alg":"HS256","typ":"JWT"}`, payload)},
		{name: "alg none", typ: "join", target: "lobby", token: noneTok},
		{name: "alg none hand made", typ: "join", target: "lobby", token: strings.Join(strings.Split(signRaw(testutil.Secret, `{"alg":"none"}`, payload), ".")[:2], ".") + "."},
		{name: "rs256 header signed with the secret", typ: "join", target: "lobby", token: signRaw(testutil.Secret, `{"alg":"RS256","typ":"JWT"}`, payload)},
		{name: "hs512", typ: "join", target: "lobby", token: hs512},
		{name: "wrong room", typ: "join", target: "other-room", token: testutil.Mint(t, auth.Grant{Room: "lobby", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)},
		{name: "wrong action", typ: "publish", target: "cam-3", token: testutil.Mint(t, auth.Grant{Stream: "cam-3", Actions: []auth.Action{auth.ActionPlay}}, time.Hour)},
		{name: "room token does not grant the stream of that name", typ: "publish", target: "lobby", token: testutil.Mint(t, auth.Grant{Room: "lobby", Stream: "x", Actions: []auth.Action{auth.ActionJoin, auth.ActionPublish}}, time.Hour)},
		{name: "prefix mismatch", typ: "join", target: "red-team", token: testutil.Mint(t, auth.Grant{Prefix: "team-", Actions: []auth.Action{auth.ActionJoin}}, time.Hour)},
		{name: "tampered payload", typ: "join", target: "admin", token: swapPayload(testutil.Mint(t, auth.Grant{Room: "lobby", Actions: []auth.Action{auth.ActionJoin}}, time.Hour), `{"room":"admin","actions":["join"],"exp":`+jsonInt(exp)+`}`)},
		{name: "huge token", typ: "join", target: "lobby", token: strings.Repeat("a", auth.MaxTokenBytes+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts, "")
			field := "room"
			if tc.typ != "join" {
				field = "stream"
			}
			c.Send(msg{"type": tc.typ, field: tc.target, "token": tc.token, "rid": "t"})
			if tc.ok {
				m := c.Recv()
				assert.NotEqual(t, "error", m.Str("type"), "got %v", m)
				return
			}
			e := c.ExpectError(CodeUnauthorized)
			// Nothing but the fixed message: not why, not the name.
			assert.Equal(t, ErrUnauthorized.Message, e.Str("message"))
			assert.Equal(t, "t", e.Str("rid"))
			assert.Equal(t, tc.typ, e.Str("ref"))
			c.RoundTrip()
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// swapPayload keeps a token's header and signature and replaces its claims.
func swapPayload(tok, payload string) string {
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

func TestTokensIgnoredWithoutSecret(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	c := dial(t, ts, "")
	c.Send(msg{"type": "join", "room": "lobby", "token": "junk"})
	c.Expect("joined")
}

func TestRequireUnguessable(t *testing.T) {
	_, ts := newTestServer(t, Config{RequireUnguessable: 16})
	c := dial(t, ts, "")
	for _, tc := range []msg{
		{"type": "join", "room": "lobby"},
		{"type": "publish", "stream": "cam"},
		{"type": "play", "stream": "cam"},
		{"type": "join", "room": "ééééééééééééééé"}, // 15 characters, 30 bytes
	} {
		c.Send(tc)
		e := c.ExpectError(CodeUnauthorized)
		assert.Contains(t, e.Str("message"), "16 characters")
		assert.NotContains(t, e.Str("message"), "lobby")
	}
	c.Send(msg{"type": "join", "room": "q7Vd2xWm9LpK3sTz"})
	c.Expect("joined")
	c.Send(msg{"type": "play", "stream": "éééééééééééééééé"})
	c.Expect("waiting")
}

func TestLimitsConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"short auth secret", Config{AuthSecret: []byte("too short")}},
		{"negative unguessable", Config{RequireUnguessable: -1}},
		{"unguessable beyond names", Config{RequireUnguessable: DefaultMaxNameBytes + 1}},
		{"byte burst below message size", Config{ByteBurst: 1000, MaxMessageBytes: 2000}},
		{"invalid proxy prefix", Config{TrustedProxies: []netip.Prefix{{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, errInvalidConfig)
		})
	}
	srv, err := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, srv.cfg.TrustedProxies, "mapped prefixes are unmapped")
	assert.Equal(t, DefaultByteBurst, srv.cfg.ByteBurst)
	big, err := New(Config{MaxMessageBytes: 4 << 20})
	require.NoError(t, err)
	assert.Equal(t, 4<<20, big.cfg.ByteBurst, "the byte burst always fits a largest message")
}
