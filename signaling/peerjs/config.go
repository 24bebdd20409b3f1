package peerjs

import (
	"fmt"
	"strings"
	"time"
)

// Defaults of Config. ExpireTimeout and AliveTimeout are those of
// the `peer` server 1.0.2 (expire_timeout 5000, alive_timeout 90000).
const (
	DefaultPath          = "/peerjs/"
	DefaultKey           = "peerjs"
	DefaultExpireTimeout = 5 * time.Second
	DefaultAliveTimeout  = 90 * time.Second
)

// Config configures the PeerJS dialect (signaling.Config.PeerJS). A zero
// field means its default.
type Config struct {
	// Disabled turns the dialect off. Default: false, the PeerJS endpoints
	// are mounted.
	Disabled bool
	// Path is where the dialect is mounted, as the PeerJS client's `path`
	// option: WebSocket at {Path}peerjs, HTTP at {Path}{Key}/id and so on.
	// A missing leading or trailing slash is added. Default
	// DefaultPath ("/peerjs/").
	Path string
	// Key is the PeerJS API key clients must send (the client's `key`
	// option). It is not a secret: it is in every client's code. Default
	// DefaultKey ("peerjs").
	Key string
	// Discovery serves the list of connected PeerJS ids at
	// GET {Path}{Key}/peers. Default: false, the request gets 401, since a
	// list of ids lets anyone call anyone.
	Discovery bool
	// ExpireTimeout is how long a message for an id that is not connected
	// is held before the sender gets EXPIRE (peer-unavailable). Default
	// DefaultExpireTimeout (5 s).
	ExpireTimeout time.Duration
	// AliveTimeout drops a client that sent nothing, not even a HEARTBEAT
	// (the client sends one every 5 s), for this long. Default
	// DefaultAliveTimeout (90 s).
	AliveTimeout time.Duration
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	if c.Key == "" {
		c.Key = DefaultKey
	}
	if c.ExpireTimeout == 0 {
		c.ExpireTimeout = DefaultExpireTimeout
	}
	if c.AliveTimeout == 0 {
		c.AliveTimeout = DefaultAliveTimeout
	}
	return c
}

// Validate checks a config that went through WithDefaults. Path and Key
// become http.ServeMux patterns, so only plain URL path characters pass.
func (c Config) Validate() error {
	if c.Disabled {
		return nil
	}
	if !plainPath(c.Path, true) || strings.Contains(c.Path, "//") {
		return fmt.Errorf("%w: Path must be a URL path of letters, digits and - . _ ~ /", errConfig)
	}
	if !plainPath(c.Key, false) {
		return fmt.Errorf("%w: Key must be letters, digits and - . _ ~", errConfig)
	}
	if c.ExpireTimeout < 0 || c.AliveTimeout < 0 {
		return fmt.Errorf("%w: timeouts must not be negative", errConfig)
	}
	return nil
}

func plainPath(s string, slash bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		case c == '/' && slash:
		default:
			return false
		}
	}
	return true
}
