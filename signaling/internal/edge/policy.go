package edge

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/veilrtc/veil/privacy"
)

// The privacy filter as every protocol applies it, with privacy's names:
// ForceRelay (Policy.ForcesRelay, SDPOptions.ForceRelay) and StripSysinfo
// (Policy.StripsSysinfo, SDPOptions.StripSysinfo). Both count what they
// drop in the metrics.
//
// The forced-relay invariant (docs/THREAT-MODEL.md): while a sender's
// signals are relay-filtered, nothing forwarded from it carries an IP
// literal or a .local name other than the server's relay addresses and
// 0.0.0.0/::, in any field, at any depth, in any spelling. The filters
// (ScrubSDP, FilterCandidate, the dialects' side-field scrubbing) make a
// good client's messages satisfy it; LeakFree checks every encoded frame
// once more right before it is queued, so a field added later cannot
// bypass the filters unnoticed: it is refused instead.

// SenderPolicy is the privacy policy as it applies to one sender. It is
// fixed when the connection opens.
type SenderPolicy struct {
	ForceRelay   bool // the sender's signals are relay-filtered
	StripSysinfo bool // system information is removed from them
	SealedOK     bool // sealed (unreadable) payloads from the sender may pass
}

// SenderPolicy returns the policy for a sender that asked (?relay=1) for
// relay filtering or not.
func (s *Server) SenderPolicy(asked bool) SenderPolicy {
	p := s.Config.Policy
	return SenderPolicy{ForceRelay: p.ForcesRelay(asked), StripSysinfo: p.StripsSysinfo(), SealedOK: p.AllowsSealed(asked)}
}

// ScrubSDP scrubs a session description; an error means it is not one.
func (s *Server) ScrubSDP(sdp string, forceRelay, stripSysinfo bool) (string, error) {
	clean, st, err := privacy.ScrubSDP(sdp, privacy.SDPOptions{
		ForceRelay: forceRelay, StripSysinfo: stripSysinfo, TrustedRelays: s.Config.TrustedRelays,
	})
	if err != nil {
		return "", err
	}
	s.Metrics.CandidatesDropped(st.CandidatesDropped)
	return clean, nil
}

// FilterCandidate applies the relay filter to one trickle candidate in
// place; false means drop it. Under the filter its sdpMid and
// usernameFragment are scrubbed of addresses too.
func (s *Server) FilterCandidate(c *Candidate, forceRelay bool) bool {
	out, keep := privacy.FilterRelayCandidate(c.Candidate, forceRelay, s.Config.TrustedRelays)
	if !keep {
		s.Metrics.CandidatesDropped(1)
		return false
	}
	c.Candidate = out
	if forceRelay {
		// Side fields a peer reads as text: no address rides along.
		c.SDPMid = ScrubText(c.SDPMid)
		c.UsernameFragment = ScrubText(c.UsernameFragment)
	}
	return true
}

// LeakFree reports whether frame, the encoded message about to be queued
// for a recipient, satisfies the forced-relay invariant. A frame that does
// not is counted (veil_address_refused_total) and must not be forwarded:
// the sender gets ErrAddressLeak where its dialect answers errors. Call it
// only for senders whose signals are filtered.
func (s *Server) LeakFree(frame []byte) bool {
	if _, found := privacy.FindLeakJSON(frame, s.Config.TrustedRelays); found {
		s.Metrics.addressRefused()
		return false
	}
	return true
}

// ScrubText replaces IP literals and .local names in an optional
// free-form field (sdpMid, usernameFragment, a label, a session tag).
func ScrubText(p *string) *string {
	if p == nil {
		return nil
	}
	v := privacy.ScrubAddresses(*p)
	return &v
}

// TrustNone trusts no relay address: for data that is no candidate.
func TrustNone(netip.AddrPort) bool { return false }

// ScrubJSON replaces IP literals and .local names in every string and key
// of raw JSON application data the server forwards but does not read
// (PeerJS metadata). Data without an address, and absent data, pass
// byte for byte; otherwise numbers keep their digits (json.Number).
func ScrubJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	// App data is no candidate: no relay address is exempt in it.
	if _, found := privacy.FindLeakJSON(raw, TrustNone); !found {
		return raw, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return Marshal(privacy.ScrubAddressesDeep(v))
}

// sdpBufPool holds the buffers an SDP is unescaped into.
var sdpBufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledSDPBuf is the largest buffer returned to sdpBufPool.
const maxPooledSDPBuf = 64 << 10

// AppendScrubbedSDP is the fast path's ScrubSDP: it unescapes raw, the
// JSON string of an SDP (from Fields), once into a pooled buffer, scrubs
// it and appends it to dst as a JSON string (AppendQuoted). ok=false when
// the fast path does not decide (an escape AppendUnquoted leaves to
// encoding/json, or an SDP ScrubSDP refuses): dst is then returned as it
// was and the caller takes its encoding/json path, which words the error.
func (s *Server) AppendScrubbedSDP(dst, raw []byte, forceRelay, stripSysinfo bool) (out []byte, ok bool) {
	bp := sdpBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledSDPBuf {
			sdpBufPool.Put(bp)
		}
	}()
	buf, ok := AppendUnquoted((*bp)[:0], raw)
	*bp = buf[:0]
	if !ok {
		return dst, false
	}
	// The SDP is read in place: ScrubSDP keeps nothing of its input, and
	// what it returns (which may be its input) is copied out below,
	// before the buffer goes back to the pool.
	clean, err := s.ScrubSDP(unsafe.String(unsafe.SliceData(buf), len(buf)), forceRelay, stripSysinfo)
	if err != nil {
		return dst, false
	}
	return AppendQuoted(dst, clean), true
}
