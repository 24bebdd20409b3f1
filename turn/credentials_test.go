package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the convention under test
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewCredentials(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_700_000_000, 500_000_000)
	c := NewCredentials(secret, "peer-abc", 10*time.Minute, now)

	assert.Equal(t, "1700000600:peer-abc", c.Username)
	assert.Equal(t, 10*time.Minute, c.TTL)
	assert.Equal(t, time.Unix(1_700_000_600, 0), c.Expires)

	// Independent computation of the coturn use-auth-secret password.
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte("1700000600:peer-abc"))
	assert.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), c.Password)

	other := NewCredentials([]byte("other"), "peer-abc", 10*time.Minute, now)
	assert.NotEqual(t, c.Password, other.Password, "password must depend on the secret")
}

func TestParseUsername(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		unix    int64
		peer    string
		wantErr bool
	}{
		{name: "ok", in: "1700000600:peer", unix: 1_700_000_600, peer: "peer"},
		{name: "peer with colon", in: "1700000600:a:b", unix: 1_700_000_600, peer: "a:b"},
		{name: "no colon", in: "1700000600", wantErr: true},
		{name: "empty peer", in: "1700000600:", wantErr: true},
		{name: "bad expiry", in: "soon:peer", wantErr: true},
		{name: "negative expiry", in: "-5:peer", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, peer, err := parseUsername(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, errBadUsername)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.unix, exp.Unix())
			assert.Equal(t, tc.peer, peer)
		})
	}
}
