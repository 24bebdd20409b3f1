package signaling

import (
	"encoding/json"

	"github.com/veilrtc/veil/privacy"
)

// The forced-relay invariant (docs/THREAT-MODEL.md): while a sender's
// signals are relay-filtered, nothing forwarded from it carries an IP
// literal or a .local name other than the server's relay addresses and
// 0.0.0.0/::, in any field, at any depth, in any spelling. The filters
// (scrubSDP, filterCandidate, the dialects' side-field scrubbing) make a
// good client's messages satisfy it; leakFree checks every encoded frame
// once more right before it is queued, so a field added later cannot
// bypass the filters unnoticed: it is refused instead.

// leakFree reports whether frame, the encoded message about to be queued
// for a recipient, satisfies the forced-relay invariant. A frame that does
// not is counted (veil_address_refused_total) and must not be forwarded.
// Call it only for senders whose signals are filtered.
func (s *Server) leakFree(frame []byte) bool {
	if _, found := privacy.FindLeakJSON(frame, s.cfg.TrustedRelays); found {
		s.metrics.addressRefused()
		return false
	}
	return true
}

// scrubText replaces IP literals and .local names in an optional
// free-form field (sdpMid, usernameFragment, a label, a session tag).
func scrubText(p *string) *string {
	if p == nil {
		return nil
	}
	v := privacy.ScrubAddresses(*p)
	return &v
}

// scrubJSON replaces IP literals and .local names in every string and key
// of raw JSON application data the server forwards but does not read
// (PeerJS metadata). Absent data stays absent.
func scrubJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(privacy.ScrubAddressesDeep(v))
}
