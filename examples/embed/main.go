// Package main shows veil used as a library: the signaling server and the
// embedded TURN server mounted in an application's own http.ServeMux next
// to its other routes.
//
//	go run ./examples/embed
//
// then open http://127.0.0.1:8090/ (the app's page) and connect WebRTC
// clients to ws://127.0.0.1:8090/rtc/ws.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling"
	"github.com/veilrtc/veil/turn"
)

const (
	httpAddr = "127.0.0.1:8090"
	turnAddr = "127.0.0.1:3479"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	// The embedded TURN server: it does not listen by itself, so the
	// application hands it sockets.
	udp, err := net.ListenPacket("udp4", turnAddr)
	if err != nil {
		return err
	}
	tcp, err := net.Listen("tcp4", turnAddr)
	if err != nil {
		_ = udp.Close()
		return err
	}
	relay, err := turn.New(turn.Config{
		PacketConns: []net.PacketConn{udp},
		Listeners:   []net.Listener{tcp},
		RelayIP:     netip.MustParseAddr("127.0.0.1"),
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	defer relay.Close()

	// Config.TURN is the one step that wires the TURN server in securely:
	// each peer gets its URLs (at the host it reached the app on) with
	// short-lived credentials, and while relay is forced
	// (privacy.DefaultPolicy) only relay candidates of this TURN server's
	// relay address cross the server; any other "typ relay" address is a
	// peer's own address in disguise and is dropped.
	sig, err := signaling.New(signaling.Config{
		Policy: privacy.DefaultPolicy(),
		TURN:   relay,
		Logger: logger,
	})
	if err != nil {
		return err
	}

	// The application's own mux: veil lives under /rtc/, the app keeps /.
	mux := http.NewServeMux()
	mux.Handle("/rtc/", http.StripPrefix("/rtc", sig.Handler()))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "my application; veil signaling is at /rtc/ws, its client at /rtc/veil.js")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// http.Server.Shutdown ignores WebSockets; veil closes them (1001).
	srv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sig.Shutdown(ctx)
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	logger.Info("listening", "http", "http://"+httpAddr, "signaling", "ws://"+httpAddr+"/rtc/ws")
	// LimitListener caps TCP connections in total and per client address,
	// plain requests included (wrap it in tls.NewListener for HTTPS).
	if err := srv.Serve(sig.LimitListener(ln)); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
