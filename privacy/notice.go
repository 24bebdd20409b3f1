package privacy

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// NoticeInfo is the running configuration a privacy notice is generated
// from. Every statement in the notice follows from these fields, so the
// notice never promises more than the server does.
type NoticeInfo struct {
	// Policy is the effective policy.
	Policy Policy
	// Operator names who runs the server (a person, an organisation, a
	// contact address); empty leaves it out.
	Operator string
	// ExternalTURN is true when relay traffic goes through an external TURN
	// service (--turn-url) instead of the embedded one.
	ExternalTURN bool
	// TURNCredentialTTL is how long issued TURN credentials are valid; zero
	// is described as "a short time".
	TURNCredentialTTL time.Duration
	// RateLimiting is true when the server counts requests per address.
	RateLimiting bool
	// AuthTokens is true when joining requires an access token.
	AuthTokens bool
	// LogLevel is the configured log level ("debug", "info", "warn",
	// "error"); empty leaves it out. The notice says what that level
	// logs, and that the redaction holds at it.
	LogLevel string
	// VDONinja is true when the server speaks VDO.Ninja's handshake
	// dialects: the notice then says what it can and cannot guarantee for
	// the VDO.Ninja app (VDONinjaText).
	VDONinja bool
	// ResumeGrace is how long a session whose connection dropped is kept
	// for a reconnect (signaling.Config.ResumeGrace); zero or negative:
	// none, and the notice says nothing of it.
	ResumeGrace time.Duration
}

// noticeSection is one heading of the notice.
type noticeSection struct {
	Heading string
	Paras   []string
	Items   []string
}

type noticeDoc struct {
	Title    string
	Intro    []string
	Sections []noticeSection
}

