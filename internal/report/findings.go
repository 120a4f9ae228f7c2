package report

import (
	"fmt"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// verdicts are the coloured headline facts of a run. They describe; the verdict itself is
// Judge's, in the banner.
func verdicts(a *Analysis) []verdict {
	var vs []verdict
	if a.Recovered {
		vs = append(vs, verdict{"Recovered", "ok"})
	} else {
		vs = append(vs, verdict{"Not recovered", "bad"})
	}
	if a.BreakerEnabled {
		vs = append(vs, openP99Verdict(a))
		vs = append(vs, verdict{"Breaker ends " + orNA(a.FinalBreaker), stateClass(a.FinalBreaker)})
	} else {
		vs = append(vs, verdict{"No breaker (RESILIENCE=off)", "warn"})
	}
	return append(vs, journalChip(a))
}

// journalChip says how the experiment itself ended.
func journalChip(a *Analysis) verdict {
	j := a.EngineJournal
	switch {
	case j == nil:
		return verdict{"The experiment did not run", "bad"}
	case !j.SteadyStateMetBefore():
		return verdict{"Steady state NOT met before the fault", "bad"}
	case a.Deviated || a.Status != experiment.StatusCompleted:
		return verdict{fmt.Sprintf("Experiment %s, deviated %t", a.Status, a.Deviated), "bad"}
	}
	return verdict{"Steady state held", "ok"}
}

func openP99Verdict(a *Analysis) verdict {
	p := a.WhileOpen
	switch {
	case p.Empty():
		return verdict{"No request while OPEN", "warn"}
	case p.P99 < OpenP99Target:
		return verdict{"p99 while OPEN " + FormatDuration(p.P99), "ok"}
	default:
		return verdict{"p99 while OPEN " + FormatDuration(p.P99), "bad"}
	}
}

func stateClass(s string) string {
	switch s {
	case results.BreakerClosed:
		return "ok"
	case results.BreakerOpen:
		return "bad"
	}
	return "warn"
}

// findings states what the numbers say, one fact with its evidence per line.
func findings(a *Analysis) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if j := a.Journal; j != nil {
		add("Steady state before the fault: %s; after the rollback: %s.", met(j.Before), met(j.After))
	}
	if v, ok := verification(a.Journal); ok {
		add("Fault verified: %s.", v.Value)
	}
	if a.FaultOn == nil {
		add("No fault was recorded: the run shows only the steady state.")
		return append(out, recoveryFinding(a)...)
	}
	during := a.Phases[1]
	if !during.Empty() {
		add("During the fault %s of %d requests were answered 200 (%s fallbacks, %s errors/timeouts); p99 %s, max %s.",
			formatPct(during.PctOK200), during.Requests, formatPct(during.PctFallback), formatPct(during.PctErrors),
			FormatDuration(during.P99), FormatDuration(during.Max))
		if during.Dropped > 0 {
			add("The load dropped %s during the fault (its in-flight cap was reached): they were never sent.", plural(during.Dropped, "request"))
		}
		add("The client made %s backend attempts per request during the fault (%s before it).",
			ampOrNA(during), ampOrNA(a.Phases[0]))
	}
	out = append(out, breakerFindings(a)...)
	out = append(out, retryFindings(a)...)
	out = append(out, recoveryFinding(a)...)
	return append(out, podFindings(a)...)
}

func met(b *bool) string {
	switch {
	case b == nil:
		return "not checked"
	case *b:
		return "met"
	}
	return "NOT met"
}

func breakerFindings(a *Analysis) []string {
	if !a.BreakerEnabled {
		return []string{"There is no breaker and no fallback (RESILIENCE=off): errors and hangs reach the caller."}
	}
	var out []string
	if a.OpenAfterFault == nil {
		out = append(out, "The breaker never opened after the fault.")
	} else {
		out = append(out, fmt.Sprintf("The breaker opened %s after the fault; the first fallback answer came %s after it.",
			FormatDuration(*a.OpenAfterFault), formatOptional(a.FirstFallbackAfterFault)))
	}
	if p := a.WhileOpen; !p.Empty() {
		cmp := "meets"
		if p.P99 >= OpenP99Target {
			cmp = "MISSES"
		}
		out = append(out, fmt.Sprintf("While OPEN, %d requests had p99 %s: %s the target of under %s.",
			p.Requests, FormatDuration(p.P99), cmp, FormatDuration(OpenP99Target)))
	}
	return out
}

func retryFindings(a *Analysis) []string {
	if len(a.Retries) == 0 {
		return []string{"No retry was logged."}
	}
	n, outside := 0, 0
	for _, r := range a.Retries {
		n += r.Count
		outside += r.Outside()
	}
	s := fmt.Sprintf("%d retries were scheduled, up to retry #%d", n, a.Retries[len(a.Retries)-1].N)
	if a.Schedule != nil {
		s += fmt.Sprintf("; %d waits fell outside the configured range", outside)
	}
	return []string{s + "."}
}

func recoveryFinding(a *Analysis) []string {
	var out []string
	if a.FaultOff != nil {
		out = append(out, fmt.Sprintf("After the heal the backend answered again after %s; the breaker closed after %s.",
			formatOptional(a.FirstBackendAfterHeal), formatOptional(a.ClosedAfterHeal)))
	}
	if a.Recovered {
		out = append(out, "The run recovered: the backend answered after the heal"+breakerClosedClause(a)+".")
	} else {
		out = append(out, "The run did NOT recover by the end of the recovery window.")
	}
	return out
}

func breakerClosedClause(a *Analysis) string {
	if a.BreakerEnabled {
		return " and the breaker ended CLOSED"
	}
	return ""
}

func podFindings(a *Analysis) []string {
	if a.Snapshots == nil {
		return nil
	}
	var out []string
	for _, s := range a.Snapshots.Services {
		for _, c := range s.Fields {
			if c.Changed && (c.Name == "restarts" || c.Name == "running" || c.Name == "pid") {
				out = append(out, fmt.Sprintf("%s %s changed: %s -> %s.", s.Name, c.Name, orDash(c.Before), orDash(c.After)))
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "No service restarted: process status, PIDs and restart counts are unchanged.")
	}
	return out
}

// followUps suggests an action for each expectation that failed.
func followUps(a *Analysis) []string {
	var out []string
	if !a.EngineJournal.SteadyStateMetBefore() {
		out = append(out, "The steady state was not met before the fault: make the hypothesis hold on the healthy system, then run again.")
	}
	if v, ok := verification(a.Journal); ok && v.Value[0] == 'N' {
		out = append(out, "The fault did not take effect: make the partition real (see the guide on established connections) and run again.")
	}
	if a.BreakerEnabled && a.FaultOn != nil && a.OpenAfterFault == nil {
		out = append(out, "Find out why the breaker did not open: CB_MINIMUM_CALLS, CB_FAILURE_RATE_THRESHOLD and the load rate.")
	}
	if p := a.WhileOpen; a.BreakerEnabled && !p.Empty() && p.P99 >= OpenP99Target {
		out = append(out, "Fallbacks are slow while OPEN: check that an OPEN breaker skips retry waits.")
	}
	for _, r := range a.Retries {
		if r.Above > 0 {
			out = append(out, fmt.Sprintf("Retry #%d waited longer than configured (%s): check the backoff and jitter settings.", r.N, plural(r.Above, "time")))
		}
	}
	if !a.Recovered {
		out = append(out, "The run did not recover: lengthen the recovery window or check CB_WAIT_DURATION and CB_HALF_OPEN_CALLS.")
	}
	if len(out) == 0 {
		out = append(out, "None required by the numbers; add your own.")
	}
	return out
}
