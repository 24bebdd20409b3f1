package privacy

import (
	"encoding/json"
	"slices"
	"strings"
)

// Bounds on the decoded JSON the sanitizers walk. Debug data and info
// objects are small; anything deeper or bigger is not statistics, and the
// bounds keep a hostile peer from making the server do unbounded work.
const (
	// maxSanitizeDepth is the deepest nesting kept: the value passed in is
	// at depth 0, and a value nested deeper than this becomes nil.
	maxSanitizeDepth = 16
	// maxSanitizeNodes is how many values one call keeps; object members
	// and array elements past it are left out.
	maxSanitizeNodes = 10000
	// maxStatsString is the longest string SanitizeStats keeps; statistics
	// strings are short names and ids, so a longer one becomes nil.
	maxStatsString = 1024
)

// statsKeys are the object keys SanitizeStats keeps. Leaves are names from
// the W3C "Identifiers for WebRTC's Statistics API" (RTCStats and its
// subtypes) that describe connection quality and state, never an address,
// a device or a person. Containers group reports in the shapes apps send.
// Left out on purpose, among others: address, port, relatedAddress,
// relatedPort, url, foundation, usernameFragment (candidate stats);
// networkType (says wifi/cellular); label, trackIdentifier, mid, ssrc
// (chosen by the app or random identifiers of a stream); fingerprint and
// certificate stats; qualityLimitationDurations (its keys include "cpu").
var statsKeys = []string{
	// every RTCStats
	"type", "id", "timestamp",
	// RTCRtpStreamStats, RTCCodecStats
	"kind", "transportId", "codecId", "mimeType", "clockRate", "channels", "payloadType", "sdpFmtpLine",
	// inbound / received
	"packetsReceived", "packetsLost", "packetsDiscarded", "jitter", "bytesReceived", "headerBytesReceived",
	"lastPacketReceivedTimestamp", "jitterBufferDelay", "jitterBufferTargetDelay", "jitterBufferEmittedCount",
	"totalSamplesReceived", "concealedSamples", "silentConcealedSamples", "concealmentEvents",
	"insertedSamplesForDeceleration", "removedSamplesForAcceleration",
	"framesReceived", "framesDecoded", "keyFramesDecoded", "framesDropped", "framesRendered",
	"frameWidth", "frameHeight", "framesPerSecond", "qpSum", "totalDecodeTime", "totalInterFrameDelay",
	"totalSquaredInterFrameDelay", "freezeCount", "pauseCount", "totalFreezesDuration", "totalPauseDuration",
	"nackCount", "firCount", "pliCount", "fecPacketsReceived", "fecPacketsDiscarded",
	"audioLevel", "totalAudioEnergy", "totalSamplesDuration",
	// outbound / sent
	"packetsSent", "bytesSent", "headerBytesSent", "retransmittedPacketsSent", "retransmittedBytesSent",
	"targetBitrate", "framesEncoded", "keyFramesEncoded", "totalEncodeTime", "totalEncodedBytesTarget",
	"framesSent", "hugeFramesSent", "totalPacketSendDelay", "qualityLimitationReason",
	"qualityLimitationResolutionChanges", "active",
	// remote-inbound-rtp / remote-outbound-rtp
	"roundTripTime", "totalRoundTripTime", "roundTripTimeMeasurements", "fractionLost",
	"localId", "remoteId", "remoteTimestamp", "reportsSent", "reportsReceived",
	// media-source
	"width", "height", "frames",
	// candidate-pair
	"state", "nominated", "currentRoundTripTime", "availableOutgoingBitrate", "availableIncomingBitrate",
	"requestsSent", "requestsReceived", "responsesSent", "responsesReceived", "consentRequestsSent",
	"packetsDiscardedOnSend", "bytesDiscardedOnSend", "lastPacketSentTimestamp",
	"localCandidateId", "remoteCandidateId",
	// local-candidate / remote-candidate: the type and transport only
	"candidateType", "protocol", "relayProtocol", "isRemote",
	// transport
	"iceState", "iceRole", "dtlsState", "dtlsRole", "tlsVersion", "dtlsCipher", "srtpCipher",
	"selectedCandidatePairId", "selectedCandidatePairChanges",
	// data-channel, peer-connection
	"dataChannelIdentifier", "messagesSent", "messagesReceived", "dataChannelsOpened", "dataChannelsClosed",
	// connection state as apps report it (RTCPeerConnection attributes)
	"connectionState", "iceConnectionState", "iceGatheringState", "signalingState",
	// containers, sanitized recursively
	"stats", "reports", "report", "candidatePair", "selectedCandidatePair", "localCandidate", "remoteCandidate",
	"inbound", "outbound", "inboundRtp", "outboundRtp", "remoteInboundRtp", "remoteOutboundRtp",
	"transport", "codec", "codecs", "audio", "video", "local", "remote", "tracks", "streams",
}

var statsKeySet = func() map[string]bool {
	m := make(map[string]bool, len(statsKeys))
	for _, k := range statsKeys {
		m[k] = true
	}
	return m
}()

// AllowedStatsKeys returns the object keys SanitizeStats keeps, sorted.
// They are WebRTC statistics names (RTCStats and its subtypes: type, id,
// timestamp, kind, state, byte, packet, frame, jitter, round-trip-time and
// bitrate counters, candidateType, protocol, relayProtocol, the ICE, DTLS,
// signaling and connection states, codec mimeType and clockRate, audioLevel
// ...) plus container keys (stats, reports, candidatePair, inbound,
// outbound, local, remote, transport, codec, audio, video ...) whose values
// are sanitized the same way. Safe for concurrent use.
func AllowedStatsKeys() []string {
	out := slices.Clone(statsKeys)
	slices.Sort(out)
	return out
}

