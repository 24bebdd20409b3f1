package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/veilrtc/veil/privacy"
)

// runNotice prints the privacy notice for the configuration the same flags
// would run (veil privacy-notice --relay=off ...).
func runNotice(args []string) int {
	o, err := parseOptions(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "veil privacy-notice:", err)
		return 2
	}
	fmt.Print(noticeMarkdown(o))
	return 0
}

// noticeInfo describes the running configuration for the privacy notice.
func noticeInfo(o options) privacy.NoticeInfo {
	return privacy.NoticeInfo{
		Policy:            o.policy,
		ExternalTURN:      len(o.turnURLs) > 0,
		TURNCredentialTTL: o.turnTTL,
		// Per-address limits are on unless both are switched off (negative).
		RateLimiting: o.security.connectRate >= 0 || o.security.maxConnsPerIP >= 0,
		AuthTokens:   len(o.security.authSecret) > 0,
		LogLevel:     strings.ToLower(o.logLevel.String()),
		VDONinja:     !o.vdo.Disabled,
		ResumeGrace:  noticeResumeGrace(o),
	}
}

// noticeResumeGrace is the resume window the configuration gives, as
// resumeOptions.apply and signaling's defaults decide it.
func noticeResumeGrace(o options) time.Duration {
	return o.resume.grace
}

func noticeMarkdown(o options) string { return privacy.NoticeMarkdown(noticeInfo(o)) }
