package hub

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDirectsRoomOf: true only for the director of a room the other peer
// is in; never for a member, an outsider, itself or nil.
func TestDirectsRoomOf(t *testing.T) {
	h := New(Limits{}, nil)
	d, _ := newTestPeer(t, h, "vdofan")
	m, _ := newTestPeer(t, h, "vdofan")
	o, _ := newTestPeer(t, h, "vdofan")

	require.NoError(t, h.JoinClaim(d, "r", "", true))
	require.NoError(t, h.JoinClaim(m, "r", "", true))
	require.NoError(t, h.JoinClaim(o, "other", "", false))

	assert.True(t, h.DirectsRoomOf(d, m))
	assert.False(t, h.DirectsRoomOf(m, d), "a member directs nothing")
	assert.False(t, h.DirectsRoomOf(d, o), "o is not in d's room")
	assert.False(t, h.DirectsRoomOf(d, d))
	assert.False(t, h.DirectsRoomOf(nil, m))
	assert.False(t, h.DirectsRoomOf(d, nil))

	require.NoError(t, h.Leave(m, "r", ""))
	assert.False(t, h.DirectsRoomOf(d, m), "m left")
}
