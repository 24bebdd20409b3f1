package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// runTable prints result files (JSON lines from --out) as a Markdown
// table: ratios against the --vs run first, absolute figures second.
func runTable(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("veil-load table", flag.ContinueOnError)
	vs := fs.String("vs", "", "`label` of the baseline run the ratios divide by (default: the first)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rs []result
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				_ = f.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			rs = append(rs, r)
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	if len(rs) == 0 {
		return errors.New("no results")
	}
	base := rs[0]
	if *vs != "" {
		found := false
		for _, r := range rs {
			if r.Label == *vs {
				base, found = r, true
			}
		}
		if !found {
			return fmt.Errorf("no result labelled %q", *vs)
		}
	}
	ratio := func(v, b float64) string {
		if v == 0 || b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", v/b)
	}
	fmt.Fprintf(w, "Ratios against %s (lower is better for all but msgs/s):\n\n", base.Label)
	fmt.Fprintln(w, "| run | server CPU / msg | RSS / idle conn | join p50 | join p99 | msgs/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Label,
			ratio(r.ServerCPUPerMsgUS, base.ServerCPUPerMsgUS), ratio(r.RSSPerIdleConn, base.RSSPerIdleConn),
			ratio(r.JoinP50, base.JoinP50), ratio(r.JoinP99, base.JoinP99), ratio(r.MsgsPerSec, base.MsgsPerSec))
	}
	fmt.Fprintln(w, "\nAbsolute figures:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | server CPU / msg | RSS / idle conn | join p50 / p95 / p99 | connect p50 / p99 | delivered | msgs/s | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %.1f µs | %.2f KiB | %.2f / %.2f / %.2f ms | %.2f / %.2f ms | %d of %d | %.0f | %d |\n", r.Label,
			r.ServerCPUPerMsgUS, r.RSSPerIdleConn/1024, r.JoinP50, r.JoinP95, r.JoinP99,
			r.ConnectP50, r.ConnectP99, r.Delivered, r.Messages, r.MsgsPerSec, len(r.Errors))
	}
	return nil
}
