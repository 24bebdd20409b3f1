package main

import "strings"

// offerLF is the Chrome-like ~4 KB offer of signaling/bench_test.go
// (benchOfferLF): audio, video with the usual codec list, a data channel,
// and one host, one srflx and one relay candidate so a relay filter has
// work to do. Keep the two copies equal so the figures compare.
const offerLF = `v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2
a=extmap-allow-mixed
a=msid-semantic: WMS 5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21
m=audio 61000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 203.0.113.7
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1467250027 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 network-id 1 network-cost 10
a=candidate:842163049 1 udp 1686052607 198.51.100.4 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0 network-id 1 network-cost 10
a=candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0 network-id 1 network-cost 10
a=ice-ufrag:Kz4l
a=ice-pwd:p4Xq8sV2bL9mN3rT6yW1cE5h
a=ice-options:trickle
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21 0b8e7c44-1f1c-4a55-8d0e-3c2b5a6f7e81
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001142334 cname:3Kq0xW9pZ2mT7vLr
a=ssrc:1001142334 msid:5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21 0b8e7c44-1f1c-4a55-8d0e-3c2b5a6f7e81
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 127 125 39 40
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Kz4l
a=ice-pwd:p4Xq8sV2bL9mN3rT6yW1cE5h
a=ice-options:trickle
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:13 urn:3gpp:video-orientation
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type
a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing
a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
a=sendrecv
a=msid:5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21 9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:102 H264/90000
a=rtcp-fb:102 goog-remb
a=rtcp-fb:102 transport-cc
a=rtcp-fb:102 ccm fir
a=rtcp-fb:102 nack
a=rtcp-fb:102 nack pli
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=102
a=rtpmap:104 H264/90000
a=rtcp-fb:104 goog-remb
a=rtcp-fb:104 transport-cc
a=rtcp-fb:104 ccm fir
a=rtcp-fb:104 nack
a=rtcp-fb:104 nack pli
a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
a=rtpmap:105 rtx/90000
a=fmtp:105 apt=104
a=rtpmap:106 VP9/90000
a=rtcp-fb:106 goog-remb
a=rtcp-fb:106 transport-cc
a=rtcp-fb:106 ccm fir
a=rtcp-fb:106 nack
a=rtcp-fb:106 nack pli
a=fmtp:106 profile-id=0
a=rtpmap:107 rtx/90000
a=fmtp:107 apt=106
a=rtpmap:127 red/90000
a=rtpmap:125 rtx/90000
a=fmtp:125 apt=127
a=rtpmap:39 ulpfec/90000
a=rtpmap:40 flexfec-03/90000
a=fmtp:40 repair-window=10000000
a=ssrc-group:FID 2784523180 3911820133
a=ssrc:2784523180 cname:3Kq0xW9pZ2mT7vLr
a=ssrc:2784523180 msid:5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21 9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f
a=ssrc:3911820133 cname:3Kq0xW9pZ2mT7vLr
a=ssrc:3911820133 msid:5fd0a8c4-6e49-4a4b-9a3f-2f4e7c1b9d21 9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=ice-ufrag:Kz4l
a=ice-pwd:p4Xq8sV2bL9mN3rT6yW1cE5h
a=ice-options:trickle
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:2
a=sctp-port:5000
a=max-message-size:262144
`

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