// buildNotice writes the notice; esc escapes configured text (the
// operator) for the output format, the fixed text needs no escaping in
// either format. The order of sections
// follows the questions privacy notices answer: what, why, how long, who
// else, your rights, then what the settings mean.
func buildNotice(n NoticeInfo, esc func(string) string) noticeDoc {
	p := n.Policy
	op := esc(strings.Join(strings.Fields(n.Operator), " ")) // one line, whatever was configured
	turnParty := "this server's own TURN relay"
	if n.ExternalTURN {
		turnParty = "an external TURN service"
	}

	d := noticeDoc{Title: "Privacy notice"}
	d.Intro = append(d.Intro,
		"This server runs veil, a WebRTC signaling server: it introduces browsers and apps to each other so that they can "+
			"connect for calls and data transfer, and it can relay their traffic so that they do not learn each other's IP addresses. "+
			"This notice is generated from the server's running configuration.")
	if op != "" {
		d.Intro = append(d.Intro, "This server is operated by "+op+".")
	}

	// What is processed.
	what := noticeSection{Heading: "What is processed"}
	ipUse := "to keep your connection open and to relay traffic through TURN"
	if n.RateLimiting {
		ipUse += ", and to apply rate limits that protect the server from abuse"
	}
	what.Items = append(what.Items,
		"Your IP address and port, when you connect to the signaling server and to "+turnParty+": "+ipUse+". "+
			"They are held in memory, only while they are needed for that.",
		"The names of the rooms and streams you use, and the peer id the server gives your connection (random, new for every connection): "+
			"in memory, while you are connected, to deliver messages to the right peers.",
		"Signaling messages (session descriptions, network candidates, debug data): relayed to the peers they are addressed to, not stored.",
		"TURN credentials: issued to your connection and valid for "+ttlText(n.TURNCredentialTTL)+"; they contain the random peer id and an expiry time, not your name.",
	)
	if n.AuthTokens {
		what.Items = append(what.Items, "The access token you present to join: checked when you join and kept in memory only while you are connected.")
	}
	what.Paras = append(what.Paras,
		"Your audio, video and data do not pass through the signaling server. They travel directly between peers or through "+turnParty+
			", encrypted end to end by WebRTC (DTLS and SRTP): a TURN relay forwards them without being able to read them.")

	why := noticeSection{Heading: "Why"}
	why.Items = append(why.Items,
		"To provide the service you use: letting peers find each other and set up a connection.",
		"To relay traffic, where the relay setting below applies, so that peers do not learn each other's IP addresses.")
	if n.RateLimiting {
		why.Items = append(why.Items, "To protect the server from abuse, by limiting how many requests one address can make.")
	}
	if n.AuthTokens {
		why.Items = append(why.Items, "To let only holders of an access token use the server.")
	}

	howLong := noticeSection{Heading: "How long"}
	howLong.Items = append(howLong.Items,
		"Your room memberships, stream names, peer id and pending requests are deleted from memory when your connection closes. "+
			"The server itself writes nothing about you to disk.")
	if n.ResumeGrace > 0 {
		howLong.Items = append(howLong.Items,
			"If your connection drops without being closed (a network change, say), they are kept in memory for up to "+ttlText(n.ResumeGrace)+
				", with the messages sent to you meanwhile, so that your app can reconnect to the same session; then they are deleted. "+
				"Closing the page or the app deletes them at once.")
	}
	howLong.Items = append(howLong.Items,
		logsText(p),
		"A TURN relay allocation lasts as long as your call uses it and ends when it is closed or times out; the credentials stop being accepted for new allocations after "+
			ttlText(n.TURNCredentialTTL)+".")
	if n.RateLimiting {
		howLong.Items = append(howLong.Items, "Rate-limit counters are kept in memory only for as long as the limit needs them.")
	}
	if n.ExternalTURN {
		howLong.Items = append(howLong.Items, "The external TURN service keeps data according to its own policy, which this notice cannot describe.")
	}

	who := noticeSection{Heading: "Who else receives it"}
	who.Items = append(who.Items, "The peers you connect to receive the signaling messages you send them. "+peerAddressText(p))
	if n.ExternalTURN {
		who.Items = append(who.Items,
			"The external TURN service that relays traffic receives your IP address and port, the short-lived credential and your encrypted traffic. "+
				"It is a separate service; its own privacy terms apply.")
	} else {
		who.Items = append(who.Items, "Nobody else. The TURN relay is part of this server, and no data is shared with third parties.")
	}

	rights := noticeSection{Heading: "What you can ask"}
	rights.Paras = append(rights.Paras,
		"Because nothing is stored after you disconnect, there is nothing to access, correct, export or delete afterwards. "+
			"While you are connected, disconnecting deletes everything the server holds about you.")
	if op != "" {
		rights.Paras = append(rights.Paras, "Questions about this server go to "+op+".")
	}

	settings := noticeSection{Heading: "Settings on this server"}
	settings.Items = append(settings.Items,
		"Relay: "+string(p.Relay)+". "+relayText(p),
		"System information: "+string(p.Sysinfo)+". "+sysinfoText(p),
		"Sealed payloads: "+string(p.Sealed)+". "+sealedText(p),
		"Retention: "+p.Retention+". "+retentionText(p),
		"Logs: "+p.Logs+". "+logsText(p),
	)
	if n.LogLevel != "" {
		settings.Items = append(settings.Items, "Log level: "+n.LogLevel+". "+logLevelText(p, n.LogLevel))
	}
	settings.Paras = append(settings.Paras, "The same settings are published as JSON at /privacy, so a client can check them before joining.")

	d.Sections = []noticeSection{what, why, howLong, who, rights, settings}
	if n.VDONinja {
		d.Sections = append(d.Sections, noticeSection{Heading: "VDO.Ninja app", Paras: []string{VDONinjaText(p)}})
	}
	return d
}

