package signaling

import (
	"bytes"
	"encoding/json"
	"net/netip"

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

func trustNone(netip.Addr) bool { return false }

// scrubJSON replaces IP literals and .local names in every string and key
// of raw JSON application data the server forwards but does not read
// (PeerJS metadata). Data without an address, and absent data, pass
// byte for byte; otherwise numbers keep their digits (json.Number).
func scrubJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	// App data is no candidate: no relay address is exempt in it.
	if _, found := privacy.FindLeakJSON(raw, trustNone); !found {
		return raw, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return marshal(privacy.ScrubAddressesDeep(v))
}
