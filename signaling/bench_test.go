package signaling

// Benchmarks of the signaling server. Speed and memory targets live here
// and in cmd/veil-load, never in timed unit tests. Run them with
//
//	go test -run '^$' -bench . -benchtime 2000x -cpu 1,2 ./signaling/ ./signaling/native/
//
// and read docs/BENCHMARKS.md for the method and the last measured
// figures. Every figure is meant to be read as a ratio against the
// baseline measured in the same run (relay=off against relay=force,
// encoding/json alone against veil's decode+filter).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/veilrtc/veil/privacy"
	"github.com/veilrtc/veil/signaling/internal/testutil"
)

// A Chrome-like offer (audio, video with the usual codec list, a data
// channel) of about 4 KB, with one host, one srflx and one relay candidate
// so the relay filter has work to do.
// benchOfferLF is read from the load tool's offer, so both measure the
// same description.
var benchOfferLF = mustReadOffer()

func mustReadOffer() string {
	b, err := os.ReadFile("../cmd/veil-load/offer.sdp")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// benchOfferSDP is benchOfferLF with the CRLF line endings browsers send.
var benchOfferSDP = strings.ReplaceAll(benchOfferLF, "\n", "\r\n")

// benchTrickle are relay candidates, what a client trickles under forced
// relay (iceTransportPolicy "relay"): the filter keeps them, so every
// message sent is also delivered and counted.
var benchTrickle = []string{
	"candidate:3 1 udp 41885439 203.0.113.7 61000 typ relay raddr 198.51.100.4 rport 54321 generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:4 1 udp 41819903 203.0.113.7 61002 typ relay raddr 198.51.100.4 rport 54322 generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:5 1 tcp 25108223 203.0.113.7 61004 typ relay raddr 198.51.100.4 rport 54323 tcptype passive generation 0 ufrag Kz4l network-id 1 network-cost 10",
	"candidate:6 1 udp 41754367 203.0.113.7 61006 typ relay raddr 198.51.100.4 rport 54324 generation 0 ufrag Kz4l network-id 1 network-cost 10",
}

// benchNoPolicy is the no-policy baseline: veil as a plain relay that
// still validates and rebuilds each message but scrubs nothing.
var benchNoPolicy = privacy.Policy{
	Relay: privacy.RelayOff, Sysinfo: privacy.SysinfoPass, Sealed: privacy.SealedAllow,
	Retention: privacy.RetentionNone, Logs: privacy.LogsRedacted,
}

// benchConfig lifts the abuse limits, which exist to stop one client from
// doing exactly what a benchmark does.
func benchConfig(p privacy.Policy) Config {
	return Config{
		Policy:              p,
		Logger:              slog.New(slog.DiscardHandler),
		MaxConnections:      -1,
		MaxConnectionsPerIP: -1,
		ConnectRatePerIP:    -1,
		MessageRate:         -1,
		ByteRate:            -1,
		ActionRate:          -1,
	}
}

// benchSignalFrames returns the frames one side of a pair sends to peer
// `to`, in the order of a negotiation: the description, then trickle.
func benchSignalFrames(tb testing.TB, to, sdpType string) [][]byte {
	tb.Helper()
	enc := func(data any) []byte {
		b, err := json.Marshal(map[string]any{"type": "signal", "to": to, "data": data})
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	out := [][]byte{enc(map[string]any{"sdp": map[string]string{"type": sdpType, "sdp": benchOfferSDP}})}
	for i, c := range benchTrickle {
		out = append(out, enc(map[string]any{"candidate": map[string]any{
			"candidate": c, "sdpMid": strconv.Itoa(i % 3), "sdpMLineIndex": i % 3, "usernameFragment": "Kz4l",
		}}))
	}
	return out
}

// Bounds of the socket benchmarks: they end by themselves even when the
// server misbehaves.
const (
	benchPairs       = 32               // concurrent pairs in BenchmarkRelay
	benchWindow      = 16               // unanswered frames per direction, below DefaultSendQueue
	benchReadTimeout = 30 * time.Second // one read; a stall fails the benchmark
	benchMaxRun      = 5 * time.Minute  // all writes of one run
)

// benchDial connects a native client and returns it with its peer id.
func benchDial(tb testing.TB, url string) (*websocket.Conn, string) {
	tb.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	var w struct{ Type, ID string }
	_ = ws.SetReadDeadline(time.Now().Add(benchReadTimeout))
	if err := ws.ReadJSON(&w); err != nil || w.Type != "welcome" {
		tb.Fatalf("welcome: %v %v", w, err)
	}
	return ws, w.ID
}

// benchExpect reads frames until one of type typ.
func benchExpect(tb testing.TB, ws *websocket.Conn, typ string) {
	tb.Helper()
	for {
		var m struct{ Type string }
		_ = ws.SetReadDeadline(time.Now().Add(benchReadTimeout))
		if err := ws.ReadJSON(&m); err != nil {
			tb.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return
		}
	}
}

// BenchmarkRelay measures the whole relay path over real WebSockets on
// loopback: benchPairs pairs, each in its own room, signal both ways (a
// ~4 KB description then four trickle candidates, repeated). One op is one
// relayed message, sent by one client and received by the other. The
// clients run in this process, so ns/op includes their framing work too;
// compare the two policies, and -cpu 1 against -cpu 2 (no global lock:
// msgs/s should grow with cores).
func BenchmarkRelay(b *testing.B) {
	for _, bc := range []struct {
		name   string
		policy privacy.Policy
	}{
		{"relay=off", benchNoPolicy},
		{"relay=force", privacy.DefaultPolicy()},
	} {
		b.Run(bc.name, func(b *testing.B) { benchRelay(b, bc.policy) })
	}
}

func benchRelay(b *testing.B, p privacy.Policy) {
	srv, err := New(benchConfig(p))
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	var clients []*websocket.Conn
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	}()

	type side struct {
		ws     *websocket.Conn
		frames [][]byte
	}
	type pair struct{ a, b side }
	pairs := make([]pair, benchPairs)
	url := testutil.WSURL(ts, "/ws")
	for i := range pairs {
		a, aid := benchDial(b, url)
		bb, bid := benchDial(b, url)
		clients = append(clients, a, bb)
		room := fmt.Sprintf(`{"type":"join","room":"bench-%d"}`, i)
		for _, ws := range []*websocket.Conn{a, bb} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(room)); err != nil {
				b.Fatal(err)
			}
			benchExpect(b, ws, "joined")
		}
		benchExpect(b, a, "peer-joined")
		pairs[i] = pair{
			a: side{a, benchSignalFrames(b, bid, "offer")},
			b: side{bb, benchSignalFrames(b, aid, "answer")},
		}
	}

	// Each direction carries its share of b.N messages.
	dirs := 2 * len(pairs)
	share := func(d int) int {
		n := b.N / dirs
		if d < b.N%dirs {
			n++
		}
		return n
	}
	var (
		wg       sync.WaitGroup
		failed   atomic.Bool
		received atomic.Int64
	)
	run := func(d int, from, to side) {
		n := share(d)
		credits := make(chan struct{}, benchWindow)
		wg.Add(2)
		go func() { // sender
			defer wg.Done()
			_ = from.ws.SetWriteDeadline(time.Now().Add(benchMaxRun))
			for i := 0; i < n && !failed.Load(); i++ {
				credits <- struct{}{}
				if err := from.ws.WriteMessage(websocket.TextMessage, from.frames[i%len(from.frames)]); err != nil {
					failed.Store(true)
					return
				}
			}
		}()
		go func() { // receiver
			defer wg.Done()
			for i := 0; i < n; i++ {
				_ = to.ws.SetReadDeadline(time.Now().Add(benchReadTimeout))
				_, r, err := to.ws.NextReader()
				if err == nil {
					_, err = io.Copy(io.Discard, r)
				}
				if err != nil {
					failed.Store(true)
					// Unblock the sender: it may wait for a credit.
					for range cap(credits) {
						select {
						case <-credits:
						default:
						}
					}
					return
				}
				received.Add(1)
				<-credits
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, pr := range pairs {
		run(2*i, pr.a, pr.b)
		run(2*i+1, pr.b, pr.a)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() {
		b.Fatalf("relay failed after %d of %d messages", received.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkFilterSDP measures privacy.ScrubSDP alone on the ~4 KB offer.
func BenchmarkFilterSDP(b *testing.B) {
	for _, bc := range []struct {
		name string
		opt  privacy.SDPOptions
	}{
		{"none", privacy.SDPOptions{}},
		{"strip", privacy.SDPOptions{StripSysinfo: true}},
		{"force+strip", privacy.SDPOptions{ForceRelay: true, StripSysinfo: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchOfferSDP)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := privacy.ScrubSDP(benchOfferSDP, bc.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Idle-connection memory is measured in a server subprocess (this test
// binary re-run as TestBenchServerHelper), so the clients' own buffers and
// goroutines, which live in the benchmark process, cannot pollute the
// figure. The helper reports its Go heap and stacks after two GCs
// (HeapInuse+StackInuse) and its VmRSS.
const (
	benchServerEnv     = "VEIL_BENCH_SERVER"
	benchIdleConns     = 2000
	benchHelperMaxLife = 3 * time.Minute // the helper exits by itself after this
	benchSettle        = 500 * time.Millisecond
)

// benchMem is what the helper reports.
type benchMem struct {
	HeapInuse, StackInuse, RSS uint64
	Goroutines                 int
}

// TestBenchServerHelper is not a test: it is the server half of
// BenchmarkIdleConnMemory and skips unless that benchmark started it.
// It serves on loopback, prints its URL, and stops when its stdin closes
// or benchHelperMaxLife passes.
func TestBenchServerHelper(t *testing.T) {
	if os.Getenv(benchServerEnv) == "" {
		t.Skip("server half of BenchmarkIdleConnMemory")
	}
	srv, err := New(benchConfig(privacy.DefaultPolicy()))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc("GET /benchmem", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		runtime.GC() // the second GC also empties sync.Pool victims
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(benchMem{
			HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse,
			RSS: procRSS(), Goroutines: runtime.NumGoroutine(),
		})
	})
	// Profiles for investigating the figure (go tool pprof URL/debug/pprof/heap).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	ts := httptest.NewServer(mux)
	fmt.Printf("URL %s\n", ts.URL)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(benchHelperMaxLife):
	}
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	ts.Close()
	os.Exit(0) // skip goleak: the stdin reader may still be blocked
}

// procRSS returns this process's VmRSS in bytes, 0 when unknown.
func procRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkIdleConnMemory opens benchIdleConns idle connections (each has
// had its welcome, or its OPEN for PeerJS) to a server in a subprocess and
// reports what each costs the server: bytes/conn of Go heap+stack and
// rss-bytes/conn. The measurement runs once whatever b.N is: run it with
// -benchtime 1x, or the framework calls it again for a larger b.N.
func BenchmarkIdleConnMemory(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, proto := range []string{"native", "peerjs"} {
		b.Run("proto="+proto, func(b *testing.B) {
			cmd := exec.Command(exe, "-test.run=^TestBenchServerHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), benchServerEnv+"=1")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				_ = stdin.Close() // the helper shuts down
				waited := make(chan error, 1)
				go func() { waited <- cmd.Wait() }()
				select {
				case <-waited:
				case <-time.After(15 * time.Second):
					_ = cmd.Process.Kill()
					<-waited
				}
			}()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			base, ok := strings.CutPrefix(strings.TrimSpace(line), "URL ")
			if err != nil || !ok {
				b.Fatalf("helper did not start: %q %v", line, err)
			}
			// One measurement whatever b.N: opening benchIdleConns is the
			// op, and repeating it would only measure reuse.
			perConn, rssPerConn := benchIdle(b, base, proto)
			b.ReportMetric(perConn, "bytes/conn")
			b.ReportMetric(rssPerConn, "rss-bytes/conn")
		})
	}
}

func benchIdle(b *testing.B, base, proto string) (perConn, rssPerConn float64) {
	mem := func() benchMem {
		resp, err := http.Get(base + "/benchmem")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var m benchMem
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			b.Fatal(err)
		}
		return m
	}
	ws := "ws" + strings.TrimPrefix(base, "http")
	dial := func(i int) *websocket.Conn {
		if proto == "native" {
			c, _ := benchDial(b, ws+"/ws")
			return c
		}
		c, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s/peerjs/peerjs?key=peerjs&id=bench%dx%d&token=t%d", ws, i, time.Now().UnixNano(), i), nil)
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		benchExpect(b, c, "OPEN")
		return c
	}
	// Warm up: the first connections allocate pools and tables that
	// every later one shares.
	for i := range 50 {
		_ = dial(-i - 1).Close()
	}
	time.Sleep(benchSettle)
	before := mem()
	conns := make([]*websocket.Conn, 0, benchIdleConns)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range benchIdleConns {
		conns = append(conns, dial(i))
	}
	time.Sleep(benchSettle)
	after := mem()
	n := float64(len(conns))
	b.Logf("%s: %d conns: heap %d -> %d, stack %d -> %d, rss %d -> %d, goroutines %d -> %d",
		proto, len(conns), before.HeapInuse, after.HeapInuse, before.StackInuse, after.StackInuse,
		before.RSS, after.RSS, before.Goroutines, after.Goroutines)
	perConn = (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / n
	rssPerConn = (float64(after.RSS) - float64(before.RSS)) / n
	return perConn, rssPerConn
}
