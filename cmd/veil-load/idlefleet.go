package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The idle workload holds more connections than one process may have open
// files (20 000 here, a hard limit): the parent starts --procs children
// (veil-load idle-child), each opening its share over its own range of
// loopback source addresses, then reads the server's RSS once every child
// reports its connections open, and ends the children by closing their
// standard input.

// perChild is how many connections one child holds by default: below the
// open-file limit with room for the process's own files.
const perChild = 9000

// peerjsHeartbeat is how often an idle PeerJS client says it is alive (the
// peerjs client sends one every 5 s; the servers drop one silent for 60 s
// or 90 s).
const peerjsHeartbeat = 20 * time.Second

// childReport is what an idle child prints, as one JSON line, once its
// connections are open (or it gave up).
type childReport struct {
	Opened int             `json:"opened"`
	Lat    []time.Duration `json:"lat"` // connect latencies, sorted
	Err    string          `json:"err,omitempty"`
}

// idleFleet runs the idle workload in children.
func idleFleet(ctx context.Context, c config, r *result) {
	procs := c.procs
	if procs == 0 {
		procs = (c.idle + perChild - 1) / perChild
	}
	sources := c.sources
	if sources < procs {
		sources = procs
	}
	r.Idle, r.IdleProcesses, r.IdleSourceAddr = c.idle, procs, sources
	self, err := os.Executable()
	if err != nil {
		r.fail("idle: %v", err)
		return
	}
	if c.serverPID > 0 {
		time.Sleep(settle)
		if r.RSSBeforeIdle, err = procRSS(c.serverPID); err != nil {
			r.fail("idle: %v", err)
		}
	}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		rep   childReport
	}
	children := make([]*child, procs)
	var wg sync.WaitGroup
	for k := range procs {
		n := c.idle / procs
		if k < c.idle%procs {
			n++
		}
		srcPer := sources / procs
		args := []string{"idle-child", "--mode", c.mode, "--url", c.baseURL, "--path", c.path, "--key", c.key,
			"--vdo-path", c.vdoPath, "--idle", strconv.Itoa(n), "--concurrency", strconv.Itoa(c.concurrency),
			"--sources", strconv.Itoa(srcPer), "--source-offset", strconv.Itoa(k * srcPer),
			"--duration", c.duration.String(), "--warmup", "0s", "--run", "1s"}
		if c.allowRemote {
			args = append(args, "--allow-remote")
		}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stderr = os.Stderr
		stdin, err1 := cmd.StdinPipe()
		stdout, err2 := cmd.StdoutPipe()
		if err1 != nil || err2 != nil {
			r.fail("idle: pipes: %v %v", err1, err2)
			return
		}
		if err := cmd.Start(); err != nil {
			r.fail("idle: start child: %v", err)
			return
		}
		ch := &child{cmd: cmd, stdin: stdin}
		children[k] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			line, err := bufio.NewReader(stdout).ReadBytes('\n')
			if err == nil {
				err = json.Unmarshal(line, &ch.rep)
			}
			if err != nil && ch.rep.Err == "" {
				ch.rep.Err = fmt.Sprintf("no report: %v", err)
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
		}()
	}
	wg.Wait()
	defer func() {
		for _, ch := range children {
			_ = ch.stdin.Close()
		}
		for _, ch := range children {
			_ = ch.cmd.Wait()
		}
	}()
	var lat []time.Duration
	for k, ch := range children {
		r.IdleOpened += ch.rep.Opened
		lat = append(lat, ch.rep.Lat...)
		if ch.rep.Err != "" {
			r.fail("idle: child %d: %s", k, ch.rep.Err)
		}
	}
	slices.Sort(lat)
	r.ConnectP50, r.ConnectP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if c.serverPID > 0 && r.IdleOpened > 0 {
		time.Sleep(settle)
		if r.RSSAfterIdle, err = procRSS(c.serverPID); err != nil {
			r.fail("idle: %v", err)
			return
		}
		r.RSSPerIdleConn = (float64(r.RSSAfterIdle) - float64(r.RSSBeforeIdle)) / float64(r.IdleOpened)
	}
	if c.hold > 0 {
		select {
		case <-time.After(c.hold):
		case <-ctx.Done():
		}
	}
}

// idleChild opens c.idle connections, reads on each (so pings are
// answered), reports, and holds them until its standard input closes.
func idleChild(c config) int {
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	p := c.protocol()
	c.sources = max(c.sources, 1)
	conns, _, lat, err := openManyFrom(ctx, c, p, c.idle)
	rep := childReport{}
	for i, ws := range conns {
		if ws != nil {
			rep.Opened++
			rep.Lat = append(rep.Lat, lat[i])
			go func() {
				for {
					if _, _, err := ws.NextReader(); err != nil {
						return
					}
				}
			}()
		}
	}
	slices.Sort(rep.Lat)
	if err != nil {
		rep.Err = fmt.Sprintf("opened %d of %d: %v", rep.Opened, c.idle, err)
	}
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	if c.mode == "peerjs" {
		// The PeerJS client's heartbeat: `peer` drops a client silent for
		// its alive_timeout (60 s).
		go func() {
			for range time.Tick(peerjsHeartbeat) {
				for _, ws := range conns {
					if ws != nil {
						_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"HEARTBEAT"}`))
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	for _, ws := range conns {
		if ws != nil {
			_ = ws.Close()
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

// openManyFrom is openMany over the child's own source addresses.
func openManyFrom(ctx context.Context, c config, p protocol, n int) ([]*websocket.Conn, []string, []time.Duration, error) {
	off := c.sourceOffset
	c.sourceOffset = 0
	dialers := make([]*websocket.Dialer, c.sources)
	for i := range dialers {
		dialers[i] = dialerFrom(sourceAddr(off + i))
	}
	return openManyWith(ctx, c, p, n, func(i int) *websocket.Dialer { return dialers[i%len(dialers)] })
}
