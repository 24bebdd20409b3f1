package signaling

import "github.com/veilrtc/veil/privacy"

// The privacy filter as every protocol applies it, with privacy's names:
// forceRelay (Policy.ForcesRelay, SDPOptions.ForceRelay) and stripSysinfo
// (Policy.StripsSysinfo, SDPOptions.StripSysinfo). Both count what they
// drop in the metrics.

// senderPolicy is the privacy policy as it applies to one sender. It is
// fixed when the connection opens.
type senderPolicy struct {
	forceRelay   bool // the sender's signals are relay-filtered
	stripSysinfo bool // system information is removed from them
	sealedOK     bool // sealed (unreadable) payloads from the sender may pass
}

// senderPolicy returns the policy for a sender that asked (?relay=1) for
// relay filtering or not.
func (s *Server) senderPolicy(asked bool) senderPolicy {
	p := s.cfg.Policy
	return senderPolicy{forceRelay: p.ForcesRelay(asked), stripSysinfo: p.StripsSysinfo(), sealedOK: p.AllowsSealed(asked)}
}

// scrubSDP scrubs a session description; an error means it is not one.
func (s *Server) scrubSDP(sdp string, forceRelay, stripSysinfo bool) (string, error) {
	clean, st, err := privacy.ScrubSDP(sdp, privacy.SDPOptions{
		ForceRelay: forceRelay, StripSysinfo: stripSysinfo, TrustedRelays: s.cfg.TrustedRelays,
	})
	if err != nil {
		return "", err
	}
	s.metrics.candidatesDropped(st.CandidatesDropped)
	return clean, nil
}

// filterCandidate applies the relay filter to one trickle candidate in
// place; false means drop it. Under the filter its sdpMid and
// usernameFragment are scrubbed of addresses too.
func (s *Server) filterCandidate(c *iceCandidate, forceRelay bool) bool {
	out, keep := privacy.FilterRelayCandidate(c.Candidate, forceRelay, s.cfg.TrustedRelays)
	if !keep {
		s.metrics.candidatesDropped(1)
		return false
	}
	c.Candidate = out
	if forceRelay {
		// Side fields a peer reads as text: no address rides along.
		c.SDPMid = scrubText(c.SDPMid)
		c.UsernameFragment = scrubText(c.UsernameFragment)
	}
	return true
}
