package turn

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListenUDPAndTCPBuffers: the shared TURN UDP socket gets coturn's 2 MB
// buffers, or what net.core.rmem_max allows (Linux reports twice the size
// set, for its bookkeeping).
func TestListenUDPAndTCPBuffers(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("not Linux:", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	pc, ln, err := ListenUDPAndTCP("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close(); _ = ln.Close() })
	sc, err := pc.(*net.UDPConn).SyscallConn()
	require.NoError(t, err)
	var got int
	var serr error
	require.NoError(t, sc.Control(func(fd uintptr) {
		got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}))
	require.NoError(t, serr)
	assert.GreaterOrEqual(t, got, 2*min(udpSocketBuffer, rmemMax))
}
