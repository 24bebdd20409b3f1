package signaling

// PeerJSConfig configures the PeerJS dialect. (Stub; filled in by the
// PeerJS work.)
type PeerJSConfig struct{}

// mountPeerJS registers the PeerJS endpoints on s.mux.
func (s *Server) mountPeerJS() {}