// VDONinjaText says what a server with policy p can guarantee to users of
// the VDO.Ninja web app, which sets its connections up through the server
// but renegotiates them afterwards over its own data channel, peer to
// peer, where no server can filter anything. The privacy notice and the
// JSON at /privacy carry the same text. Safe for concurrent use.
func VDONinjaText(p Policy) string {
	const after = "After the first connection, the VDO.Ninja app renegotiates its connections (camera or screen changes, network changes) " +
		"directly between the peers over its own data channel, not through this server, so this server cannot filter what is sent there. "
	switch {
	case p.Relay == RelayOff:
		return "Network candidates are forwarded unchanged, so peers using the VDO.Ninja app may learn each other's IP addresses."
	case p.Relay == RelayOptional:
		return "Only VDO.Ninja pages that connect asking for relay have their handshake filtered. " + after +
			"Your IP address stays hidden from other peers only if every page in the session was opened with &relay, which makes the app itself use the relay only."
	}
	s := "This server filters the handshake of the VDO.Ninja app as it does for every client: only relay candidates, no addresses. " + after +
		"Your IP address stays hidden from other peers only if every page in the session was opened with &relay, which makes the app itself use the relay only."
	if p.Sealed == SealedAllow {
		return s + " Encrypted handshakes (the app's default password) are forwarded without inspection and may reveal addresses."
	}
	return s + " Encrypted handshakes (the app's default password) are refused; the app must be opened with &password=false."
}

func retentionText(p Policy) string {
	if p.Logs == LogsRedacted {
		return "Nothing is kept after you disconnect."
	}
	return "Nothing is kept after you disconnect, except in logs (see Logs)."
}

// logsText describes the logs; anything but LogsRedacted is described as
// full logs, so the notice never claims redaction it cannot vouch for.
func logsText(p Policy) string {
	if p.Logs == LogsRedacted {
		return "Logs contain no IP addresses, room or stream names, peer ids, tokens or TURN user names. Where a log line must tell connections apart it shows a short tag " +
			"computed with a key that exists only in the server's memory and changes on every restart, so a tag cannot be turned back into the name or address."
	}
	return "Full logging is turned on: log lines may contain IP addresses, room and stream names, peer ids and TURN user names. " +
		"How long they are kept depends on how the operator stores the server's logs."
}

// logLevelText says what the configured level logs. The redaction claim
// is made only under LogsRedacted, as in logsText.
func logLevelText(p Policy, level string) string {
	var what string
	switch strings.ToLower(level) {
	case "debug":
		what = "Besides what it logs at info level, the server logs debugging detail: refused and rate-limited requests, and the messages of the software it is built on (TURN, HTTP, TLS)."
	case "info":
		what = "The server logs when it starts and stops, configuration problems and aggregate counts such as refused connections."
	default:
		what = "The server logs only warnings and errors."
	}
	if p.Logs == LogsRedacted {
		what += " At this level too, addresses, ports, names, ids, tokens and TURN user names are removed or replaced by tags before a line is written."
	}
	return what
}

func ttlText(d time.Duration) string {
	d = d.Round(time.Second)
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "a short time"
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return d.String()
	}
}

// peerAddressText says what peers can learn about each other's addresses;
// it must be no stronger than the relay and sealed settings make true.
func peerAddressText(p Policy) string {
	switch p.Relay {
	case RelayOff:
		return "The server forwards network candidates unchanged, so the peers you connect to may learn your IP addresses (local and public)."
	case RelayOptional:
		s := "If you connect asking for relay, the server forwards only relay candidates from you and hides your addresses in what it forwards; " +
			"if you do not, the peers you connect to may learn your IP addresses (local and public)."
		if p.Sealed == SealedAllow {
			s += " Sealed payloads are forwarded without inspection, so they may reveal your addresses either way."
		}
		return s
	default:
		s := "The server forwards only relay candidates and replaces addresses in what it forwards with 0.0.0.0, so peers do not learn your IP address through this server."
		if p.Sealed == SealedAllow {
			s += " This does not hold for sealed (end-to-end encrypted) payloads, which the server cannot inspect: a peer that sends them may reveal its addresses."
		}
		return s
	}
}

