package turn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pion/logging"

	"github.com/veilrtc/veil/privacy"
)

// pionLoggerFactory hands pion loggers that emit at debug level only and
// withhold what pion formats into its lines: pion puts client and peer
// addresses with ports, five-tuples and TURN user names (which hold peer
// ids, or whatever a client sent as a user name) in messages of every
// level, and no level of veil's log may carry those. A formatted line
// keeps its format text; each argument becomes "…", except an error,
// which is logged as the error it wraps innermost: a static sentinel where
// pion wraps with %w, else only the outermost error's own text is lost
// (pion formats causes with %v, so a line may say just "failed to
// handle": less to debug with, nothing about a client).
// Every line also goes through privacy.ScrubLog. Trace is dropped.
type pionLoggerFactory struct{ log *slog.Logger }

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("component", "pion/"+scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) debug(msg string) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(privacy.ScrubLog(msg))
	}
}

func (l pionLogger) debugf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(privacy.ScrubLog(fmt.Sprintf(format, withhold(args)...)))
	}
}

func (pionLogger) Trace(string)                {}
func (pionLogger) Tracef(string, ...any)       {}
func (l pionLogger) Debug(msg string)          { l.debug(msg) }
func (l pionLogger) Debugf(f string, a ...any) { l.debugf(f, a...) }
func (l pionLogger) Info(msg string)           { l.debug(msg) }
func (l pionLogger) Infof(f string, a ...any)  { l.debugf(f, a...) }
func (l pionLogger) Warn(msg string)           { l.debug(msg) }
func (l pionLogger) Warnf(f string, a ...any)  { l.debugf(f, a...) }
func (l pionLogger) Error(msg string)          { l.debug(msg) }
func (l pionLogger) Errorf(f string, a ...any) { l.debugf(f, a...) }

// withheld stands for an argument of a pion log line that is not logged.
type withheld struct{}

func (withheld) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "…") }

// withhold replaces args by what may be logged of them: errors by their
// innermost wrapped errors, everything else by withheld.
func withhold(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if err, ok := a.(error); ok {
			out[i] = innermost(err)
			continue
		}
		out[i] = withheld{}
	}
	return out
}

// innermost returns the text of the errors err wraps at the bottom of its
// chain (of each branch, for a joined error).
func innermost(err error) string {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			return innermost(w)
		}
	case interface{ Unwrap() []error }:
		var parts []string
		for _, w := range u.Unwrap() {
			if w != nil {
				parts = append(parts, innermost(w))
			}
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}
