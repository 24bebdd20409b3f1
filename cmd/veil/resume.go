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
	graceSet            bool // given on the command line or in the environment
	maxParked, maxPerIP int
}

// graceFlag is --resume-grace, noting whether it was given.
type graceFlag struct{ r *resumeOptions }

func (g graceFlag) String() string {
	if g.r == nil {
		return signaling.DefaultResumeGrace.String()
	}
	return g.r.grace.String()
}

func (g graceFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	g.r.grace, g.r.graceSet = d, true
	return nil
}

// addFlags registers the resume flags on fs.
func (r *resumeOptions) addFlags(fs *flag.FlagSet) {
	r.grace = signaling.DefaultResumeGrace
	fs.Var(graceFlag{r}, "resume-grace", "`duration` a native peer whose connection dropped keeps its id, rooms and streams for a resume with its token (0: off; with --cluster, on any node)")
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

// apply copies the options into the signaling configuration. With
// --cluster too a resume may come on any node (the session moves there).
func (r *resumeOptions) apply(c *signaling.Config, _ bool) {
	switch {
	case r.grace == 0:
		c.ResumeGrace = -1 // the flag's 0 is "off"; Config's 0 is the default
	default:
		c.ResumeGrace = r.grace
	}
	c.MaxParked, c.MaxParkedPerIP = r.maxParked, r.maxPerIP
}
