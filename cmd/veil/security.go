package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"

	"github.com/veilrtc/veil/signaling"

	"github.com/veilrtc/veil/signaling/auth"
)

// securityOptions are the flags for serving on the public internet: TLS,
// a separate metrics address, operator tokens and the abuse limits.
type securityOptions struct {
	tlsCert, tlsKey string
	metricsListen   string

	authSecret         []byte
	requireUnguessable int
	trustedProxies     []netip.Prefix

	maxConns, maxConnsPerIP   int
	connectRate, connectBurst int
	messageRate, messageBurst int
	actionRate, actionBurst   int
	byteRate, byteBurst       int

	authSecretText, authSecretFile string   // resolved into authSecret
	trustedProxyList               []string // resolved into trustedProxies
}

// addFlags registers the security flags on fs.
func (s *securityOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM, full chain): serve HTTPS/WSS; reloaded when it changes")
	fs.StringVar(&s.tlsKey, "tls-key", "", "TLS private key `file` (PEM) for --tls-cert")
	fs.StringVar(&s.metricsListen, "metrics-listen", "", "serve /metrics on this `address` (e.g. 127.0.0.1:9090) instead of on --listen")
	fs.StringVar(&s.authSecretText, "auth-secret", "", "require operator tokens (veil token) signed with this `secret` (32+ bytes) on every door: join/publish/play, PeerJS connections, TURN credentials; prefer --auth-secret-file or VEIL_AUTH_SECRET")
	fs.StringVar(&s.authSecretFile, "auth-secret-file", "", "read the operator token secret from this `file` (must not be readable by group or others)")
	fs.IntVar(&s.requireUnguessable, "require-unguessable", 0, "refuse room and stream names shorter than this many `characters` (0: any length)")
	fs.Var(listFlag{&s.trustedProxyList}, "trusted-proxy", "`CIDR` of a reverse proxy whose X-Forwarded-For/Forwarded is believed (repeatable; default none)")
	fs.IntVar(&s.maxConns, "max-connections", signaling.DefaultMaxConnections, "open connections in total; beyond it 503 (negative: no limit)")
	fs.IntVar(&s.maxConnsPerIP, "max-connections-per-ip", signaling.DefaultMaxConnectionsPerIP, "open connections per client address, IPv6 per /64; beyond it 429 (negative: no limit)")
	fs.IntVar(&s.connectRate, "connect-rate-per-ip", signaling.DefaultConnectRatePerIP, "new connections per minute per client address after the burst (negative: no limit)")
	fs.IntVar(&s.connectBurst, "connect-burst-per-ip", signaling.DefaultConnectBurstPerIP, "new connections a client address may open at once")
	fs.IntVar(&s.messageRate, "message-rate", signaling.DefaultMessageRate, "messages per second per connection after the burst (negative: no limit)")
	fs.IntVar(&s.messageBurst, "message-burst", signaling.DefaultMessageBurst, "messages a connection may send at once")
	fs.IntVar(&s.actionRate, "action-rate", signaling.DefaultActionRate, "joins, publishes and plays per second per connection after the burst (negative: no limit)")
	fs.IntVar(&s.actionBurst, "action-burst", signaling.DefaultActionBurst, "joins, publishes and plays a connection may send at once")
	fs.IntVar(&s.byteRate, "byte-rate", signaling.DefaultByteRate, "bytes per second per connection after the burst (negative: no limit)")
	fs.IntVar(&s.byteBurst, "byte-burst", 0, "`bytes` a connection may send at once (default: 1 MiB or --max-message-bytes, whichever is larger)")
}

// finish checks and resolves what the flags gave.
func (s *securityOptions) finish() error {
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	switch {
	case s.authSecretText != "" && s.authSecretFile != "":
		return errors.New("--auth-secret and --auth-secret-file: give one")
	case s.authSecretFile != "":
		b, err := readSecretFile(s.authSecretFile)
		if err != nil {
			return fmt.Errorf("--auth-secret-file: %w", err)
		}
		s.authSecret = b
	case s.authSecretText != "":
		s.authSecret = []byte(s.authSecretText)
	}
	if len(s.authSecret) > 0 && len(s.authSecret) < auth.MinSecretBytes {
		return fmt.Errorf("the auth secret must be at least %d bytes (try: head -c 32 /dev/urandom | base64)", auth.MinSecretBytes)
	}
	if s.requireUnguessable < 0 {
		return errors.New("--require-unguessable must not be negative")
	}
	var err error
	if s.trustedProxies, err = parsePrefixes(s.trustedProxyList); err != nil {
		return fmt.Errorf("--trusted-proxy: %v", err)
	}
	return nil
}

// apply copies the options into the signaling configuration.
func (s *securityOptions) apply(c *signaling.Config) {
	c.AuthSecret = s.authSecret
	c.RequireUnguessable = s.requireUnguessable
	c.TrustedProxies = s.trustedProxies
	c.MaxConnections = s.maxConns
	c.MaxConnectionsPerIP = s.maxConnsPerIP
	c.ConnectRatePerIP, c.ConnectBurstPerIP = s.connectRate, s.connectBurst
	c.MessageRate, c.MessageBurst = s.messageRate, s.messageBurst
	c.ActionRate, c.ActionBurst = s.actionRate, s.actionBurst
	c.ByteRate, c.ByteBurst = s.byteRate, s.byteBurst
}
