package hub

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestErrorIsIdentity: errors.Is matches an *Error only by identity, so a
// caller branching on one error never catches another that shares its
// code (both of these answer stream-in-use on the wire).
func TestErrorIsIdentity(t *testing.T) {
	assert.False(t, errors.Is(ErrOwnStream, ErrStreamInUse))
	assert.True(t, errors.Is(fmt.Errorf("publish: %w", ErrStreamInUse), ErrStreamInUse))
	assert.False(t, errors.Is(ErrNotDirector, &Error{Code: CodeUnauthorized, Message: "not authorized"}))
}
