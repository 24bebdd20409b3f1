// Command veil runs the veil signaling server with its embedded TURN
// server: flags and VEIL_* environment variables become a configuration,
// the servers start, and SIGINT/SIGTERM shut them down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/veilrtc/veil/privacy"
)

// shutdownTimeout bounds a graceful shutdown: clients get 1001 and the
// process exits within it.
const shutdownTimeout = 5 * time.Second

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "privacy-notice":
			os.Exit(runNotice(os.Args[2:]))
		case "token":
			os.Exit(runToken(os.Args[2:], os.Stdout, os.Stderr, os.Getenv))
		case "check":
			os.Exit(runCheck(os.Args[2:], os.Stdout, os.Stderr, os.Getenv))
		}
	}
	opts, err := parseOptions(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "veil: %v (see veil --help)\n", err)
		os.Exit(2)
	}
	log := newLogger(os.Stderr, opts.logLevel)
	// Libraries that log through slog.Default or the log package go
	// through the same scrubbing handler.
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := newApp(opts, log)
	if err != nil {
		log.Error("veil could not start", "err", err)
		os.Exit(1)
	}
	a.serve()
	log.Info("veil is running", "http_port", a.port(), "turn", a.turnSummary(), "relay", string(opts.policy.Relay))
	log.Debug("signaling scheme", "scheme", a.scheme)
	// What to do next (startup.go). These lines name the operator's own
	// settings (listen address, domain, relay address), once, at start-up;
	// no client's address or identity is ever logged.
	a.logStartup(opts)

	select {
	case <-ctx.Done():
	case err := <-a.errc:
		log.Error("server failed", "err", err)
	}
	stop()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// newLogger logs to w at level through privacy.ScrubHandler: whatever a line
// carries (an error naming a listen address, a library's message), no
// address, port after an address, peer id, TURN user name or token reaches
// stderr at any level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(privacy.ScrubHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})))
}
