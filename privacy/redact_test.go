package privacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tagRE = regexp.MustCompile(`^~[0-9a-f]{8}$`)

func TestRedact(t *testing.T) {
	for _, s := range []string{"", "room-42", "4f9e1c2a6c1d4b7b9a3a6fe2c0f0b1d1", "1732334256:peer", "192.168.1.23"} {
		tag := Redact(s)
		assert.Regexp(t, tagRE, tag)
		assert.Equal(t, tag, Redact(s), "stable within a process")
	}
	assert.NotEqual(t, Redact("room-42"), Redact("room-43"))
	// Not a plain hash: the key is random, so a guess cannot be checked
	// against a tag from another process. The key itself must be set.
	assert.Len(t, redactKey, 32)
	assert.NotEqual(t, make([]byte, 32), redactKey)
}

func TestRedactAddr(t *testing.T) {
	a := netip.MustParseAddr("192.168.1.23")
	assert.Regexp(t, tagRE, RedactAddr(a))
	assert.Equal(t, RedactAddr(a), RedactAddr(netip.MustParseAddr("::ffff:192.168.1.23")), "mapped form is the same host")
	assert.Equal(t, RedactAddr(netip.MustParseAddr("fe80::1")), RedactAddr(netip.MustParseAddr("fe80::1%eth0")))
	assert.NotEqual(t, RedactAddr(a), RedactAddr(netip.MustParseAddr("192.168.1.24")))
	assert.Equal(t, "invalid", RedactAddr(netip.Addr{}))
}

func TestSecretNeverShowsItself(t *testing.T) {
	const room = "our-secret-room"
	s := Secret(room)
	tag := Redact(room)

	for _, verb := range []string{"%v", "%s", "%q", "%#v", "%+v", "%x", "%d", "%10s"} {
		out := fmt.Sprintf(verb, s)
		assert.NotContains(t, out, room, verb)
		assert.NotContains(t, out, fmt.Sprintf("%x", room), verb)
	}
	assert.Equal(t, tag, s.String())
	assert.Equal(t, tag, fmt.Sprint(s))

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("joined", "room", s, "nested", slog.GroupValue(slog.Any("stream", Secret("cam-1"))))
	assert.NotContains(t, buf.String(), room)
	assert.NotContains(t, buf.String(), "cam-1")
	assert.Contains(t, buf.String(), tag)

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "room", s)
	assert.NotContains(t, buf.String(), room)

	b, err := json.Marshal(struct{ Room Secret }{s})
	require.NoError(t, err)
	assert.NotContains(t, string(b), room)
	assert.Equal(t, room, string(s), "the value stays usable")
}
