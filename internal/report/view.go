package report

import (
	"fmt"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// page is what both templates render: one run, or the runs of a compare side by side.
type page struct {
	Title       string
	Compare     bool
	Runs        []runView
	Verdict     verdict  // the headline verdict (in a compare, which profiles passed)
	Baseline    *runView // compare only: the baseline's run, nil when it did not run
	Profiles    []Profile
	Judged      string // compare only: which runs the exit status judges, for a person
	Definitions []string
	Side        []sideRow      // compare only: key numbers, one cell per run
	SideHeads   []sideCell     // compare only: the headings of SidePhases' cells
	SidePhases  []sidePhaseRow // compare only: per phase, one cell per run
}

// verdict is a one-line judgement with a colour class (ok, bad, warn).
type verdict struct{ Text, Class string }

// runView is one run, formatted for a person.
type runView struct {
	Label       string // the profile's label in a compare ("baseline", "resilient", "adaptive"), or "" for a single run
	A           *Analysis
	Title       string
	Settings    []kv
	Journal     *Journal
	Hypothesis  string
	Fault       []kv
	Phases      []phaseRow
	Detection   []kv
	Transitions []transitionRow
	Retries     []retryRow
	Calls       []callRow  // nil when no attempt event was logged
	Layers      []layerRow // nil without a topology
	Cycles      []cycleRow // nil unless the fault came and went
	Snapshots   []serviceView
	Verdicts    []verdict // recovered, p99 while OPEN, deviated...
	Findings    []string
	FollowUps   []string
	Notes       []string
	Chart       *chart
	Goodput     *goodputView  // section 4.7; nil unless the run shows its goodput (Analysis.ShowsGoodput)
	Capacity    *capChart     // the goodput and capacity chart; nil likewise
	Traces      *traceSection // the waterfalls of chosen requests, or one line saying why none
}

type kv struct{ Key, Value, Note string }

type phaseRow struct {
	Name, Window, Requests, OK, Fallback, Errors, Dropped, P50, P90, P99, Max, SendLag, Amplification, Retries string
}

type transitionRow struct{ At, SinceFault, From, To, Note string }

type retryRow struct {
	N, Count, Min, Median, Max, Expected, Range, Outside string
	Bad                                                  bool
}

// layerRow is one layer of a topology, formatted: calls per user request in each phase.
type layerRow struct{ Name, Callers, Before, During, After string }

// callRow is one phase of CallStats, formatted.
type callRow struct {
	Name, Calls, Succeeded, Failed, TimedOut, HTTPErrors, Refused, Reset, Other, P50, P99, Max, Slow, Absorbed string
}

// cycleRow is one FaultCycle, formatted.
type cycleRow struct{ N, Window, StateAtOn, ToOpen, TrialsFailed, ToClosed string }

type serviceView struct {
	Name    string
	Changes []changeRow
	Same    int // unchanged metrics and resilience fields not listed
}

type changeRow struct{ What, Before, After, Delta string }

// sideRow is one key number of every run of a compare.
type sideRow struct {
	Key   string
	Cells []sideCell // one per run, in the page's order
}

// sideCell is one cell of a side-by-side table: its text, the run's label and its classes.
type sideCell struct{ Text, Label, Class string }

// sidePhaseRow is one metric: before, during and after, each with one cell per run.
type sidePhaseRow struct {
	Key   string
	Cells []sideCell
}

// definitions is the list of definitions every report repeats.
func definitions() []string {
	return []string{
		"Phases: before = [first request, first fault on); during = [fault on, last fault off); after = [fault off, last request end]. A request belongs to the phase of its scheduled arrival. Without a fault event everything is \"before\".",
		"Requests are the requests the open-loop load offered (scheduled), and the percentages are of them. Answered 200 counts backend and fallback answers; errors are non-200 answers and requests without an answer (timeouts, refused); timeouts are the errors without any HTTP status; dropped requests were never sent (the load's in-flight cap was reached) and count as not answered.",
		"Latency counts from the request's scheduled arrival, not from when it was sent, so it includes the load's send lag (how late the load sent it; its maximum per phase is shown). Dropped requests have no latency.",
		"Percentiles are nearest-rank: p = sorted[ceil(p/100 * n) - 1] of the latencies of the phase's requests that were sent; no such request shows n/a.",
		"Breaker timeline: CLOSED at the run start, then each transition the client logged. OPEN -> HALF_OPEN is made by a timer when CB_WAIT_DURATION ends, with or without traffic.",
		"Detection: fault on -> the earliest completion (start + latency) of a fallback answer to a request started at or after fault on; fault on -> the first transition to OPEN. Recovery: fault off -> the earliest completion of a backend answer to a request started at or after fault off; fault off -> the first transition to CLOSED.",
		fmt.Sprintf("While OPEN: the requests that started while the timeline was OPEN; acceptance: p99 under %s.", FormatDuration(OpenP99Target)),
		"Amplification: backend calls per request, sum(attempts) / requests, over the requests sent whose number of calls is known (the client logs each call with the request's id); a request the breaker rejected made 0 calls. Requests whose count is not known are left out and counted (\"3 unknown\"); dropped requests made no call and are left out.",
		"Retry waits: from the client's retry events, against w_n = min(initial * multiplier^(n-1), max) with jitter [w_n(1-j), w_n(1+j)], 1 ms tolerance. A wait below the range may have been cut to fit the request deadline.",
		"Fault windows: each fault on event and the off event after it; the kind of fault and its parameters are what the lab logged. With several windows (a fault that comes and goes) the phases still span the first on to the last off, and each cycle (a window and the time to the next one) counts the breaker's transitions that happened in it.",
		"Backend calls: the client's attempt events, one per call, in the phase of the call's start (the event's time minus its duration). Timed out: ended by ATTEMPT_TIMEOUT or the request deadline (in the body: while reading the answer's body); HTTP errors: answered with a status that is not 2xx; refused: connection refused; reset: connection reset by peer or EOF. Success p50/p99/max are of the successful calls; slow counts those slower than the p99 of the successful calls before the fault. Absorbed: of the phase's requests (by scheduled arrival) with a failed call, those the backend answered in the end.",
		fmt.Sprintf("Recovered: after the heal the backend answered (a backend answer to a request started at or after the fault's removal; without a fault event, one among the last %d requests sent) and, with a breaker, the breaker is CLOSED at the end of the recovery window.", recoveredTail),
		"Verdict: PASSED when the experiment completed, the steady state was met before the fault and held after it, the system recovered, and the lab saw nothing fail; otherwise FAILED, with every reason. The exit status of chaoslab run is the same verdict.",
	}
}

// newRunView formats one analysis.
func newRunView(label string, a *Analysis) runView {
	v := runView{Label: label, A: a, Title: a.Run.Title, Journal: a.Journal, Notes: a.Notes}
	if v.Title == "" && a.Journal != nil {
		v.Title = a.Journal.Title
	}
	v.Settings = settings(a)
	v.Hypothesis = hypothesis(a)
	v.Fault = faultRows(a)
	v.Phases = phaseRows(a)
	v.Detection = detectionRows(a)
	v.Transitions = transitionRows(a)
	v.Retries = retryRows(a)
	v.Calls = callRows(a)
	v.Layers = layerRows(a)
	v.Goodput = newGoodputView(a)
	v.Cycles = cycleRows(a)
	v.Snapshots = snapshotViews(a.Snapshots)
	v.Verdicts = verdicts(a)
	v.Findings = findings(a)
	v.FollowUps = followUps(a)
	v.Traces = newTraceSection(a)
	return v
}

func settings(a *Analysis) []kv {
	r := a.Run
	rows := []kv{
		{"Experiment", orNA(r.Experiment), ""},
		{"Run start", timeOrNA(a.Origin), ""},
		{"Stack", orNA(r.Stack), ""},
	}
	if r.Topology != nil {
		rows = append(rows, kv{"Topology", topologyLine(r.Topology), "entries: " + strings.Join(r.Topology.Entries, ", ") + "; the figures below are theirs"})
	}
	rows = append(rows, []kv{
		{"Resilience", orNA(r.Resilience), ""},
		{"Load", fmt.Sprintf("%g requests/s", r.RPS), "open loop"},
		{"Load timeout", durOrNA(r.LoadTimeout), "per request"},
		{"Seed", fmt.Sprint(r.Seed), ""},
		{"Recovery window", durOrNA(r.Recovery), "after the rollbacks"},
		{"Journal", fmt.Sprintf("status %s, deviated %t", orNA(a.Status), a.Deviated), fmt.Sprintf("exit code %d", a.Verdict.ExitCode())},
	}...)
	if s := a.Schedule; s != nil {
		rows = append(rows, kv{"Retry", fmt.Sprintf("%d retries, %s x%g up to %s, jitter %g", s.MaxRetries, s.Initial, s.Multiplier, s.Max, s.Jitter), ""})
	}
	if r.CBWait > 0 {
		note := "OPEN before HALF_OPEN"
		if r.HalfOpen > 0 {
			note += fmt.Sprintf(", then %s", plural(r.HalfOpen, "trial call"))
		}
		rows = append(rows, kv{"Breaker wait", r.CBWait.String(), note})
	}
	if r.Interrupted {
		rows = append(rows, kv{"Interrupted", "yes", "stopped by Ctrl-C or SIGTERM"})
	}
	for _, p := range r.Problems {
		rows = append(rows, kv{"Problem", p, ""})
	}
	return rows
}

// durOrNA formats a configured duration as Go writes it ("10s"), or NA when unset.
func durOrNA(d results.Duration) string {
	if d <= 0 {
		return NA
	}
	return d.String()
}

func timeOrNA(t time.Time) string {
	if t.IsZero() {
		return NA
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func hypothesis(a *Analysis) string {
	if a.Journal != nil && a.Journal.Hypothesis != "" {
		return a.Journal.Hypothesis
	}
	return "When client-service cannot reach backend-service it keeps answering: retries back off, the breaker opens, fallbacks are fast, and after the heal the breaker closes and the backend answers again."
}

func faultRows(a *Analysis) []kv {
	if a.FaultOn == nil {
		return []kv{{"Fault", "none recorded", "no fault event in events.jsonl"}}
	}
	rows := []kv{
		{"Fault", orNA(a.FaultKind), a.Faults[0].Detail},
		{"Injected at", FormatOffset(a.Rel(*a.FaultOn)), timeOrNA(*a.FaultOn)},
	}
	if len(a.Faults) > 1 {
		rows = append(rows, kv{"Windows", windowsPhrase(a), windowList(a)})
	}
	if a.FaultOff != nil {
		rows = append(rows,
			kv{"Removed at", FormatOffset(a.Rel(*a.FaultOff)), timeOrNA(*a.FaultOff)},
			kv{"Duration", FormatDuration(a.FaultOff.Sub(*a.FaultOn)), durationNote(a)})
	} else {
		rows = append(rows, kv{"Removed at", "never", "the fault was still on at the end"})
	}
	for _, r := range a.Restarts {
		rows = append(rows, restartRow(a, r))
	}
	if v, ok := verification(a); ok {
		rows = append(rows, kv{"Verified", v.Value, v.Note})
	}
	return rows
}

// durationNote says what the fault's duration spans when it came and went.
func durationNote(a *Analysis) string {
	if len(a.Faults) > 1 {
		return "from the first window's start to the last one's end"
	}
	return ""
}

// restartRow says how long a killed service took to listen again.
func restartRow(a *Analysis, r Restart) kv {
	row := kv{Key: "Restart of " + r.Service, Value: "not restarted by the end",
		Note: "killed at " + FormatOffset(a.Rel(r.Killed)) + pidClause(r.OldPID)}
	if r.TimeToRestart != nil {
		row.Value = "listening again after " + FormatDuration(*r.TimeToRestart)
		row.Note += ", listening again at " + FormatOffset(a.Rel(*r.Started)) + pidClause(r.NewPID)
	}
	return row
}

// verification finds the method's probe that checked a partition (its output says whether the
// backend was reachable). Other faults leave the backend reachable, so it says nothing of them.
func verification(a *Analysis) (kv, bool) {
	j := a.Journal
	if j == nil || (a.FaultOn != nil && !strings.Contains(a.FaultName, faultPartition)) || !entryCallsBackend(a.Run.Topology) {
		return kv{}, false
	}
	for _, act := range j.Run {
		switch {
		case strings.Contains(act.Output, `"reachable":false`):
			return kv{Value: "yes: the backend was unreachable", Note: act.Name + ": " + act.Output}, true
		case strings.Contains(act.Output, `"reachable":true`):
			return kv{Value: "NO: the backend was still reachable", Note: act.Name + ": " + act.Output}, true
		}
	}
	return kv{}, false
}

func phaseRows(a *Analysis) []phaseRow {
	rows := make([]phaseRow, 0, 5)
	for _, p := range a.Phases {
		rows = append(rows, newPhaseRow(a, p, window(a, p)))
	}
	if a.BreakerEnabled {
		rows = append(rows, newPhaseRow(a, a.WhileOpen, "breaker OPEN"))
	}
	return append(rows, newPhaseRow(a, a.Total, "whole run"))
}

func window(a *Analysis, p PhaseStats) string {
	if !p.To.After(p.From) {
		return "—"
	}
	return FormatOffset(a.Rel(p.From)) + " … " + FormatOffset(a.Rel(p.To))
}

func newPhaseRow(a *Analysis, p PhaseStats, win string) phaseRow {
	r := phaseRow{Name: p.Name, Window: win, Requests: fmt.Sprint(p.Requests),
		OK: pctOrNA(p, p.PctOK200), Fallback: pctOrNA(p, p.PctFallback), Errors: pctOrNA(p, p.PctErrors),
		Dropped: droppedCell(p), P50: latOrNA(p, p.P50), P90: latOrNA(p, p.P90), P99: latOrNA(p, p.P99),
		Max: latOrNA(p, p.Max), SendLag: latOrNA(p, p.MaxSendLag), Amplification: ampOrNA(p), Retries: fmt.Sprint(p.Retries)}
	if p.Timeouts > 0 {
		r.Errors += " (" + plural(p.Timeouts, "timeout") + ")"
	}
	return r
}

func detectionRows(a *Analysis) []kv {
	return []kv{
		{"fault → first fallback answer", formatOptional(a.FirstFallbackAfterFault), "detection"},
		{"fault → breaker OPEN", formatOptional(a.OpenAfterFault), "detection"},
		{"heal → first backend answer", formatOptional(a.FirstBackendAfterHeal), "recovery"},
		{"heal → breaker CLOSED", formatOptional(a.ClosedAfterHeal), "recovery"},
		{"p99 while OPEN", latOrNA(a.WhileOpen, a.WhileOpen.P99), "target < " + FormatDuration(OpenP99Target)},
		{"final breaker state", orNA(a.FinalBreaker), ""},
	}
}

func transitionRows(a *Analysis) []transitionRow {
	var rows []transitionRow
	for _, t := range a.Transitions {
		r := transitionRow{At: FormatOffset(t.At), SinceFault: sinceFault(a, t.Time), From: t.From, To: t.To}
		if t.From == results.BreakerOpen && t.To == results.BreakerHalfOpen {
			r.Note = "the wait (CB_WAIT_DURATION) ended"
		}
		rows = append(rows, r)
	}
	return rows
}

// sinceFault formats t relative to the fault (T+…), or relative to the heal when after it.
func sinceFault(a *Analysis, t time.Time) string {
	switch {
	case a.FaultOff != nil && !t.Before(*a.FaultOff):
		return "heal " + FormatOffset(t.Sub(*a.FaultOff))
	case a.FaultOn != nil:
		return "T" + FormatOffset(t.Sub(*a.FaultOn))
	}
	return ""
}

func retryRows(a *Analysis) []retryRow {
	rows := make([]retryRow, 0, len(a.Retries))
	for _, r := range a.Retries {
		row := retryRow{N: fmt.Sprint(r.N), Count: fmt.Sprint(r.Count), Min: FormatDuration(r.Min),
			Median: FormatDuration(r.Median), Max: FormatDuration(r.Max), Expected: NA, Range: NA, Outside: NA}
		if a.Schedule != nil {
			row.Expected = FormatDuration(r.Expected)
			row.Range = FormatDuration(r.Low) + " – " + FormatDuration(r.High)
			row.Outside = fmt.Sprintf("%d (%d below, %d above)", r.Outside(), r.Below, r.Above)
			row.Bad = r.Outside() > 0
		}
		rows = append(rows, row)
	}
	return rows
}

func snapshotViews(d *SnapshotDiff) []serviceView {
	if d == nil {
		return nil
	}
	var out []serviceView
	for _, s := range d.Services {
		v := serviceView{Name: s.Name}
		for _, c := range s.Fields {
			v.Changes = append(v.Changes, newChangeRow(c.Name, c))
		}
		for _, group := range [][]Change{s.Metrics, s.Resilience} {
			for _, c := range group {
				if !c.Changed {
					v.Same++
					continue
				}
				v.Changes = append(v.Changes, newChangeRow(c.Name, c))
			}
		}
		out = append(out, v)
	}
	return out
}

func newChangeRow(what string, c Change) changeRow {
	r := changeRow{What: what, Before: orDash(c.Before), After: orDash(c.After)}
	if c.Delta != nil && *c.Delta != 0 {
		r.Delta = fmt.Sprintf("%+g", *c.Delta)
	} else if c.Changed {
		r.Delta = "changed"
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// plural formats n and a noun, adding an "s" when n is not 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// pluralOf formats n with the singular or plural form: "1 retry", "3 retries".
func pluralOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// callRows formats Calls; nil when no call was logged.
func callRows(a *Analysis) []callRow {
	total := 0
	for _, c := range a.Calls {
		total += c.Attempts
	}
	if total == 0 {
		return nil
	}
	rows := make([]callRow, 0, len(a.Calls))
	for _, c := range a.Calls {
		rows = append(rows, newCallRow(c))
	}
	return rows
}

func newCallRow(c CallStats) callRow {
	r := callRow{Name: c.Name, Calls: fmt.Sprint(c.Attempts), Succeeded: fmt.Sprint(c.Succeeded), Failed: fmt.Sprint(c.Failed),
		TimedOut: fmt.Sprint(c.TimedOut), HTTPErrors: fmt.Sprint(c.HTTPErrors), Refused: fmt.Sprint(c.Refused),
		Reset: fmt.Sprint(c.Reset), Other: fmt.Sprint(c.OtherErrors), P50: NA, P99: NA, Max: NA, Slow: NA,
		Absorbed: fmt.Sprintf("%d of %d", c.Absorbed, c.FailedRequests)}
	if c.BodyTimeouts > 0 {
		r.TimedOut += fmt.Sprintf(" (%d in the body)", c.BodyTimeouts)
	}
	if len(c.Statuses) > 0 {
		r.HTTPErrors += " (" + c.StatusList() + ")"
	}
	if c.Succeeded > 0 {
		r.P50, r.P99, r.Max = FormatDuration(c.SuccessP50), FormatDuration(c.SuccessP99), FormatDuration(c.SuccessMax)
	}
	if c.SlowAbove > 0 {
		r.Slow = fmt.Sprintf("%d (> %s)", c.Slow, FormatDuration(c.SlowAbove))
	}
	return r
}

// cycleRows formats Cycles.
func cycleRows(a *Analysis) []cycleRow {
	rows := make([]cycleRow, 0, len(a.Cycles))
	for _, c := range a.Cycles {
		off := "never removed"
		if c.Off != nil {
			off = FormatOffset(a.Rel(*c.Off))
		}
		rows = append(rows, cycleRow{N: fmt.Sprint(c.N), Window: FormatOffset(a.Rel(c.On)) + " … " + off,
			StateAtOn: orNA(c.StateAtOn), ToOpen: fmt.Sprint(c.ToOpen), TrialsFailed: fmt.Sprint(c.TrialsFailed), ToClosed: fmt.Sprint(c.ToClosed)})
	}
	return rows
}

// entryCallsBackend says whether the client the probes reach (a topology's first entry tier)
// calls the backend itself: only then does its /api/diagnostics/backend say anything of the
// backend's partition.
func entryCallsBackend(t *results.Topology) bool {
	if t == nil {
		return true
	}
	for _, tr := range t.Tiers {
		if tr.Name == t.Entry() {
			return tr.Calls == results.BackendNode
		}
	}
	return false
}

// layerRows formats Layers; nil without a topology.
func layerRows(a *Analysis) []layerRow {
	var rows []layerRow
	for _, l := range a.Layers {
		callers := "the load"
		if len(l.Callers) > 0 {
			callers = strings.Join(l.Callers, ", ")
		}
		rows = append(rows, layerRow{Name: l.Name, Callers: callers, Before: l.Phases[0].Cell(), During: l.Phases[1].Cell(), After: l.Phases[2].Cell()})
	}
	return rows
}
