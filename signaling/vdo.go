package signaling

// VDOConfig configures the VDO.Ninja dialect. (Stub; filled in by the
// VDO.Ninja work.)
type VDOConfig struct{}

// mountVDO registers the VDO.Ninja endpoint on s.mux.
func (s *Server) mountVDO() {}
