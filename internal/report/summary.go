package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes the short plain-text summary printed at the end of a run: the fault (its
// kind, parameters and windows) and what it did to the backend calls (the findings of its kind);
// per phase the requests offered, % answered 200, % fallback, % errors, % dropped, p50, p99 and
// the amplification; with a topology, the calls per user request at each layer; when the run
// shows it (Analysis.ShowsGoodput), the goodput and the backend's capacity; the breaker transitions relative to the run start; detection and recovery
// times; whether the run recovered; the notes; and last, the verdict (Verdict.Text). Write
// errors are ignored: it is meant for a terminal.
func WriteSummary(w io.Writer, a *Analysis) {
	fmt.Fprintln(w, headline(a))
	fmt.Fprintln(w, faultLine(a))
	for _, f := range faultFindings(a) {
		fmt.Fprintln(w, "effect: "+f)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\tanswered 200\tfallback\terrors\tdropped\tp50\tp99\tamplification\t")
	for _, p := range append(slices.Clone(a.Phases), a.WhileOpen) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, p.Requests,
			pctOrNA(p, p.PctOK200), pctOrNA(p, p.PctFallback), pctOrNA(p, p.PctErrors), droppedCell(p),
			latOrNA(p, p.P50), latOrNA(p, p.P99), ampOrNA(p))
	}
	tw.Flush()
	writeLayers(w, a)
	writeGoodput(w, a)
	fmt.Fprintln(w, "latency: from the scheduled arrival, so it includes the load's send lag (max "+FormatDuration(a.MaxSendLag)+")")
	fmt.Fprintln(w, "breaker: "+transitionsLine(a))
	fmt.Fprintf(w, "fault -> first fallback %s, -> OPEN %s; heal -> first backend answer %s, -> CLOSED %s\n",
		formatOptional(a.FirstFallbackAfterFault), formatOptional(a.OpenAfterFault),
		formatOptional(a.FirstBackendAfterHeal), formatOptional(a.ClosedAfterHeal))
	fmt.Fprintln(w, recoveredLine(a))
	for _, o := range a.Objectives {
		fmt.Fprintln(w, "objective "+o.Text())
	}
	for _, n := range a.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	fmt.Fprintln(w, a.Verdict.Text())
}

// WriteCompareSummary writes the plain-text summary printed at the end of a compare: the runs
// side by side, one column per profile, with the key numbers of the side-by-side table of the
// report (the verdict, detection and recovery times, p99 while OPEN) and, during the fault and
// after the heal, the figures of the per-phase table; then the compare's headline (which
// profiles passed). Each run's own summary (WriteSummary) was printed as it ended. Write errors
// are ignored: it is meant for a terminal.
func WriteCompareSummary(w io.Writer, runs []ProfileRun) {
	var shown []ProfileRun
	for _, r := range runs {
		if r.A != nil {
			shown = append(shown, r)
		}
	}
	fmt.Fprintln(w, "\ncompare: the runs side by side (latency from the scheduled arrival; attempts / request = backend calls per request)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, r := range shown {
		fmt.Fprintf(tw, "%s\t", r.Profile.Label)
	}
	fmt.Fprintln(tw)
	row := func(name string, get func(a *Analysis) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range shown {
			fmt.Fprintf(tw, "%s\t", get(r.A))
		}
		fmt.Fprintln(tw)
	}
	for _, m := range sideMetrics() {
		row(m.name, m.get)
	}
	for i, phase := range phaseNames() {
		if i == 0 {
			continue // before the fault the profiles look alike; the report has it
		}
		for _, m := range phaseMetrics() {
			if m.name == "max" {
				continue // p99 says it on a terminal; the report has the max
			}
			row(phase+": "+m.name, func(a *Analysis) string { return m.get(a.Phases[i]) })
		}
	}
	tw.Flush()
	fmt.Fprintln(w, compareHeadline(runs).Text)
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

// faultLine names the fault (its kind and parameters) and says when it was on, relative to the
// run start; with several windows, how many.
func faultLine(a *Analysis) string {
	if a.FaultOn == nil {
		return "fault: none recorded"
	}
	off := "never removed"
	if a.FaultOff != nil {
		off = "removed at " + FormatOffset(a.Rel(*a.FaultOff))
	}
	if w := windowsPhrase(a); w != "" {
		return fmt.Sprintf("fault: %s; %s: first on at %s, last %s", faultDescription(a), w, FormatOffset(a.Rel(*a.FaultOn)), off)
	}
	return fmt.Sprintf("fault: %s on at %s, %s", faultDescription(a), FormatOffset(a.Rel(*a.FaultOn)), off)
}

// transitionsLine lists the breaker transitions, e.g. "+12.3s CLOSED -> OPEN, +22.4s ...".
func transitionsLine(a *Analysis) string {
	if !a.BreakerEnabled {
		return "none (RESILIENCE=" + profileOf(a) + ")"
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

// recoveredLine says whether the run recovered and how the breaker ended.
func recoveredLine(a *Analysis) string {
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
	if p.Sent == 0 {
		return NA
	}
	return FormatDuration(d)
}

// ampOrNA formats a phase's amplification with the number of requests whose attempt count is
// unknown: "1.00", "1.02 (3 unknown)", "n/a" when no count is known.
func ampOrNA(p PhaseStats) string {
	v := NA
	if p.KnownAttempts > 0 {
		v = fmt.Sprintf("%.2f", p.Amplification)
	}
	if p.UnknownAttempts > 0 {
		v += fmt.Sprintf(" (%d unknown)", p.UnknownAttempts)
	}
	return v
}

// droppedCell formats a phase's dropped requests: "0", or "3 (1.5%)".
func droppedCell(p PhaseStats) string {
	if p.Dropped == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", p.Dropped, formatPct(p.PctDropped))
}

// writeLayers writes a topology's calls per user request at each layer, per phase; nothing
// without a topology.
func writeLayers(w io.Writer, a *Analysis) {
	if len(a.Layers) == 0 {
		return
	}
	fmt.Fprintf(w, "calls per user request, by layer (calls/user requests), topology %s:\n", a.Run.Topology.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tbefore\tduring\tafter\t")
	for _, l := range a.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", l.Name, l.Phases[0].Cell(), l.Phases[1].Cell(), l.Phases[2].Cell())
	}
	tw.Flush()
}

// writeGoodput writes the goodput's figures and the backend's capacity counters; nothing unless
// the run shows them (Analysis.ShowsGoodput).
func writeGoodput(w io.Writer, a *Analysis) {
	g := a.Goodput
	if g == nil || !a.ShowsGoodput() {
		return
	}
	before := NA
	if g.Before != nil {
		before = formatRate(*g.Before)
	}
	fmt.Fprintf(w, "goodput (backend answers 200 in time, per second of scheduled arrival): before the fault %s; after the heal: stuck %s, back to %s %s\n",
		before, stuckText(g), formatShare(g.Params.BackAt), backText(g))
	if g.Why != "" {
		fmt.Fprintln(w, "goodput not measured: "+g.Why)
	}
	if g.LeftOff > 0 {
		fmt.Fprintf(w, "goodput: the last %d s of load left off: some of their requests were answered more than %s after the load's last request, when the backend no longer had the load to serve\n",
			g.LeftOff, formatSeconds(loadGone))
	}
	if c := a.Capacity; c != nil {
		fmt.Fprintf(w, "backend capacity (%d samples): completed %d, wasted %d, rejected %d, expired %d; largest queue %d, in service %d\n",
			len(c.Samples), c.Completed, c.Wasted, c.Rejected, c.Expired, c.MaxQueued, c.MaxInService)
	}
}
