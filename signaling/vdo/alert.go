package vdo

import (
	"errors"

	"github.com/veilrtc/veil/signaling/auth"
	"github.com/veilrtc/veil/signaling/hub"
	"github.com/veilrtc/veil/signaling/internal/edge"
)

// Refusals the VDO.Ninja app shows its user. The app only logs
// {"request":"error"}; it shows {"request":"alert","message":...} in a
// modal (and the SDK emits it as its "alert" event). So every refusal a
// user can fix, or must at least learn of, is doubled by an alert that
// says what happened and what to change, in both VDO.Ninja dialects.
// Refusals that are routine (unknown-peer after a reconnect, malformed
// input a good client never sends) get no alert.

// Alert texts. alertRoomFull is the app's exact text (it shows its own,
// translated explanation for it); the others are shown as they are.
const (
	alertRoomFull = "Room is full"
	alertSealed   = "This server forces TURN relay and cannot check encrypted handshakes, so it refused this connection.\n" +
		"Fix: this server requires &password=false. Open every link of this session with &password=false " +
		"(and &relay&turn=... with this server's TURN credentials, see its /turn-credentials)."
	alertUnauthorized = "This server requires an access token for this room or stream, and this page has none that allows it.\n" +
		"Fix: ask the server's operator for a token and open the link with &auth=TOKEN (not &token=, which is VDO.Ninja's own token service)."
	alertRateLimited = "This server is receiving requests from this page faster than it allows and refused some of them. " +
		"If the call does not connect, wait a moment and reload the page."
	// alertPeerSealed tells the addressee of a refused sealed message,
	// which would otherwise wait for an offer that never comes.
	alertPeerSealed = "Another page of this session sends encrypted handshakes, which this server refuses, so it cannot connect to you.\n" +
		"Fix: open every link of this session with &password=false."
	alertTooLarge     = "A message from this page was larger than this server accepts and was refused."
	alertTooManyRooms = "This connection is already in another room. Reload the page to join a different room."
	// alertFanoutStreamInUse replaces alertStreamInUse in the fan-out
	// dialect: there the app's retry on the exact text is blocked inside a
	// room (it never seeds there), so the user would never see a message.
	alertFanoutStreamInUse = "The stream ID this page publishes (&push=) is already in use on this server.\n" +
		"Fix: close the other page that publishes it, or pick another &push= ID."
	// alertDirectorLost tells a director that a claim of its room made on
	// another node of a cluster at the same moment won the room.
	alertDirectorLost = "Someone else claimed this room as its director at the same moment, and their claim won: this page is now a guest in the room, and its director controls have no effect.\n" +
		"Fix: reload the page to rejoin as a guest, or use a room name of your own."
	// alertWrongDialect answers a fan-out (&wss=) client on the official
	// path.
	alertWrongDialect = "This address speaks VDO.Ninja's official handshake dialect, but this page was opened with &wss=.\n" +
		"Fix: use &wss2= with this address, or keep &wss= and point it at this server's fan-out path (/vdo-fanout by default)."
)

// alertedSet remembers which refusals a connection was already alerted
// about: each new alert replaces the app's modal, and a refused handshake
// repeats with every candidate bundle, so most alerts are sent once per
// connection. Reader goroutine only.
type alertedSet map[hub.Code]bool

// alertFor returns the alert text for a refusal (empty: none). fanout
// selects the fan-out dialect's wording where it differs.
func (s *session) alertFor(err error, fanout bool) string {
	code, msg := edge.ToWire(err)
	var text string
	switch code {
	case codeStreamIDInUse:
		// The SDK and the app act on every one (retry, then give up).
		if fanout {
			return alertFanoutStreamInUse
		}
		return alertStreamInUse
	case hub.CodeSealedDenied:
		text = alertSealed
	case hub.CodeRoomFull:
		text = alertRoomFull
	case hub.CodeUnauthorized:
		switch {
		case err == edge.ErrUnauthorized:
			text = alertUnauthorized
		case err == hub.ErrNotDirector:
			text = "Only the room's director can do that."
		default:
			text = msg // a name rule of this server (RequireUnguessable): safe to show
		}
	case hub.CodeRateLimited:
		text = alertRateLimited
	case hub.CodeTooLarge:
		text = alertTooLarge
	case hub.CodeTooManyRooms:
		text = alertTooManyRooms
	default:
		return ""
	}
	if s.alerted == nil {
		s.alerted = make(alertedSet)
	}
	if s.alerted[code] {
		return ""
	}
	s.alerted[code] = true
	return text
}

// wrongDialect alerts, once, a client that speaks the fan-out dialect
// (it sends "from") on the official dialect's path.
func (s *session) wrongDialect() {
	const key hub.Code = "wrong-dialect" // never on the wire: a key of alerted only
	if s.alerted == nil {
		s.alerted = make(alertedSet)
	}
	if s.alerted[key] {
		return
	}
	s.alerted[key] = true
	s.alert(alertWrongDialect)
}

// setAuth takes the app's {"auth":TOKEN} (sent first on every connect
// with &auth=) as the connection's operator token, like ?token= on the
// URL. An oversized token is ignored: authorize refuses it anyway.
func (s *session) setAuth(tok string) {
	if len(tok) <= auth.MaxTokenBytes {
		s.urlToken = tok
	}
}

// alertAddressee tells the peer a refused sealed message was meant for
// why nothing arrives, once per socket. The peer is related to the sender
// (Route found it), so this reveals nothing to a stranger.
func alertAddressee(to *hub.Peer, err error) {
	// By code: the dialects build their own sealed-denied texts.
	var e *hub.Error
	if !errors.As(err, &e) || e.Code != hub.CodeSealedDenied {
		return
	}
	var vs *session
	switch c := to.Client().(type) {
	case *session:
		vs = c
	case *fanSession:
		vs = c.session
	}
	if vs == nil || !vs.peerSealed.CompareAndSwap(false, true) {
		return
	}
	if b, err := edge.Marshal(notice{Request: "alert", Message: alertPeerSealed}); err == nil {
		to.Notify(hub.Frame(b))
	}
}
