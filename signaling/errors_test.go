package signaling

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrNotDirector, ErrUnauthorized), "same code, different error")
	assert.True(t, errors.Is(ErrNotDirector, ErrNotDirector))
	code, msg := toWire(errors.New("disk on fire at 10.0.0.1"))
	assert.Equal(t, Code("internal"), code)
	assert.Equal(t, "internal error", msg, "internal text never reaches a client")
}
