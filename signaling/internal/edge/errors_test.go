package edge

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/veilrtc/veil/signaling/hub"
)

func TestErrorsAreDistinct(t *testing.T) {
	assert.NotErrorIs(t, hub.ErrNotDirector, ErrUnauthorized, "same code, different error")
	assert.ErrorIs(t, hub.ErrNotDirector, hub.ErrNotDirector)
	code, msg := ToWire(errors.New("disk on fire at 10.0.0.1"))
	assert.Equal(t, hub.Code("internal"), code)
	assert.Equal(t, "internal error", msg, "internal text never reaches a client")
}
