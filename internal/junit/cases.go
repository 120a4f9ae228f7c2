package junit

import (
	"fmt"
	"strings"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// The names of the cases every run has (see the package doc).
const (
	nameCompleted = "experiment completed"
	nameProblems  = "no lab problems"
	nameRecovered = "recovered"
	nameSteady    = "steady state" // the one case of a hypothesis check without probes to name
)

// The type attribute of each kind of failure or error.
const (
	typeExperiment = "experiment"
	typeLab        = "lab"
	typeProbe      = "steady-state"
	typeProbeError = "probe-error"
	typeRecovery   = "recovery"
	typeObjective  = "objective"
)

// runCases returns the test cases of one analyzed run, in the package doc's order.
func runCases(run string, a *report.Analysis) []testcase {
	cases := []testcase{completedCase(run, a), problemsCase(run, a)}
	cases = append(cases, probeCases(run, a, whenBefore)...)
	cases = append(cases, probeCases(run, a, whenAfter)...)
	cases = append(cases, recoveryCase(run, a))
	cases = append(cases, objectiveCases(run, a)...)
	return cases
}

// interrupted says whether the run was stopped early, as Judge decides it.
func interrupted(a *report.Analysis) bool {
	j := a.EngineJournal
	return a.Run.Interrupted || (j != nil && j.Status == experiment.StatusInterrupted)
}

// notJudged says why Judge does not judge the recovery and the objectives of a ("" when it does).
func notJudged(a *report.Analysis) string {
	switch {
	case interrupted(a):
		return "not judged: the run was interrupted, so the rollbacks ran early"
	case a.EngineJournal == nil:
		return "not judged: the experiment did not run (no journal)"
	}
	return ""
}

// completedCase passes when the experiment ran to the end: a journal whose status is completed,
// and no interruption.
func completedCase(run string, a *report.Analysis) testcase {
	c := newCase(run, nameCompleted)
	j := a.EngineJournal
	if j != nil {
		c.Time = seconds(secondsDuration(float64(j.Duration)))
	}
	switch {
	case interrupted(a) && j == nil:
		c.fail(typeExperiment, "interrupted before the experiment started", "")
	case interrupted(a):
		c.fail(typeExperiment, "interrupted: the rollbacks ran early, journal status "+j.Status, "")
	case j == nil:
		c.fail(typeExperiment, "the experiment did not run: there is no journal", "run.json status: "+orUnknown(a.Run.Status))
	case j.Status != experiment.StatusCompleted:
		c.fail(typeExperiment, "the experiment ended with status "+j.Status, "")
	}
	return c
}

// problemsCase passes when the lab saw nothing go wrong (RunInfo.Problems).
func problemsCase(run string, a *report.Analysis) testcase {
	c := newCase(run, nameProblems)
	if p := a.Run.Problems; len(p) > 0 {
		c.fail(typeLab, strings.Join(p, "; "), strings.Join(p, "\n"))
	}
	return c
}

// The moments of the two hypothesis checks, as report.Activity.When names them.
const (
	whenBefore = "before"
	whenAfter  = "after"
)

// probeCases are the cases of one hypothesis check (when is whenBefore or whenAfter): one per
// probe the journal recorded, or, when the check did not run, skipped cases named after the
// probes checked before (the same hypothesis), or one named nameSteady.
func probeCases(run string, a *report.Analysis, when string) []testcase {
	class := run + ".steady-state." + when
	var cases []testcase
	for _, p := range probesAt(a, when) {
		cases = append(cases, probeCase(class, p))
	}
	if len(cases) > 0 {
		return cases
	}
	names := []string{nameSteady}
	if before := probesAt(a, whenBefore); when == whenAfter && len(before) > 0 {
		names = names[:0]
		for _, p := range before {
			names = append(names, p.Name)
		}
	}
	why := notChecked(a, when)
	for _, n := range names {
		cases = append(cases, skippedCase(class, n, why))
	}
	return cases
}

// probesAt are the probes the journal recorded at when.
func probesAt(a *report.Analysis, when string) []report.Activity {
	if a.Journal == nil {
		return nil
	}
	var out []report.Activity
	for _, p := range a.Journal.Probes {
		if p.When == when {
			out = append(out, p)
		}
	}
	return out
}

// notChecked says why the hypothesis check at when recorded no probe.
func notChecked(a *report.Analysis, when string) string {
	j := a.EngineJournal
	switch {
	case j == nil:
		return "not checked: the experiment did not run (no journal)"
	case when == whenAfter && !j.SteadyStateMetBefore():
		return "not checked: the steady state was not met before the fault, so the method was skipped"
	case (when == whenBefore && j.SteadyStates.Before == nil) || (when == whenAfter && j.SteadyStates.After == nil):
		if j.Status == experiment.StatusCompleted {
			return "not checked: the experiment has no steady-state hypothesis"
		}
		return "not checked: the experiment ended with status " + j.Status + " first"
	}
	return "not checked: the hypothesis has no probe"
}

// probeCase judges one hypothesis probe: a failure when its tolerance was not met, an error when
// it raised or was cut short.
func probeCase(class string, p report.Activity) testcase {
	c := newCase(class, p.Name)
	c.Time = seconds(secondsDuration(p.Duration))
	detail := probeDetail(p)
	switch {
	case p.Status == "":
		c.error(typeProbeError, "the probe was cut short (the experiment was aborted or interrupted)", detail)
	case p.Status != "succeeded":
		c.error(typeProbeError, "the probe "+p.Status+": "+orUnknown(p.Exception), detail)
	case p.ToleranceMet == nil:
		c.error(typeProbeError, "the probe's tolerance was not evaluated", detail)
	case !*p.ToleranceMet:
		c.fail(typeProbe, "tolerance not met, output: "+orNone(p.Output), detail)
	}
	return c
}

// probeDetail is the probe's record for the failure's text.
func probeDetail(p report.Activity) string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe %s (%s, steady state %s)\nstatus: %s\n", p.Name, orUnknown(p.Type), p.When, orUnknown(p.Status))
	if p.ToleranceMet != nil {
		fmt.Fprintf(&b, "tolerance met: %t\n", *p.ToleranceMet)
	}
	fmt.Fprintf(&b, "output: %s\n", orNone(p.Output))
	if p.Exception != "" {
		fmt.Fprintf(&b, "exception: %s\n", p.Exception)
	}
	return b.String()
}

