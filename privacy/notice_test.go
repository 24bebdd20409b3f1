package privacy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/net/html"
)

func TestNoticeClaimsFollowConfig(t *testing.T) {
	const (
		noLeakClaim   = "peers do not learn your IP address through this server"
		mayLearn      = "may learn your IP addresses"
		cannotInspect = "cannot inspect"
		noGuarantee   = "cannot guarantee relay"
		externalTURN  = "external TURN service"
		nobodyElse    = "Nobody else"
	)
	for _, relay := range []RelayPolicy{RelayForce, RelayOptional, RelayOff} {
		for _, sealed := range []SealedPolicy{SealedDeny, SealedAllow} {
			for _, ext := range []bool{false, true} {
				p := DefaultPolicy()
				p.Relay, p.Sealed = relay, sealed
				n := NoticeInfo{Policy: p, ExternalTURN: ext, TURNCredentialTTL: 10 * time.Minute}
				t.Run(fmt.Sprintf("%s/%s/external=%v", relay, sealed, ext), func(t *testing.T) {
					for format, out := range map[string]string{"markdown": NoticeMarkdown(n), "html": htmlText(t, NoticeHTML(n))} {
						has := func(s string) bool { return strings.Contains(out, s) }
						// Shape of a privacy notice.
						for _, h := range []string{"What is processed", "Why", "How long", "Who else receives it", "What you can ask", "Settings on this server"} {
							assert.True(t, has(h), "%s: section %q", format, h)
						}
						assert.True(t, has("deleted from memory when your connection closes"), format)
						assert.True(t, has("Logs contain no IP addresses"), format)
						assert.False(t, has("Full logging"), format)
						assert.True(t, has("nothing to access, correct, export or delete"), format)
						assert.True(t, has("10 minutes"), format)

						// Never more than the configuration guarantees.
						assert.Equal(t, relay == RelayForce, has(noLeakClaim), "%s: no-leak claim", format)
						assert.Equal(t, relay != RelayForce, has(mayLearn), "%s: may-learn warning", format)
						assert.Equal(t, sealed == SealedAllow, has(cannotInspect) && has(noGuarantee), "%s: sealed warning", format)
						assert.Equal(t, ext, has(externalTURN), "%s: external TURN named", format)
						assert.Equal(t, !ext, has(nobodyElse), "%s: nobody else", format)
					}
				})
			}
		}
	}
}

func TestNoticeOptionalFeatures(t *testing.T) {
	base := NoticeInfo{Policy: DefaultPolicy()}
	md := NoticeMarkdown(base)
	assert.NotContains(t, md, "rate limit")
	assert.NotContains(t, md, "access token")
	assert.NotContains(t, md, "operated by")
	assert.Contains(t, md, "a short time", "zero TTL")
	assert.Contains(t, md, "is removed before messages are forwarded")
	assert.NotContains(t, md, "connection drops")

	full := base
	full.RateLimiting, full.AuthTokens, full.Operator = true, true, "Example e.V."
	full.Policy.Sysinfo = SysinfoPass
	full.TURNCredentialTTL = time.Hour
	full.ResumeGrace = 30 * time.Second
	md = NoticeMarkdown(full)
	assert.Contains(t, md, "connection drops without being closed")
	assert.Contains(t, md, "up to 30s")
	assert.Contains(t, md, "rate limit")
	assert.Contains(t, md, "access token")
	assert.Contains(t, md, "operated by Example e.V.")
	assert.Contains(t, md, "1 hour")
	assert.Contains(t, md, "forwarded unchanged")
	assert.NotContains(t, md, "is removed before messages are forwarded")
}

func TestNoticeFullLogs(t *testing.T) {
	p := DefaultPolicy()
	p.Logs = LogsFull
	md := NoticeMarkdown(NoticeInfo{Policy: p})
	assert.Contains(t, md, "Full logging is turned on")
	assert.Contains(t, md, "except in logs")
	assert.NotContains(t, md, "Logs contain no IP addresses")

	p.Logs = "garbage" // not validated: must not be described as redacted
	assert.NotContains(t, NoticeMarkdown(NoticeInfo{Policy: p}), "Logs contain no IP addresses")
}

