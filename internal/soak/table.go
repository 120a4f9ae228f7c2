package soak

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Table prints samples as a table, one line each, the header before the first. It is not safe
// for concurrent use.
type Table struct {
	w      io.Writer
	header bool
}

// NewTable prints on w.
func NewTable(w io.Writer) *Table { return &Table{w: w} }

const (
	loadHead = "    time requests in-flight dropped errors"
	loadRow  = "%8s %8d %9d %7d %6d"
	procCol  = "  %8s %5s %4s" // rss MB, goroutines/threads, fds
)

// Row prints one sample.
func (t *Table) Row(s Sample) {
	if !t.header {
		t.header = true
		t.printHeader(s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, loadRow, clock(s.Elapsed), s.Load.Arrivals, s.Load.InFlight(), s.Load.Dropped, s.Load.Errors)
	for _, p := range s.Procs {
		if !p.OK() {
			fmt.Fprintf(&b, procCol, "-", "-", "-")
			continue
		}
		fmt.Fprintf(&b, procCol, fmt.Sprintf("%.1f", mb(p.RSS)), strconv.Itoa(p.Tasks), strconv.Itoa(p.FDs))
	}
	fmt.Fprintf(&b, "  %s", orDash(s.Fault))
	fmt.Fprintln(t.w, b.String())
}

func (t *Table) printHeader(s Sample) {
	var top, sub strings.Builder
	top.WriteString(strings.Repeat(" ", len(loadHead)))
	sub.WriteString(loadHead)
	for _, p := range s.Procs {
		fmt.Fprintf(&top, "  %-19s", short(p.Name))
		fmt.Fprintf(&sub, procCol, "rss MB", taskAbbrev(p.Kind), "fds")
	}
	sub.WriteString("  fault")
	fmt.Fprintln(t.w, strings.TrimRight(top.String(), " "))
	fmt.Fprintln(t.w, sub.String())
}

// Summary prints the first and last reading of each process, then every check and the verdict.
func Summary(w io.Writer, res Result, v Verdict) {
	applied := 0
	for _, e := range res.Faults {
		if e.Action == "apply" && e.Err == nil {
			applied++
		}
	}
	var span time.Duration
	if n := len(res.Samples); n > 0 {
		span = res.Samples[n-1].Elapsed
	}
	fmt.Fprintf(w, "\nsoak: %d samples over %s (the first %d are warm-up), %d faults applied", len(res.Samples), clock(span), v.Warmup, applied)
	if res.Stopped {
		fmt.Fprint(w, ", stopped early")
	}
	fmt.Fprintln(w)
	if len(res.Samples) > 0 {
		first, last := res.Samples[0], res.Samples[len(res.Samples)-1]
		for i, p := range first.Procs {
			fmt.Fprintf(w, "  %-16s rss %s MB, %s %s, fds %s (first -> last sample)\n", p.Name,
				span2(p, last.Procs[i], func(p ProcSample) string { return fmt.Sprintf("%.1f", mb(p.RSS)) }),
				p.Kind, span2(p, last.Procs[i], func(p ProcSample) string { return strconv.Itoa(p.Tasks) }),
				span2(p, last.Procs[i], func(p ProcSample) string { return strconv.Itoa(p.FDs) }))
		}
	}
	fmt.Fprintln(w, "checks:")
	for _, c := range v.Checks {
		fmt.Fprintf(w, "  %-10s %s: %s\n", c.Status, strings.TrimSpace(c.Name+" "+c.Process), c.Detail)
	}
	if v.Passed() {
		fmt.Fprintln(w, "verdict: PASS")
	} else {
		fmt.Fprintf(w, "verdict: FAIL (%d of %d checks failed)\n", len(v.Failures()), len(v.Checks))
	}
}

func span2(a, b ProcSample, f func(ProcSample) string) string {
	str := func(p ProcSample) string {
		if !p.OK() {
			return "-"
		}
		return f(p)
	}
	return str(a) + " -> " + str(b)
}

// CSV writes samples as CSV rows, the header before the first, each row flushed at once so a
// soak cut short keeps what it saw. It is not safe for concurrent use.
type CSV struct {
	w      *csv.Writer
	header bool
}

// NewCSV writes on w.
func NewCSV(w io.Writer) *CSV { return &CSV{w: csv.NewWriter(w)} }

// Write writes one sample. The columns: elapsed_s, time (RFC 3339, UTC), the load's counts,
// the fault in place, then for each process <name>_pid, <name>_rss_bytes, <name>_goroutines or
// <name>_threads, <name>_fds and <name>_error.
func (c *CSV) Write(s Sample) error {
	if !c.header {
		c.header = true
		h := []string{"elapsed_s", "time", "arrivals", "records", "sent", "answered", "in_flight", "dropped", "errors", "fault"}
		for _, p := range s.Procs {
			h = append(h, p.Name+"_pid", p.Name+"_rss_bytes", p.Name+"_"+p.Kind, p.Name+"_fds", p.Name+"_error")
		}
		if err := c.w.Write(h); err != nil {
			return err
		}
	}
	l := s.Load
	row := []string{strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64), s.Time.UTC().Format(time.RFC3339Nano),
		itoa(l.Arrivals), itoa(l.Records), itoa(l.Sent), itoa(l.Answered), itoa(l.InFlight()), itoa(l.Dropped), itoa(l.Errors), s.Fault}
	for _, p := range s.Procs {
		row = append(row, itoa(p.PID), strconv.FormatInt(p.RSS, 10), itoa(p.Tasks), itoa(p.FDs), p.Err)
	}
	if err := c.w.Write(row); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

func itoa(n int) string { return strconv.Itoa(n) }

func mb(b int64) float64 { return float64(b) / 1e6 }

func short(name string) string { return strings.TrimSuffix(name, "-service") }

func taskAbbrev(kind string) string {
	if kind == KindGoroutines {
		return "gor"
	}
	return "thr"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clock formats an elapsed time as 0m05s or 1h02m05s.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}
