package privacy

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsSpecialPurpose(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		special bool
	}{
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true}, // unmapped first
		{"::ffff:10.0.0.1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"100.64.0.1", true}, // CGNAT, missed by IsPrivate
		{"100.127.255.255", true},
		{"169.254.169.254", true}, // link-local, cloud metadata
		{"192.0.0.8", true},
		{"192.0.2.1", true},
		{"198.18.0.1", true},
		{"198.51.100.7", true},
		{"203.0.113.7", true},
		{"224.0.0.251", true}, // mDNS multicast
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"64:ff9b::7f00:1", true},   // NAT64 of 127.0.0.1
		{"64:ff9b:1::1", true},      // local-use NAT64
		{"2002:7f00:1::", true},     // 6to4 of 127.0.0.1
		{"2001::1", true},           // Teredo
		{"2001:db8::1", true},       // documentation
		{"fc00::1", true},           // unique local
		{"fd12:3456:789a::1", true}, // unique local
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"2606:4700::1%eth0", true}, // a zone never names a public peer
		{"ff02::1", true},
		{"fec0::1", true},
		{"100::1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"100.128.0.1", false}, // just past CGNAT
		{"172.32.0.1", false},  // just past 172.16/12
		{"::ffff:8.8.8.8", false},
		{"2606:4700::1", false},
		{"2a00:1450:4001:80b::200e", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			assert.Equal(t, tc.special, IsSpecialPurpose(netip.MustParseAddr(tc.addr)))
		})
	}
	assert.True(t, IsSpecialPurpose(netip.Addr{}), "invalid address")
}

func TestSpecialPurposePrefixesIsACopy(t *testing.T) {
	p := SpecialPurposePrefixes()
	assert.NotEmpty(t, p)
	for _, pr := range p {
		assert.True(t, IsSpecialPurpose(pr.Addr()), "%v", pr)
	}
	p[0] = netip.MustParsePrefix("8.8.8.0/24")
	assert.False(t, IsSpecialPurpose(netip.MustParseAddr("8.8.8.8")))
}
