package main

import (
	"flag"
	"time"

	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/turn"
)

// turnLimitOptions are the flags bounding what one client can hold of the
// embedded TURN server (issue 12), and the credential budget of
// /turn-credentials.
type turnLimitOptions struct {
	maxPerIP              int
	maxLifetime           time.Duration
	peersPerAlloc         int
	peersPerIP            int
	requestRate, reqBurst int
	maxTCP, maxTCPPerIP   int
	firstMessage, tcpIdle time.Duration
	credRate, credBurst   int
}

// addFlags registers the TURN limit flags on fs.
func (t *turnLimitOptions) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&t.maxPerIP, "turn-max-allocations-per-ip", 0, "live TURN allocations per client address, IPv6 per /64 (default: 64, at most a quarter of --turn-max-allocations)")
	fs.DurationVar(&t.maxLifetime, "turn-max-allocation-lifetime", turn.DefaultMaxAllocationLifetime, "an allocation ends this long after it was made, however it is refreshed")
	fs.IntVar(&t.peersPerAlloc, "turn-max-peers-per-allocation", turn.DefaultMaxPeersPerAllocation, "distinct peer IPs one TURN allocation may get permissions for")
	fs.IntVar(&t.peersPerIP, "turn-max-peers-per-ip", turn.DefaultMaxPeersPerIP, "distinct permitted peer IPs over one client address's allocations")
	fs.IntVar(&t.requestRate, "turn-request-rate-per-ip", turn.DefaultRequestRatePerIP, "authenticated TURN requests per second per client address after the burst")
	fs.IntVar(&t.reqBurst, "turn-request-burst-per-ip", turn.DefaultRequestBurstPerIP, "authenticated TURN requests a client address may send at once")
	fs.IntVar(&t.maxTCP, "turn-max-tcp-connections", turn.DefaultMaxTCPConnections, "TURN TCP and TLS connections in total")
	fs.IntVar(&t.maxTCPPerIP, "turn-max-tcp-connections-per-ip", turn.DefaultMaxTCPConnectionsPerIP, "TURN TCP and TLS connections per client address")
	fs.DurationVar(&t.firstMessage, "turn-tcp-first-message-timeout", turn.DefaultTCPFirstMessageTimeout, "a TURN TCP/TLS connection must finish its TLS handshake and send its first bytes within this")
	fs.DurationVar(&t.tcpIdle, "turn-tcp-idle-timeout", turn.DefaultTCPIdleTimeout, "a TURN TCP/TLS connection that sends nothing for this long is closed")
	fs.IntVar(&t.credRate, "turn-credential-rate-per-ip", signaling.DefaultCredentialRatePerIP, "TURN credential sets per minute per client address from /turn-credentials after the burst (negative: no limit)")
	fs.IntVar(&t.credBurst, "turn-credential-burst-per-ip", signaling.DefaultCredentialBurstPerIP, "TURN credential sets a client address may fetch at once")
}

// applyTURN copies the options into the embedded TURN configuration.
func (t *turnLimitOptions) applyTURN(c *turn.Config) {
	c.MaxAllocationsPerIP = t.maxPerIP
	c.MaxAllocationLifetime = t.maxLifetime
	c.MaxPeersPerAllocation = t.peersPerAlloc
	c.MaxPeersPerIP = t.peersPerIP
	c.RequestRatePerIP, c.RequestBurstPerIP = t.requestRate, t.reqBurst
	c.MaxTCPConnections, c.MaxTCPConnectionsPerIP = t.maxTCP, t.maxTCPPerIP
	c.TCPFirstMessageTimeout, c.TCPIdleTimeout = t.firstMessage, t.tcpIdle
}

// applySignaling copies the credential budget into the signaling
// configuration.
func (t *turnLimitOptions) applySignaling(c *signaling.Config) {
	c.CredentialRatePerIP, c.CredentialBurstPerIP = t.credRate, t.credBurst
}