func TestNoticeEscapesOperator(t *testing.T) {
	n := NoticeInfo{Policy: DefaultPolicy(), Operator: "<script>alert(1)</script> [x](https://evil.example)\n# heading"}
	page := NoticeHTML(n)
	assert.NotContains(t, page, "<script>")
	assert.Contains(t, page, "&lt;script&gt;")

	md := NoticeMarkdown(n)
	assert.NotContains(t, md, "<script>")
	assert.NotContains(t, md, "](https://")
	assert.NotContains(t, md, "\n# heading", "operator text stays on one line")
}

func TestNoticeHTMLSelfContained(t *testing.T) {
	page := NoticeHTML(NoticeInfo{Policy: DefaultPolicy(), Operator: "Example", ExternalTURN: true})
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"))
	for _, bad := range []string{"<script", "<link", "src=", "http://", "https://", "@import", "url("} {
		assert.NotContains(t, page, bad)
	}
	_, err := html.Parse(strings.NewReader(page))
	assert.NoError(t, err)
}

// htmlText returns the text content of an HTML page, so the same phrases can
// be checked in both formats.
func htmlText(t *testing.T, page string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String()
}

// TestNoticeLogLevel: the notice names the configured level and what it
// logs, and claims redaction at it only when logs are redacted.
func TestNoticeLogLevel(t *testing.T) {
	debug := NoticeMarkdown(NoticeInfo{Policy: DefaultPolicy(), LogLevel: "debug"})
	assert.Contains(t, debug, "Log level: debug.")
	assert.Contains(t, debug, "messages of the software it is built on")
	assert.Contains(t, debug, "At this level too")
	info := NoticeMarkdown(NoticeInfo{Policy: DefaultPolicy(), LogLevel: "info"})
	assert.Contains(t, info, "Log level: info.")
	assert.NotContains(t, info, "debugging detail")
	assert.NotContains(t, NoticeMarkdown(NoticeInfo{Policy: DefaultPolicy()}), "Log level:")
	full := DefaultPolicy()
	full.Logs = LogsFull
	assert.NotContains(t, NoticeMarkdown(NoticeInfo{Policy: full, LogLevel: "debug"}), "At this level too")
}

// TestVDONinjaText: what the notice and /privacy tell VDO.Ninja app users
// never claims more than the policy holds: the app's data-channel
// renegotiation bypasses the server, and &relay on every page is needed.
func TestVDONinjaText(t *testing.T) {
	for _, tc := range []struct {
		name    string
		relay   RelayPolicy
		sealed  SealedPolicy
		want    []string
		mustNot []string
	}{
		{"force, deny", RelayForce, SealedDeny, []string{"&relay", "data channel", "&password=false", "refused"}, []string{"without inspection"}},
		{"force, allow", RelayForce, SealedAllow, []string{"&relay", "data channel", "without inspection"}, []string{"refused"}},
		{"optional", RelayOptional, SealedDeny, []string{"asking for relay", "&relay", "data channel"}, nil},
		{"off", RelayOff, SealedDeny, []string{"may learn each other's IP addresses"}, []string{"filters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			p.Relay, p.Sealed = tc.relay, tc.sealed
			text := VDONinjaText(p)
			for _, w := range tc.want {
				assert.Contains(t, text, w)
			}
			for _, w := range tc.mustNot {
				assert.NotContains(t, text, w)
			}
			md := NoticeMarkdown(NoticeInfo{Policy: p, VDONinja: true})
			assert.Contains(t, md, "VDO.Ninja app")
			assert.NotContains(t, NoticeMarkdown(NoticeInfo{Policy: p}), "VDO.Ninja")
		})
	}
}
