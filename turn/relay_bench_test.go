package turn

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/stretchr/testify/require"
)

// rawClient is a minimal TURN client on one UDP or TCP socket: it sets up
// an allocation and a channel with pion/stun, then writes and reads
// ChannelData itself, allocating nothing per packet, so what a benchmark
// counts per relayed packet is the server's cost, not a client library's.
type rawClient struct {
	conn  net.Conn
	tcp   bool
	creds Credentials
	relay *net.UDPAddr
	nonce stun.Nonce
	buf   []byte
}

// channelNumber is the one channel each rawClient binds (RFC 8656: the
// first of 0x4000-0x4FFF).
const channelNumber = 0x4000

func dialRaw(tb testing.TB, network, server string, creds Credentials) *rawClient {
	tb.Helper()
	conn, err := net.Dial(network, server)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close() })
	c := &rawClient{conn: conn, tcp: network == "tcp4", creds: creds, buf: make([]byte, 2048)}
	c.allocate(tb)
	return c
}

// roundTrip sends a STUN request and returns the response.
func (c *rawClient) roundTrip(tb testing.TB, setters ...stun.Setter) *stun.Message {
	tb.Helper()
	req := stun.MustBuild(setters...)
	_, err := c.conn.Write(req.Raw)
	require.NoError(tb, err)
	require.NoError(tb, c.conn.SetReadDeadline(time.Now().Add(expectTimeout)))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	var raw []byte
	if c.tcp {
		_, err = io.ReadFull(c.conn, c.buf[:20])
		require.NoError(tb, err)
		n := int(binary.BigEndian.Uint16(c.buf[2:4]))
		_, err = io.ReadFull(c.conn, c.buf[20:20+n])
		require.NoError(tb, err)
		raw = c.buf[:20+n]
	} else {
		n, err := c.conn.Read(c.buf)
		require.NoError(tb, err)
		raw = c.buf[:n]
	}
	res := &stun.Message{Raw: append([]byte(nil), raw...)}
	require.NoError(tb, res.Decode())
	return res
}

func (c *rawClient) authed(setters ...stun.Setter) []stun.Setter {
	return append(setters,
		stun.NewUsername(c.creds.Username), stun.NewRealm(DefaultRealm), c.nonce,
		stun.NewLongTermIntegrity(c.creds.Username, DefaultRealm, c.creds.Password), stun.Fingerprint)
}

var requestedUDP = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

func (c *rawClient) allocate(tb testing.TB) {
	tb.Helper()
	allocType := stun.NewType(stun.MethodAllocate, stun.ClassRequest)
	res := c.roundTrip(tb, stun.TransactionID, allocType, requestedUDP, stun.Fingerprint)
	require.NoError(tb, c.nonce.GetFrom(res))
	res = c.roundTrip(tb, c.authed(stun.TransactionID, allocType, requestedUDP)...)
	require.Equal(tb, stun.ClassSuccessResponse, res.Type.Class, "allocate: %v", res)
	var relayed stun.XORMappedAddress
	require.NoError(tb, relayed.GetFromAs(res, stun.AttrXORRelayedAddress))
	c.relay = &net.UDPAddr{IP: relayed.IP, Port: relayed.Port}
}

// bind binds channelNumber to peer, which also permits it.
func (c *rawClient) bind(tb testing.TB, peer *net.UDPAddr) {
	tb.Helper()
	res := c.roundTrip(tb, c.authed(stun.TransactionID,
		stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{channelNumber >> 8, channelNumber & 0xff, 0, 0}},
		peerAddress{IP: peer.IP, Port: peer.Port},
	)...)
	require.Equal(tb, stun.ClassSuccessResponse, res.Type.Class, "channel bind: %v", res)
}

// peerAddress is XOR-PEER-ADDRESS, encoded as XOR-MAPPED-ADDRESS is.
type peerAddress stun.XORMappedAddress

func (p peerAddress) AddTo(m *stun.Message) error {
	a := stun.XORMappedAddress(p)
	return a.AddToAs(m, stun.AttrXORPeerAddress)
}

// channelData returns a ChannelData message carrying size bytes, padded
// to a multiple of 4 as TCP requires (RFC 8656 section 12.5).
func channelData(size int) []byte {
	m := make([]byte, 4+(size+3)&^3)
	binary.BigEndian.PutUint16(m[0:2], channelNumber)
	binary.BigEndian.PutUint16(m[2:4], uint16(size)) //nolint:gosec // small
	return m
}

// readChannelData reads one ChannelData message and returns its length.
func (c *rawClient) readChannelData() (int, error) {
	if !c.tcp {
		n, err := c.conn.Read(c.buf)
		if err != nil || n < 4 {
			return 0, fmt.Errorf("read %d bytes: %w", n, err)
		}
		return int(binary.BigEndian.Uint16(c.buf[2:4])), nil
	}
	if _, err := io.ReadFull(c.conn, c.buf[:4]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(c.buf[2:4]))
	if _, err := io.ReadFull(c.conn, c.buf[4:4+(n+3)&^3]); err != nil {
		return 0, err
	}
	return n, nil
}

// relayPair is two raw clients whose allocations are bound to each other,
// as two browsers forced to relay through the same server are.
func relayPair(tb testing.TB, network string) (a, b *rawClient) {
	tb.Helper()
	ts := startServer(tb, func(c *Config) {
		c.RelayIP = netip.MustParseAddr("127.0.0.1")
	})
	server := ts.udpAddr
	if network == "tcp4" {
		server = ts.tcpAddr
	}
	a = dialRaw(tb, network, server, ts.srv.Credentials("bench-a"))
	b = dialRaw(tb, network, server, ts.srv.Credentials("bench-b"))
	a.bind(tb, b.relay)
	b.bind(tb, a.relay)
	return a, b
}

// BenchmarkRelay sends one 170-byte datagram per op from client a through
// a's allocation to b's allocation to client b (ChannelData both ways, as
// turnutils_uclient -y does): the server reads it twice and writes it
// twice. allocs/op is the server's (the raw clients allocate nothing).
func BenchmarkRelay(b *testing.B) {
	for _, network := range []string{"udp4", "tcp4"} {
		b.Run(network[:3], func(b *testing.B) {
			ca, cb := relayPair(b, network)
			msg := channelData(170)
			// The first datagram can race the channel's set-up.
			require.NoError(b, cb.conn.SetReadDeadline(time.Now().Add(expectTimeout)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := ca.conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if n, err := cb.readChannelData(); err != nil || n != 170 {
					b.Fatalf("read %d: %v", n, err)
				}
			}
		})
	}
}
