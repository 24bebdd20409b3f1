package turn

import (
	"fmt"
	"net"
	"strconv"
)

const (
	// bindRetries bounds the attempts to find a port free for both UDP
	// and TCP when the TURN port is 0 (ephemeral).
	bindRetries = 8
	// udpSocketBuffer is the receive and send buffer of the TURN UDP
	// socket, which every client's datagrams share: 2 MB, as coturn sets
	// on its listening sockets (UR_SERVER_SOCK_BUF_SIZE), so a burst or a
	// descheduled read loop does not overflow the 208 KB Linux default.
	// The kernel caps it at net.core.rmem_max / wmem_max.
	udpSocketBuffer = 2 << 20
)

// ListenUDPAndTCP binds a TURN server's UDP socket and a TCP listener on the
// same port. With port 0 the kernel picks the UDP port, which may be taken for
// TCP: then it tries again. The UDP socket gets 2 MB buffers (udpSocketBuffer).
// Hand both to Config.PacketConns and Config.Listeners.
func ListenUDPAndTCP(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("turn: listen address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("turn: udp %s: %w", addr, err)
		}
		if u, ok := pc.(*net.UDPConn); ok {
			// Best effort: a smaller buffer still works.
			_ = u.SetReadBuffer(udpSocketBuffer)
			_ = u.SetWriteBuffer(udpSocketBuffer)
		}
		got := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, got))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == bindRetries {
			return nil, nil, fmt.Errorf("turn: tcp %s: %w", addr, err)
		}
	}
}
