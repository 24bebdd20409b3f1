package turn

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenUDPAndTCP(t *testing.T) {
	pc, ln, err := ListenUDPAndTCP("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close(); _ = ln.Close() })
	assert.Equal(t, pc.LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port, "one port for UDP and TCP")

	_, _, err = ListenUDPAndTCP(ln.Addr().String())
	assert.ErrorContains(t, err, "turn: ", "a taken fixed port is an error, not a retry")
	_, _, err = ListenUDPAndTCP("no-port")
	assert.ErrorContains(t, err, "turn: listen address")
}
