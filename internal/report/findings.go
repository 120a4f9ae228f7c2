package report

import (
	"cmp"
	"fmt"
	"slices"

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
		vs = append(vs, verdict{"No breaker (RESILIENCE=" + profileOf(a) + ")", "warn"})
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
	if v, ok := verification(a); ok {
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
	out = append(out, faultFindings(a)...)
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
		return []string{"There is no breaker and no fallback (RESILIENCE=" + profileOf(a) + "): errors and hangs reach the caller."}
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
	if v, ok := verification(a); ok && v.Value[0] == 'N' {
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

// kindFindings are the findings particular to each kind of fault, by the kind's name in the
// fault events. A kind not listed gets causeFindings.
func kindFindings() map[string]func(*Analysis) []string {
	return map[string]func(*Analysis) []string{
		faultPartition:  cycleFindings,
		faultFlapping:   cycleFindings,
		faultLatency:    delayFindings,
		faultHTTPDelay:  delayFindings,
		faultTimeout:    delayFindings,
		faultHTTPErrors: httpErrorFindings,
		faultCrash:      crashFindings,
		faultSlowBody:   slowBodyFindings,
		faultReset:      resetFindings,
		faultRefuse:     refusedFindings,
	}
}

// faultFindings says what each kind of fault of the run did, each sentence once (two kinds may
// share a function).
func faultFindings(a *Analysis) []string {
	reg := kindFindings()
	var out []string
	for _, k := range a.FaultKinds() {
		f, ok := reg[k]
		if !ok {
			f = causeFindings
		}
		for _, s := range f(a) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// duringCalls returns the backend calls made during the fault, or a sentence saying there were
// none to judge from.
func duringCalls(a *Analysis) (CallStats, []string) {
	c := a.Calls[1]
	if c.Attempts == 0 {
		return c, []string{"No backend call (attempt event) was logged during the fault: its effect on the calls is not known."}
	}
	return c, nil
}

// insideTimeout says where a call that did not time out ended: inside the attempt timeout, or,
// in the baseline, nowhere near one (it has none).
func insideTimeout(a *Analysis) string {
	if a.Run.Resilience == results.ResilienceOff {
		return "never cut (the baseline has no attempt timeout)"
	}
	return "inside the attempt timeout"
}

// delayFindings: latency, http-delay and timeout. Did the calls time out, or were they slower
// but inside the timeout?
func delayFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	if c.TimedOut > 0 {
		s := fmt.Sprintf("During the fault %s timed out (attempt timeout or request deadline) and %d succeeded", plural(c.TimedOut, "attempt"), c.Succeeded)
		if c.Succeeded > 0 {
			s += ", slowest " + FormatDuration(c.SuccessMax)
		}
		return []string{s + ": the delay is beyond the attempt timeout."}
	}
	if c.Succeeded == 0 {
		return causeFindings(a)
	}
	s := fmt.Sprintf("During the fault no attempt timed out; successful attempts took p50 %s, p99 %s", FormatDuration(c.SuccessP50), FormatDuration(c.SuccessP99))
	switch {
	case c.SlowAbove == 0:
		return []string{s + ": answers were " + insideTimeout(a) + "."}
	case c.Slow == 0:
		return []string{s + fmt.Sprintf(", none slower than the p99 before the fault (%s): the delay did not show.", FormatDuration(c.SlowAbove))}
	}
	return []string{s + fmt.Sprintf(" (%d of %d slower than the p99 before the fault, %s): answers were slower but %s.",
		c.Slow, c.Succeeded, FormatDuration(c.SlowAbove), insideTimeout(a))}
}

// httpErrorFindings: the share of calls answered with an error status, the amplification, and
// how many of the requests that met an error the retries saved.
func httpErrorFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	s := fmt.Sprintf("During the fault %s of attempts got an HTTP error (%d of %d", formatPct(c.StatusShare()), c.HTTPErrors, c.Attempts)
	if len(c.Statuses) > 0 {
		s += ": " + c.StatusList()
	}
	s += fmt.Sprintf("); %s attempts per request (%s before) and %s scheduled: retries absorbed %d of %s that met an error (the backend answered after a failed attempt).",
		ampOrNA(a.Phases[1]), ampOrNA(a.Phases[0]), pluralOf(a.Phases[1].Retries, "retry", "retries"), c.Absorbed, plural(c.FailedRequests, "request"))
	return []string{s}
}

// crashFindings: how long each killed service took to listen again, its PIDs, and how the calls
// failed meanwhile.
func crashFindings(a *Analysis) []string {
	var out []string
	for _, r := range a.Restarts {
		s := fmt.Sprintf("%s was killed at %s%s", r.Service, FormatOffset(a.Rel(r.Killed)), pidClause(r.OldPID))
		if r.TimeToRestart == nil {
			out = append(out, s+" and did not listen again by the end of the run.")
			continue
		}
		out = append(out, fmt.Sprintf("%s and listened again %s later%s.", s, FormatDuration(*r.TimeToRestart), pidClause(r.NewPID)))
	}
	if len(a.Restarts) == 0 {
		out = append(out, "No process event was logged: the time to restart is not known.")
	}
	c, none := duringCalls(a)
	if none != nil {
		return append(out, none...)
	}
	return append(out, fmt.Sprintf("During the fault %s refused (connection refused, or a proxy's 5xx saying so), %d answered 503, %d timed out and %d reset; %d succeeded.",
		pluralOf(c.Refused, "attempt was", "attempts were"), statusCount(c, 503), c.TimedOut, c.Reset, c.Succeeded))
}

func pidClause(pid int) string {
	if pid == 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

func statusCount(c CallStats, status int) int {
	for _, s := range c.Statuses {
		if s.Status == status {
			return s.Count
		}
	}
	return 0
}

// cycleFindings: a fault that came and went (a flapping partition): in how many cycles the
// breaker opened. Nothing for a single window.
func cycleFindings(a *Analysis) []string {
	n := len(a.Cycles)
	if n < 2 {
		return nil
	}
	if !a.BreakerEnabled {
		return []string{fmt.Sprintf("The fault came and went in %d windows; there is no breaker to follow it.", n)}
	}
	opened, trials, stillOpen := 0, 0, 0
	for _, c := range a.Cycles {
		trials += c.TrialsFailed
		switch {
		case c.Opened():
			opened++
		case c.StateAtOn == results.BreakerOpen || c.StateAtOn == results.BreakerHalfOpen:
			stillOpen++
		}
	}
	s := fmt.Sprintf("The fault came and went in %d windows: the breaker opened in %d of %d cycles (HALF_OPEN trial calls failed %s)",
		n, opened, n, plural(trials, "time"))
	if stillOpen > 0 {
		s += fmt.Sprintf("; in %d other it was still open from the cycle before", stillOpen)
	}
	return []string{s + "."}
}

// slowBodyFindings: did the calls time out while the answer's body trickled, or before its
// headers?
func slowBodyFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	if c.TimedOut == 0 {
		return []string{fmt.Sprintf("During the fault no attempt timed out; %d succeeded, p50 %s, p99 %s: the body arrived %s.",
			c.Succeeded, FormatDuration(c.SuccessP50), FormatDuration(c.SuccessP99), insideTimeout(a))}
	}
	s := fmt.Sprintf("During the fault %s timed out while reading the body (after the headers) and %d before the headers; %d succeeded",
		plural(c.BodyTimeouts, "attempt"), c.HeaderTimeouts(), c.Succeeded)
	if c.Succeeded > 0 {
		s += ", slowest " + FormatDuration(c.SuccessMax)
	}
	return []string{s + "."}
}

// resetFindings: calls that failed fast on a reset connection.
func resetFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	if c.Reset == 0 {
		return []string{fmt.Sprintf("During the fault no attempt failed with a connection reset; %d timed out, %d succeeded.", c.TimedOut, c.Succeeded)}
	}
	return []string{fmt.Sprintf("During the fault %s failed fast with a connection reset (connection reset by peer or EOF), p50 %s; %d timed out, %d succeeded.",
		plural(c.Reset, "attempt"), FormatDuration(c.ResetP50), c.TimedOut, c.Succeeded)}
}

// refusedFindings: calls refused at connect.
func refusedFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	return []string{fmt.Sprintf("During the fault %s refused (connection refused), p50 %s; %d timed out, %d succeeded.",
		pluralOf(c.Refused, "attempt was", "attempts were"), FormatDuration(c.RefusedP50), c.TimedOut, c.Succeeded)}
}

// causeFindings: the calls during the fault by how they ended, for a kind without findings of
// its own.
func causeFindings(a *Analysis) []string {
	c, none := duringCalls(a)
	if none != nil {
		return none
	}
	s := fmt.Sprintf("During the fault the client made %s: %d succeeded, %d timed out, %d refused, %d reset, %d got an HTTP error",
		plural(c.Attempts, "backend call"), c.Succeeded, c.TimedOut, c.Refused, c.Reset, c.HTTPErrors)
	if len(c.Statuses) > 0 {
		s += " (" + c.StatusList() + ")"
	}
	return []string{s + fmt.Sprintf(", %d failed otherwise.", c.OtherErrors)}
}

// profileOf is the run's RESILIENCE profile, off when the run does not say.
func profileOf(a *Analysis) string { return cmp.Or(a.Run.Resilience, results.ResilienceOff) }
