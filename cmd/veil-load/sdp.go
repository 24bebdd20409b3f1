package main

import (
	_ "embed"
	"strings"
)

// offerLF is a Chrome-like ~4 KB offer: audio, video with the usual codec
// list, a data channel, and one host, one srflx and one relay candidate so
// a relay filter has work to do. signaling/bench_test.go reads the same
// file, so the in-process and load-tool figures compare.
//
//go:embed offer.sdp
var offerLF string

// offerSDP is offerLF with the CRLF line endings browsers send.
var offerSDP = strings.ReplaceAll(offerLF, "\n", "\r\n")

// trickle are relay candidates, what a client trickles under forced relay:
// a relay filter keeps them, so every message sent is also delivered.
var trickle = []string{
	"candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:4 1 udp 41819903 203.0.113.7 61002 typ relay raddr 198.51.100.4 rport 54322 generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:5 1 tcp 25108223 203.0.113.7 61004 typ relay raddr 198.51.100.4 rport 54323 tcptype passive generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:6 1 udp 41754367 203.0.113.7 61006 typ relay raddr 198.51.100.4 rport 54324 generation 0 ufrag Kz4l network-id 1 network-cost 10",
}
