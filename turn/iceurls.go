package turn

import (
	"net"
	"strconv"
	"strings"
)

// ICEURLs returns the TURN URLs (RFC 7065) for a server reachable at host:
// turn:HOST:PORT?transport=udp, turn:HOST:PORT?transport=tcp and
// turns:HOST:PORT?transport=tcp, in that order. A port of 0 omits that
// URL. IPv6 hosts are bracketed (with or without brackets on input). It is
// a pure function, safe for concurrent use.
func ICEURLs(host string, udpPort, tcpPort, tlsPort int) []string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	var urls []string
	add := func(scheme string, port int, transport string) {
		if port > 0 {
			urls = append(urls, scheme+":"+net.JoinHostPort(host, strconv.Itoa(port))+"?transport="+transport)
		}
	}
	add("turn", udpPort, "udp")
	add("turn", tcpPort, "tcp")
	add("turns", tlsPort, "tcp")
	return urls
}
