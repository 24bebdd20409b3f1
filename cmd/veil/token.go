package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/veilrtc/veil/signaling/auth"
)

// defaultTokenTTL is how long a token from `veil token` lives unless --ttl
// says otherwise: long enough to hand out for a session, short enough that
// a leaked one soon stops working.
const defaultTokenTTL = time.Hour

const tokenUsage = `veil token: print an operator token for a veil started with --auth-secret(-file).

Usage:
  veil token --secret-file F --room R [--actions join] [--ttl 1h]
  veil token --secret-file F --stream S --actions publish,play
  veil token --secret-file F --prefix team- --actions join,publish,play

A token for --room allows join on that room; for --stream, publish and play
of that stream; for --prefix, every name starting with it. The client sends
it as "token" in join, publish and play. The secret can also come from
VEIL_AUTH_SECRET_FILE or VEIL_AUTH_SECRET. Nothing is logged.

Flags:
`

// runToken is `veil token`: it prints one token on stdout.
func runToken(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var (
		secretFile, actions string
		g                   auth.Grant
		ttl                 time.Duration
	)
	fs := flag.NewFlagSet("veil token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&secretFile, "secret-file", "", "`file` holding the secret given to the server's --auth-secret-file")
	fs.StringVar(&g.Room, "room", "", "`room` the token lets its holder join")
	fs.StringVar(&g.Stream, "stream", "", "`stream` the token lets its holder publish or play")
	fs.StringVar(&g.Prefix, "prefix", "", "name `prefix`: every room and stream starting with it")
	fs.StringVar(&actions, "actions", "join", "comma-separated `actions`: join, publish, play")
	fs.DurationVar(&ttl, "ttl", defaultTokenTTL, "token lifetime")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, tokenUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "veil token: %v (see veil token --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "veil token: unexpected argument (see veil token --help)")
		return 2
	}
	secret, err := tokenSecret(secretFile, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "veil token: %v\n", err)
		return 2
	}
	for a := range strings.SplitSeq(actions, ",") {
		if a = strings.TrimSpace(a); a != "" {
			g.Actions = append(g.Actions, auth.Action(a))
		}
	}
	tok, err := auth.Mint(secret, g, ttl, time.Now())
	if err != nil {
		// auth.Mint's errors never repeat the room or stream.
		fmt.Fprintf(stderr, "veil token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// tokenSecret finds the secret as the server would: a file (the flag, else
// VEIL_AUTH_SECRET_FILE), else VEIL_AUTH_SECRET.
func tokenSecret(file string, getenv func(string) string) ([]byte, error) {
	if file == "" {
		file = getenv("VEIL_AUTH_SECRET_FILE")
	}
	if file != "" {
		return readSecretFile(file)
	}
	if s := getenv("VEIL_AUTH_SECRET"); s != "" {
		return []byte(s), nil
	}
	return nil, errors.New("no secret: give --secret-file (or set VEIL_AUTH_SECRET_FILE)")
}

// readSecretFile reads a secret that must stay the operator's: a file any
// other local user can read is refused, since its secret would let them
// mint tokens. Trailing newlines are not part of the secret.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}
