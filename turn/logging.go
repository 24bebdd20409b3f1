package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"

	"github.com/veilrtc/veil/privacy"
)

// pionLoggerFactory hands pion loggers that emit at debug level only and scrub
// every line with privacy.ScrubLog: pion puts client and peer addresses with
// ports, five-tuples and TURN user names (which hold peer ids) in messages of
// every level, and privacy invariant 2 (docs/THREAT-MODEL.md) keeps those out
// of every level, debug included. Trace is dropped.
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
		l.log.Debug(privacy.ScrubLog(fmt.Sprintf(format, args...)))
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