// recoveryCase judges Analysis.Recovered, when Judge does; its message has the figures.
func recoveryCase(run string, a *report.Analysis) testcase {
	c := newCase(run+".recovery", nameRecovered)
	if why := notJudged(a); why != "" {
		c.skip(why + "; " + recoveryFigures(a))
		return c
	}
	if !a.Recovered {
		c.fail(typeRecovery, "the system did not recover: "+recoveryFigures(a), recoveryDetail(a))
	}
	return c
}

// recoveryFigures are the recovery's figures on one line.
func recoveryFigures(a *report.Analysis) string {
	breaker := report.NA
	switch {
	case !a.BreakerEnabled:
		breaker = "none (RESILIENCE=" + a.Run.Resilience + ")"
	case a.FinalBreaker != "":
		breaker = a.FinalBreaker
	}
	return fmt.Sprintf("heal -> first backend answer %s, heal -> CLOSED %s, final breaker %s",
		optional(a.FirstBackendAfterHeal), optional(a.ClosedAfterHeal), breaker)
}

// recoveryDetail says which half of Recovered is missing.
func recoveryDetail(a *report.Analysis) string {
	var b strings.Builder
	fmt.Fprintf(&b, "backend answered after the heal: %t\n", a.BackendHealed)
	if a.BreakerEnabled {
		fmt.Fprintf(&b, "breaker CLOSED at the end: %t\n", a.FinalBreaker == results.BreakerClosed)
	}
	switch {
	case a.FaultOn == nil:
		b.WriteString("no fault was recorded: the backend must answer among the last requests\n")
	case a.FaultOff == nil:
		b.WriteString("the fault was never removed\n")
	}
	return b.String()
}

// objectiveCases judge each objective, when Judge does.
func objectiveCases(run string, a *report.Analysis) []testcase {
	var cases []testcase
	why := notJudged(a)
	for _, o := range a.Objectives {
		c := newCase(run+".objectives", o.Name)
		switch {
		case why != "":
			c.skip(why + "; " + o.Text())
		case !o.Passed:
			c.fail(typeObjective, o.Text(), fmt.Sprintf("%s\n%s\n", o.Text(), o.Figure))
		}
		cases = append(cases, c)
	}
	return cases
}

func newCase(class, name string) testcase {
	return testcase{Name: clean(name), Classname: clean(class), Time: seconds(0)}
}

func skippedCase(class, name, why string) testcase {
	c := newCase(class, name)
	c.skip(why)
	return c
}

func errorCase(class, name, typ, msg, detail string) testcase {
	c := newCase(class, name)
	c.error(typ, msg, detail)
	return c
}

func (c *testcase) fail(typ, msg, detail string) { c.Failure = newProblem(typ, msg, detail) }

func (c *testcase) error(typ, msg, detail string) { c.Error = newProblem(typ, msg, detail) }

func (c *testcase) skip(why string) { c.Skipped = newText(why) }

func newProblem(typ, msg, detail string) *problem {
	if detail == "" {
		detail = msg + "\n"
	}
	return &problem{Message: clean(msg), Type: typ, Body: escapeText(detail)}
}

// optional formats a recovery time, or report.NA when it was not seen.
func optional(d *time.Duration) string {
	if d == nil {
		return report.NA
	}
	return report.FormatDuration(*d)
}

// secondsDuration converts the journal's float seconds.
func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
