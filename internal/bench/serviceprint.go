package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// ServiceDefinitions defines every figure chaoslab bench service prints (its --help).
const ServiceDefinitions = `Open loop (client-service, one rate after another; like wrk2 or vegeta, request i is due
(i-1)/rate after the start and is sent then, whatever the earlier answers, each in its own
goroutine; internal/load):
  healthy        the requests scheduled during --healthy, nothing injected (a few more than
                 rate x window when the generator's stop timer fires late on a busy machine)
  OPEN           during --cycles cycles (partition the backend with the fault proxy's blackhole
                 as network-partition does, wait for the breaker to open, heal at once, wait for
                 it to close again), the requests actually sent while the breaker was OPEN
  HALF_OPEN      the same for HALF_OPEN: the window between the breaker's wait ending and its
                 trial calls closing it. It is short (a few trial calls long), so it holds few
                 requests: read "requests" before its percentiles.
                 The breaker's state at a moment is the last transition client-service logged
                 (its own "CircuitBreaker 'backendCB' changed state" records, with their times);
                 a request sent between a transition and its record counts in the state before,
                 so an OPEN row may hold a backend answer or two at the edges
  requests       arrivals in the row (sent or dropped); backend / fallback: 200 answers by
                 source; errors: any other answer or none; requests sent while CLOSED during the
                 cycles (the partition before the breaker opens, between cycles) are in no row
  in state       the time the row's requests could be sent in: the healthy window, or the
                 breaker's total time in the state over the cycles, (N) the number of stretches
  p50 p99 p99.9 max
                 latency of the sent requests, from each request's scheduled time to the end of
                 its answer (a late send counts: no coordinated omission); exact nearest-rank
                 percentiles of the sorted samples (pXX = the sample of rank ceil(XX/100 x n)), no
                 histogram, so with fewer than 1000 samples p99.9 is the max
  lag p50, lag p99, lag max
                 send lag: from each request's scheduled time to its actual send, the generator's
                 own lateness (same percentiles); a large lag means the figures above measure
                 the machine more than the service
Closed loop (--workers clients per target, each sending its next request when the last answer
is read, kept-alive connections, like wrk):
  targets        client-service; reverse-proxy, a bare net/http/httputil.ReverseProxy in the
                 bench's process; haproxy, when --haproxy is found, with a minimal generated
                 haproxy.cfg (in the run's folder). All three forward to the same fault proxy
                 (client-service's BACKEND_URL, nothing injected) and the same backend.
                 client-service runs as deployed, LOG_LEVEL=info: its retry, breaker and
                 fallback lines only (not chaoslab run's debug record of every backend call);
                 the proxies log nothing
  answers/s      200 answers from the backend (not X-Fallback) completed inside the target's
                 slices, over the slices' total length; the slices are taken in turn, --rounds
                 times (A B C A B C ...), after a --warmup each, so every target meets the same
                 moments of the machine
  x TARGET       the row's answers over TARGET's in the same rounds, with [lowest - highest]
                 over single rounds
  fallback, errors
                 X-Fallback answers, and any other status, inside the slices
Count checks: for the healthy windows and the closed loop, the increase of the backend's own
counter of GET /api/data it served (http_server_requests_total, any status) against the backend
answers the bench got (warm-ups and answers completed after a slice ended included): it must be
at least those, and at most those plus the calls that failed on the way and may or may not have
reached the backend (client-service's failed and ignored breaker calls, from its /metrics, and
the proxies' error answers); on a healthy stack that is 0 and the counts are equal. Outside
those bounds the bench fails: requests it did not see, or answers the backend never served.
With --runs N every cell is the median over the runs, [min - max] when they differ; a ratio is
taken within each run first.`

// WriteServiceTable prints the open-loop rows, the closed-loop targets and the count checks of
// runs (the median over them, with the spread, when there are several).
func WriteServiceTable(w io.Writer, runs []ServiceRun) error {
	if len(runs) == 0 {
		return fmt.Errorf("no runs to print")
	}
	fmt.Fprintln(w, "open loop against client-service: latency from each request's scheduled time to its answer, exact")
	fmt.Fprintln(w, "nearest-rank percentiles; lag: scheduled time to actual send; in state: the time the row's requests were sent in (stretches)")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	writeOpen(tw, runs)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "closed loop, the targets' slices in turn: backend answers per second inside the slices; x T: the row's answers over T's in")
	fmt.Fprintln(w, "the same rounds [lowest - highest round]")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	writeClosed(tw, runs)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, line := range countLines(runs) {
		fmt.Fprintln(w, line)
	}
	_, err := fmt.Fprintf(w, "%d run(s); a cell is the median over the runs [min - max]; chaoslab bench service --help defines each figure\n", len(runs))
	return err
}

// column reads one figure of an open-loop row; a latency figure exists only where the row
// has samples.
type column struct {
	name    string
	get     func(OpenRow) float64
	fmt     func(float64) string
	latency bool
}