// deniedKeys never pass SanitizeStats or StripSysinfo, matched on the key
// normalised by normKey. They name addresses or describe the device, the
// browser or the person (what fingerprinting scripts read from navigator).
var deniedKeys = map[string]bool{
	// addresses
	"address": true, "addresses": true, "ip": true, "ips": true, "ipaddress": true, "localaddress": true,
	"remoteaddress": true, "relatedaddress": true, "port": true, "relatedport": true, "url": true, "urls": true,
	"hostname": true,
	// browser and system
	"useragent": true, "ua": true, "useragentdata": true, "appversion": true, "appname": true,
	"appcodename": true, "product": true, "productsub": true, "platform": true, "os": true, "oscpu": true,
	"browser": true, "engine": true, "cpu": true, "cpus": true, "cpuclass": true, "gpu": true, "gpgpu": true,
	"memory": true, "battery": true, "charging": true, "vendor": true, "vendorsub": true, "renderer": true,
	"screen": true, "timezone": true, "tz": true, "language": true, "languages": true, "locale": true,
	"plugins": true, "mimetypes": true, "webdriver": true, "fonts": true, "model": true,
	"manufacturer": true, "brand": true, "brands": true, "mobile": true, "build": true,
}

// deniedKeyPrefixes catch the families of the keys above ("hardwareConcurrency",
// "deviceMemory", "osVersion", "screenWidth", "batteryLevel", "webglVendor").
var deniedKeyPrefixes = []string{
	"hardware", "device", "battery", "screen", "gpu", "cpu", "webgl", "useragent", "timezone",
	"platform", "browser", "navigator", "memory", "osversion", "osname", "language",
}

// normKey folds case and drops separators so "User-Agent", "user_agent"
// and "userAgent" are one key.
func normKey(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '.':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, k)
}

func isDeniedKey(k string) bool {
	n := normKey(k)
	if deniedKeys[n] {
		return true
	}
	for _, p := range deniedKeyPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// SanitizeStats sanitizes a debug or statistics payload, given as decoded
// JSON (map[string]any, []any, string, float64, json.Number, bool, nil).
//
// Objects keep only keys in AllowedStatsKeys (exact spelling); their values
// are sanitized recursively, so a container key keeps only allowed keys
// inside it. Keys that name an address or describe the device (address, ip,
// port, relatedAddress, url, userAgent, platform, os, browser, cpu, gpu,
// memory, battery, hardwareConcurrency, deviceMemory ...) never pass, in
// any spelling. Strings keep their text with every IP literal replaced
// (ScrubIPs); strings longer than 1024 bytes become nil. Arrays keep their
// elements, sanitized. Values of any other Go type become nil.
//
// Work is bounded: a value nested more than 16 levels deep becomes nil, and
// after 10000 values the rest of the payload is left out. An object keyed
// by report id (Object.fromEntries(report)) loses every report, since ids
// are not on the allowlist; send reports as an array (stats:
// [...report.values()]).
//
// Safe for concurrent use.
func SanitizeStats(v any) any {
	budget := maxSanitizeNodes
	return sanitize(v, 0, &budget, true)
}

// StripSysinfo removes system information from a decoded JSON value of any
// shape (the "info" objects VDO.Ninja clients send). Object members whose
// key names an address or describes the device, browser or person
// (useragent, ua, platform, os, browser, cpu, gpu, memory, battery,
// hardware*, device*, vendor, renderer, screen*, timezone, language(s),
// plugins, webgl*, ip, address, url ...) are removed, matched without
// regard to case and separators. Every other member passes, with IP
// literals in strings and keys replaced (ScrubIPs). Values of types that
// JSON does not decode to become nil.
//
// Work is bounded like SanitizeStats: beyond 16 levels a value becomes
// nil, after 10000 values the rest is left out.
//
// Safe for concurrent use.
func StripSysinfo(v any) any {
	budget := maxSanitizeNodes
	return sanitize(v, 0, &budget, false)
}

// sanitize walks v. stats selects SanitizeStats' allowlist; otherwise only
// the denylist applies (StripSysinfo).
func sanitize(v any, depth int, budget *int, stats bool) any {
	if depth > maxSanitizeDepth {
		return nil
	}
	*budget--
	switch x := v.(type) {
	case nil, bool, float64, json.Number:
		return x
	case string:
		if stats && len(x) > maxStatsString {
			return nil
		}
		return ScrubIPs(x)
	case []any:
		out := make([]any, 0, min(len(x), max(*budget, 0)))
		for _, e := range x {
			if *budget <= 0 {
				break
			}
			out = append(out, sanitize(e, depth+1, budget, stats))
		}
		return out
	case map[string]any:
		// Sorted, so that which members survive the budget (and which wins
		// when two keys scrub to the same text) does not depend on map
		// iteration order.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			if *budget <= 0 {
				break
			}
			if isDeniedKey(k) || (stats && !statsKeySet[k]) {
				continue
			}
			key := k
			if !stats {
				key = ScrubIPs(k)
				if isDeniedKey(key) {
					continue
				}
			}
			out[key] = sanitize(x[k], depth+1, budget, stats)
		}
		return out
	default:
		return nil
	}
}
