package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRelay is a relay socket on 127.0.0.2 of a Server that permits
// nothing but its own relay address, outside pion.
func testRelay(t *testing.T, s *Server) *relayConn {
	t.Helper()
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port) //nolint:gosec,forcetypeassert // a bound UDP port
	rc := &relayConn{PacketConn: pc, udp: pc, srv: s, port: port, transport: transportNone,
		self: udpAddr16(netip.AddrPortFrom(s.relayIP, port))}
	s.relays.Store(port, rc)
	return rc
}

// TestInboxWakesABlockedReader: a datagram one relay socket delivers in
// process reaches a reader already blocked in the other's socket read, as
// if sent by the first one's relay address; datagrams from the network
// still arrive; a full inbox refuses more until read.
func TestInboxWakesABlockedReader(t *testing.T) {
	s := &Server{relayIP: netip.MustParseAddr("127.0.0.2"), policy: PeerPolicy{Own: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}}
	a, b := testRelay(t, s), testRelay(t, s)

	type got struct {
		data string
		from string
	}
	reads := make(chan got)
	s.loops.Add(1) // the reader marks it done when it ends
	go func() {
		defer close(reads)
		buf := make([]byte, 1600)
		for {
			n, from, err := b.ReadFrom(buf)
			if err != nil {
				return
			}
			reads <- got{string(buf[:n]), from.String()}
		}
	}()
	next := func() got {
		t.Helper()
		select {
		case g := <-reads:
			return g
		case <-time.After(expectTimeout):
			t.Fatal("nothing read")
		}
		return got{}
	}

	for _, msg := range []string{"first", "second", "third"} {
		time.Sleep(20 * time.Millisecond) // let the reader block in the socket read
		require.True(t, b.deliver([]byte(msg), a))
		assert.Equal(t, got{msg, a.self.String()}, next())
	}
	// From the network: a's own socket sends to b's.
	_, err := a.udp.WriteTo([]byte("by the kernel"), b.udp.LocalAddr())
	require.NoError(t, err)
	assert.Equal(t, got{"by the kernel", a.self.String()}, next())
	// Through WriteTo, as pion sends: in process.
	n, err := a.WriteTo([]byte("via WriteTo"), b.self)
	require.NoError(t, err)
	assert.Equal(t, len("via WriteTo"), n)
	assert.Equal(t, got{"via WriteTo", a.self.String()}, next())
	assert.Equal(t, Traffic{Packets: 1, Bytes: uint64(len("via WriteTo"))}, a.sent.load())

	require.NoError(t, b.udp.Close())
	for range reads { //nolint:revive // drain until the reader returns
	}
	s.loops.Wait()

	// Nobody reads c: its inbox takes inboxSize datagrams, then refuses.
	c := testRelay(t, s)
	for i := range inboxSize {
		require.True(t, c.deliver([]byte("x"), a), "datagram %d", i)
	}
	assert.False(t, c.deliver([]byte("x"), a), "inbox full")
	assert.False(t, c.deliver(make([]byte, relayBufSize+1), a), "too large for the in-process path")
}
