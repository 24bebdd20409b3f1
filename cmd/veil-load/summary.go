package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// summary prints the figures and ratios issue #14 sets goals for, from
// result lines labelled as .ci/bench labels them: "<workload>-<server>"
// with an optional "@<run>" suffix for repeated runs. Each ratio is taken
// within one run (numerator and denominator measured back to back), then
// reported as the median and the range over the runs.
//
// Labels: sat-{veil-native,veil-peerjs,veil-vdo,relay-native,relay-peerjs,peer}
// (saturate), idle5k-* and idlemax-* (idle), storm-* (storm),
// clu-{single,cross}-{native,peerjs} (cluster).

// metric picks one figure out of a result.
type metric struct {
	name string
	unit string
	get  func(*result) float64
}

var (
	mCPU    = metric{"server CPU / msg", "µs", func(r *result) float64 { return r.ServerCPUPerMsgUS }}
	mRTs    = metric{"round trips/s", "", func(r *result) float64 { return r.RoundTripsPerSec }}
	mRTT50  = metric{"round trip p50", "ms", func(r *result) float64 { return r.RTTP50 }}
	mRTT99  = metric{"round trip p99", "ms", func(r *result) float64 { return r.RTTP99 }}
	mJoin99 = metric{"join p99", "ms", func(r *result) float64 { return r.JoinP99 }}
	mRSS    = metric{"RSS / idle conn", "KiB", func(r *result) float64 { return r.RSSPerIdleConn / 1024 }}
	mStorm  = metric{"storm: drop to last welcome", "s", func(r *result) float64 { return r.StormSeconds }}
	mStorm9 = metric{"storm: per-peer p99", "ms", func(r *result) float64 { return r.StormP99 }}
)

// goal is one ratio of the issue: num's metric over den's, and its target.
type goal struct {
	num, den string
	m        metric
	target   string
}

var goals = []goal{
	{"sat-veil-native", "sat-peer", mCPU, "≤ 0.6"},
	{"sat-veil-peerjs", "sat-peer", mCPU, "≤ 0.6"},
	{"sat-veil-native", "sat-relay-native", mCPU, "≤ 1.5"},
	{"sat-veil-peerjs", "sat-relay-peerjs", mCPU, "≤ 1.5"},
	{"sat-veil-vdo", "sat-veil-native", mCPU, "≤ 1.2"},
	{"sat-veil-native", "sat-peer", mRTs, "≥ 2"},
	{"sat-veil-peerjs", "sat-peer", mRTs, "≥ 2"},
	{"sat-veil-peerjs", "sat-peer", mRTT99, "≤ 1"},
	{"sat-veil-native", "sat-peer", mJoin99, "≤ 0.5"},
	{"sat-veil-peerjs", "sat-peer", mJoin99, "≤ 0.5"},
	{"idle5k-veil-native", "idle5k-peer", mRSS, "≤ 1"},
	{"idle5k-veil-peerjs", "idle5k-peer", mRSS, "≤ 1"},
	{"idlemax-veil-native", "idlemax-peer", mRSS, "≤ 1"},
	{"idlemax-veil-peerjs", "idlemax-peer", mRSS, "≤ 1"},
	{"storm-veil-native", "storm-peer", mStorm, "bounded"},
	// Issue #15: the same saturation across two nodes of a cluster (every
	// message through NATS; CPU of both nodes and NATS) against one node.
	{"clu-cross-native", "clu-single-native", mCPU, "report"},
	{"clu-cross-peerjs", "clu-single-peerjs", mCPU, "report"},
	{"clu-cross-native", "clu-single-native", mRTs, "report"},
	{"clu-cross-peerjs", "clu-single-peerjs", mRTs, "report"},
	{"clu-cross-native", "clu-single-native", mRTT99, "report"},
	{"clu-cross-peerjs", "clu-single-peerjs", mRTT99, "report"},
}

func runSummary(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("veil-load summary", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// byLabel[label][run] is one result.
	byLabel := map[string]map[int]*result{}
	var order []string
	for _, name := range fs.Args() {
		rs, err := readResults(name)
		if err != nil {
			return err
		}
		for i := range rs {
			r := &rs[i]
			label, run := r.Label, 1
			if base, n, ok := strings.Cut(r.Label, "@"); ok {
				label = base
				if run, err = strconv.Atoi(n); err != nil {
					return fmt.Errorf("label %q: run is not a number", r.Label)
				}
			}
			if byLabel[label] == nil {
				byLabel[label] = map[int]*result{}
				order = append(order, label)
			}
			byLabel[label][run] = r
		}
	}
	if len(order) == 0 {
		return errors.New("no results")
	}

	fmt.Fprintln(w, "Ratios, each within one run; median [min–max] over the runs:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| figure | ratio | goal | runs |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, g := range goals {
		var vs []float64
		for run, n := range byLabel[g.num] {
			d := byLabel[g.den][run]
			if d == nil || g.m.get(n) == 0 || g.m.get(d) == 0 {
				continue
			}
			vs = append(vs, g.m.get(n)/g.m.get(d))
		}
		if len(vs) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s: %s / %s | %s× | %s | %d |\n", g.m.name, g.num, g.den, spread(vs, "%.2f"), g.target, len(vs))
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Absolute figures, median [min–max] over the runs:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | "+strings.Join(names(allMetrics), " | ")+" | errors |")
	fmt.Fprintln(w, "|---|"+strings.Repeat("---|", len(allMetrics)+1))
	for _, label := range order {
		cells := []string{label}
		errs := 0
		for _, m := range allMetrics {
			var vs []float64
			for _, r := range byLabel[label] {
				if v := m.get(r); v != 0 {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				cells = append(cells, "–")
				continue
			}
			format := "%.3g"
			if vs[0] >= 1000 {
				format = "%.0f"
			}
			cells = append(cells, strings.TrimSpace(spread(vs, format)+" "+m.unit))
		}
		for _, r := range byLabel[label] {
			errs += len(r.Errors)
		}
		fmt.Fprintf(w, "| %s | %d |\n", strings.Join(cells, " | "), errs)
	}
	return nil
}

var allMetrics = []metric{mCPU, mRTs, mRTT50, mRTT99, mJoin99, mRSS, mStorm, mStorm9}

func names(ms []metric) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

// spread formats the median and, for more than one value, the range.
func spread(vs []float64, format string) string {
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	if len(vs) == 1 {
		return fmt.Sprintf(format, med)
	}
	return fmt.Sprintf(format+" ["+format+"–"+format+"]", med, vs[0], vs[len(vs)-1])
}

// readResults reads one file of result lines (--out).
func readResults(name string) ([]result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}