func relayText(p Policy) string {
	switch p.Relay {
	case RelayOff:
		return "Network candidates are forwarded unchanged; peers may connect directly and learn each other's IP addresses."
	case RelayOptional:
		return "Only peers that ask for relay (by connecting with relay=1) have their candidates filtered to relay only; other peers may learn each other's IP addresses."
	default:
		return "Every peer is told to use the relay, and the server removes every candidate that is not a relay candidate and every real address " +
			"from the signaling messages it forwards, even if a client ignores the instruction."
	}
}

func sysinfoText(p Policy) string {
	if p.Sysinfo == SysinfoPass {
		return "System information that clients include in messages (browser version, user agent, device details) is forwarded unchanged."
	}
	return "System information that clients include in messages (browser version in session descriptions, user agent, platform, " +
		"CPU, GPU, memory, battery) is removed before messages are forwarded; debug data keeps only connection statistics."
}

func sealedText(p Policy) string {
	if p.Sealed == SealedAllow {
		return "Payloads that clients encrypt end to end are forwarded. The server cannot inspect them, so it cannot remove addresses from them " +
			"and cannot guarantee relay for peers that send them."
	}
	if p.Relay == RelayOff {
		return "Payloads that clients encrypt end to end are forwarded, since no filtering applies with relay off."
	}
	return "Payloads that clients encrypt end to end are refused from peers whose messages are filtered, because the server could not check them."
}

// markdownEscaper escapes the characters that carry meaning in Markdown
// (and raw HTML, which Markdown passes through), for text that comes from
// configuration.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `{`, `\{`, `}`, `\}`, `[`, `\[`, `]`, `\]`,
	`<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`, `(`, `\(`, `)`, `\)`, `#`, `\#`, `+`, `\+`, `-`, `\-`,
	`!`, `\!`, `|`, `\|`, `~`, `\~`,
)

// NoticeMarkdown renders the privacy notice an operator can publish, as
// Markdown, from the running configuration: what is processed, why, for
// how long, who else receives it, what a user can ask, and what the
// relay, sysinfo and sealed settings mean. Configured text (the operator)
// is escaped. Safe for concurrent use.
func NoticeMarkdown(n NoticeInfo) string {
	d := buildNotice(n, markdownEscaper.Replace)
	var b strings.Builder
	b.WriteString("# " + d.Title + "\n")
	for _, p := range d.Intro {
		b.WriteString("\n" + p + "\n")
	}
	for _, s := range d.Sections {
		b.WriteString("\n## " + s.Heading + "\n\n")
		for _, it := range s.Items {
			b.WriteString("- " + it + "\n")
		}
		for i, p := range s.Paras {
			if i > 0 || len(s.Items) > 0 {
				b.WriteString("\n")
			}
			b.WriteString(p + "\n")
		}
	}
	return b.String()
}

// noticeHTML is self-contained: inline style, no scripts, no external
// resources, so publishing it leaks no visitor to a third party.
var noticeHTML = template.Must(template.New("notice").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; background: #fff; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
li { margin: .4rem 0; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{range .Intro}}<p>{{.}}</p>
{{end}}{{range .Sections}}<section>
<h2>{{.Heading}}</h2>
{{if .Items}}<ul>
{{range .Items}}<li>{{.}}</li>
{{end}}</ul>
{{end}}{{range .Paras}}<p>{{.}}</p>
{{end}}</section>
{{end}}</main>
</body>
</html>
`))

// NoticeHTML renders the same notice as NoticeMarkdown as a self-contained
// HTML page (inline style, no scripts or external resources), escaped by
// html/template. Safe for concurrent use.
func NoticeHTML(n NoticeInfo) string {
	var b bytes.Buffer
	if err := noticeHTML.Execute(&b, buildNotice(n, func(s string) string { return s })); err != nil {
		// The template is fixed and its data plain strings; an error here is
		// a bug in this file, not something a caller could handle.
		panic("privacy: notice template: " + err.Error())
	}
	return b.String()
}
