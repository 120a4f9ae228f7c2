package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes the short plain-text summary printed at the end of a run: per phase the
// requests, % answered 200, % fallback, % errors, p50 and p99; the breaker transitions relative
// to the run start; detection and recovery times; whether the run recovered. Write errors are
// ignored: it is meant for a terminal.
func WriteSummary(w io.Writer, a *Analysis) {
	fmt.Fprintln(w, headline(a))
	fmt.Fprintln(w, faultLine(a))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\tanswered 200\tfallback\terrors\tp50\tp99\tamplification\t")
	for _, p := range append(a.Phases, a.WhileOpen) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, p.Requests,
			pctOrNA(p, p.PctOK200), pctOrNA(p, p.PctFallback), pctOrNA(p, p.PctErrors),
			latOrNA(p, p.P50), latOrNA(p, p.P99), ampOrNA(p))
	}
	tw.Flush()
	fmt.Fprintln(w, "breaker: "+transitionsLine(a))
	fmt.Fprintf(w, "fault -> first fallback %s, -> OPEN %s; heal -> first backend answer %s, -> CLOSED %s\n",
		formatOptional(a.FirstFallbackAfterFault), formatOptional(a.OpenAfterFault),
		formatOptional(a.FirstBackendAfterHeal), formatOptional(a.ClosedAfterHeal))
	fmt.Fprintln(w, verdictLine(a))
	for _, n := range a.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
}

// headline names the run and how it ended.
func headline(a *Analysis) string {
	r := a.Run
	title := r.Title
	if title == "" {
		title = a.Dir
	}
	return fmt.Sprintf("%s: resilience %s, status %s, deviated %t", title, orNA(r.Resilience), orNA(a.Status), a.Deviated)
}

// faultLine says when the fault was on, relative to the run start.
func faultLine(a *Analysis) string {
	if a.FaultOn == nil {
		return "fault: none recorded"
	}
	off := "never removed"
	if a.FaultOff != nil {
		off = "removed at " + FormatOffset(a.Rel(*a.FaultOff))
	}
	return fmt.Sprintf("fault: %s on at %s, %s", orNA(a.FaultName), FormatOffset(a.Rel(*a.FaultOn)), off)
}

// transitionsLine lists the breaker transitions, e.g. "+12.3s CLOSED -> OPEN, +22.4s ...".
func transitionsLine(a *Analysis) string {
	if !a.BreakerEnabled {
		return "none (RESILIENCE=off)"
	}
	if len(a.Transitions) == 0 {
		return "stayed CLOSED"
	}
	parts := make([]string, len(a.Transitions))
	for i, t := range a.Transitions {
		parts[i] = fmt.Sprintf("%s %s -> %s", FormatOffset(t.At), t.From, t.To)
	}
	return strings.Join(parts, ", ")
}

// verdictLine says whether the run recovered and how the breaker ended.
func verdictLine(a *Analysis) string {
	v := "recovered: no"
	if a.Recovered {
		v = "recovered: yes"
	}
	if a.BreakerEnabled {
		v += ", final breaker " + a.FinalBreaker
	}
	return v
}

func orNA(s string) string {
	if s == "" {
		return NA
	}
	return s
}

func pctOrNA(p PhaseStats, v float64) string {
	if p.Empty() {
		return NA
	}
	return formatPct(v)
}

func latOrNA(p PhaseStats, d time.Duration) string {
	if p.Empty() {
		return NA
	}
	return FormatDuration(d)
}

func ampOrNA(p PhaseStats) string {
	if p.Empty() {
		return NA
	}
	return fmt.Sprintf("%.2f", p.Amplification)
}
