package main

import (
	"errors"
	"flag"
	"time"

	"github.com/veilrtc/veil/signaling"
)

// resumeOptions are the flags of resumable sessions (docs/PROTOCOL.md
// "Resume").
type resumeOptions struct {
	grace               time.Duration
	maxParked, maxPerIP int
}

// addFlags registers the resume flags on fs.
func (r *resumeOptions) addFlags(fs *flag.FlagSet) {
	fs.DurationVar(&r.grace, "resume-grace", signaling.DefaultResumeGrace, "how long a native peer whose connection dropped keeps its id, rooms and streams for a resume with its token (0: off)")
	fs.IntVar(&r.maxParked, "max-parked", signaling.DefaultMaxParked, "sessions waiting for a resume in total (negative: no limit)")
	fs.IntVar(&r.maxPerIP, "max-parked-per-ip", signaling.DefaultMaxParkedPerIP, "sessions waiting for a resume per client address, IPv6 per /64 (negative: no limit)")
}

// finish checks what the flags gave.
func (r *resumeOptions) finish() error {
	if r.grace < 0 {
		return errors.New("--resume-grace must not be negative (0 turns resume off)")
	}
	return nil
}

// apply copies the options into the signaling configuration.
func (r *resumeOptions) apply(c *signaling.Config) {
	c.ResumeGrace = r.grace
	if r.grace == 0 {
		c.ResumeGrace = -1 // the flag's 0 is "off"; Config's 0 is the default
	}
	c.MaxParked, c.MaxParkedPerIP = r.maxParked, r.maxPerIP
}
