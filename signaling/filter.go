package signaling

import "github.com/veilrtc/veil/privacy"

// The privacy filter as every protocol applies it: filter is whether the
// sender's signals are relay-filtered (Policy.ForcesRelay), strip whether
// system information is removed. Both count what they drop in the metrics.

// scrubSDP scrubs a session description; an error means it is not one.
func (s *Server) scrubSDP(sdp string, filter, strip bool) (string, error) {
	clean, st, err := privacy.ScrubSDP(sdp, privacy.SDPOptions{
		ForceRelay: filter, StripSysinfo: strip, TrustedRelays: s.cfg.TrustedRelays,
	})
	if err != nil {
		return "", err
	}
	s.metrics.candidatesDropped(st.CandidatesDropped)
	return clean, nil
}

// filterCandidate applies the relay filter to one trickle candidate in
// place; false means drop it.
func (s *Server) filterCandidate(c *iceCandidate, filter bool) bool {
	out, keep := privacy.FilterRelayCandidate(c.Candidate, filter, s.cfg.TrustedRelays)
	if !keep {
		s.metrics.candidatesDropped(1)
		return false
	}
	c.Candidate = out
	return true
}