func openColumns() []column {
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	dur := func(v float64) string { return report.FormatDuration(time.Duration(v)) }
	q := func(get func(OpenRow) Quantiles, pick func(Quantiles) results.Duration) func(OpenRow) float64 {
		return func(r OpenRow) float64 { return float64(pick(get(r))) }
	}
	lat := func(r OpenRow) Quantiles { return r.Latency }
	lag := func(r OpenRow) Quantiles { return r.Lag }
	p50 := func(q Quantiles) results.Duration { return q.P50 }
	p99 := func(q Quantiles) results.Duration { return q.P99 }
	p999 := func(q Quantiles) results.Duration { return q.P999 }
	top := func(q Quantiles) results.Duration { return q.Max }
	return []column{
		{"requests", func(r OpenRow) float64 { return float64(r.Requests) }, count, false},
		{"backend", func(r OpenRow) float64 { return float64(r.Backend) }, count, false},
		{"fallback", func(r OpenRow) float64 { return float64(r.Fallback) }, count, false},
		{"errors", func(r OpenRow) float64 { return float64(r.Errors + r.Dropped) }, count, false},
		{"in state", func(r OpenRow) float64 { return float64(r.InState) }, dur, false},
		{"p50", q(lat, p50), dur, true},
		{"p99", q(lat, p99), dur, true},
		{"p99.9", q(lat, p999), dur, true},
		{"max", q(lat, top), dur, true},
		{"lag p50", q(lag, p50), dur, true},
		{"lag p99", q(lag, p99), dur, true},
		{"lag max", q(lag, top), dur, true},
	}
}

func writeOpen(tw io.Writer, runs []ServiceRun) {
	cols := openColumns()
	head := []string{"open loop", "state"}
	for _, c := range cols {
		head = append(head, c.name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for i, row := range runs[0].Open {
		cells := []string{fmt.Sprintf("%g/s", row.RPS), row.State}
		for _, c := range cols {
			var vs []float64
			var periods []string
			for _, r := range runs {
				if i >= len(r.Open) {
					continue
				}
				periods = append(periods, fmt.Sprint(r.Open[i].Periods))
				if !c.latency || r.Open[i].Latency.N > 0 {
					vs = append(vs, c.get(r.Open[i]))
				}
			}
			cell := spread(vs, c.fmt)
			if c.name == "in state" {
				cell += " (" + strings.Join(periods, ",") + ")"
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
}

func writeClosed(tw io.Writer, runs []ServiceRun) {
	targets := runs[0].Closed
	head := []string{"closed loop", "answers/s", "fallback", "errors"}
	for _, ref := range targets[1:] {
		head = append(head, "x "+ref.Name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	ratio := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	for i, t := range targets {
		var ps, fb, er []float64
		for _, r := range runs {
			if i < len(r.Closed) {
				ps, fb, er = append(ps, r.Closed[i].PerSecond), append(fb, float64(r.Closed[i].Fallback)), append(er, float64(r.Closed[i].Errors))
			}
		}
		cells := []string{t.Name, spread(ps, count), spread(fb, count), spread(er, count)}
		for j := 1; j < len(targets); j++ {
			if j == i {
				cells = append(cells, "1")
				continue
			}
			cells = append(cells, ratioCell(runs, i, j, ratio))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
}

// ratioCell is target i's answers over target j's: with one run, over all its rounds with the
// rounds' [lowest - highest]; with several, the median of the runs' ratios [min - max].
func ratioCell(runs []ServiceRun, i, j int, f func(float64) string) string {
	if len(runs) == 1 {
		r := runs[0].Closed
		all, lo, hi := r[i].Ratio(r[j])
		if lo == hi {
			return f(all)
		}
		return fmt.Sprintf("%s [%s - %s]", f(all), f(lo), f(hi))
	}
	var vs []float64
	for _, r := range runs {
		if i < len(r.Closed) && j < len(r.Closed) {
			all, _, _ := r.Closed[i].Ratio(r.Closed[j])
			vs = append(vs, all)
		}
	}
	return spread(vs, f)
}

// countLines says, part by part (in the first run's order), what the backend served and the
// bench counted over all the runs, and whether they agreed in every run or in which they did not.
func countLines(runs []ServiceRun) []string {
	type total struct {
		served, counted, failed int64
		bad                     []string
	}
	var order []string
	totals := map[string]*total{}
	for i, r := range runs {
		for _, c := range r.Counts {
			t, ok := totals[c.Part]
			if !ok {
				t = &total{}
				totals[c.Part] = t
				order = append(order, c.Part)
			}
			t.served += c.Served
			t.counted += c.Counted
			t.failed += c.Failed
			if !c.Agree() {
				t.bad = append(t.bad, fmt.Sprintf("run %d: %d served, %d answers + %d failed calls", i+1, c.Served, c.Counted, c.Failed))
			}
		}
	}
	var lines []string
	for _, part := range order {
		t := totals[part]
		verdict := "agree"
		if len(t.bad) > 0 {
			verdict = "DISAGREE (" + strings.Join(t.bad, "; ") + ")"
		}
		lines = append(lines, fmt.Sprintf("count check, %s: backend served %d, bench got %d backend answers + %d failed calls that may have reached it: %s",
			part, t.served, t.counted, t.failed, verdict))
	}
	return lines
}

// MedianRatio is the median over runs of target's closed-loop answers over ref's (false when no
// run measured both).
func MedianRatio(runs []ServiceRun, target, ref string) (float64, bool) {
	var vs []float64
	for _, r := range runs {
		var t, f *ClosedTarget
		for i := range r.Closed {
			switch r.Closed[i].Name {
			case target:
				t = &r.Closed[i]
			case ref:
				f = &r.Closed[i]
			}
		}
		if t != nil && f != nil && f.Backend > 0 {
			all, _, _ := t.Ratio(*f)
			vs = append(vs, all)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 0 {
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
	}
	return vs[len(vs)/2], true
}
