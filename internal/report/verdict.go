package report

import (
	"fmt"
	"slices"
	"strings"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// PassedText is Verdict.Text of a run that passed.
const PassedText = "PASSED: completed, steady state held, recovered"

// Verdict is the one judgement of a run: the lab's exit status, the terminal's last line and
// the headline of report.md and report.html all read it. Judge makes it.
type Verdict struct {
	Passed  bool     `json:"passed"`
	Reasons []string `json:"reasons"` // why it failed, in Judge's order; empty when it passed
}

// Text is the verdict for a person: PassedText, or "FAILED: " and the reasons joined by "; ".
func (v Verdict) Text() string {
	if v.Passed {
		return PassedText
	}
	return "FAILED: " + v.Reason()
}

// Reason is the reasons joined by "; ", for a person ("" when the run passed).
func (v Verdict) Reason() string { return strings.Join(v.Reasons, "; ") }

// ExitCode is the exit status of `chaoslab run` for this verdict: 0 passed, 1 failed.
func (v Verdict) ExitCode() int {
	if v.Passed {
		return 0
	}
	return 1
}

// Judge decides whether a run passed: the experiment completed, the steady state held before
// and after the fault, the system recovered, and the lab saw nothing fail. The reasons, in this
// order when they apply:
//
//   - each of RunInfo.Problems, verbatim (a service died, a cleanup failed, ...);
//   - the run was interrupted (then the experiment's own outcome and the recovery are not
//     judged: the rollbacks ran early);
//   - there is no journal: the experiment did not run;
//   - the journal's status is not completed;
//   - the steady state was not met before the fault (the engine skipped the method);
//   - the steady state did not hold after the fault (deviated);
//   - the system did not recover (see Recovered in the package doc), judged only when the
//     experiment ran and the run was not interrupted;
//   - each objective that failed (Analysis.Objectives), judged only then too.
func Judge(a *Analysis) Verdict {
	var reasons []string
	add := func(rs ...string) {
		for _, r := range rs {
			if !slices.Contains(reasons, r) { // the lab may have said it already
				reasons = append(reasons, r)
			}
		}
	}
	add(a.Run.Problems...)
	j := a.EngineJournal
	interrupted := a.Run.Interrupted || (j != nil && j.Status == experiment.StatusInterrupted)
	switch {
	case interrupted && j == nil:
		add("interrupted before the experiment started")
	case interrupted:
		add(fmt.Sprintf("interrupted: the rollbacks ran, journal status %s", j.Status))
	case j == nil:
		add(noJournalReason(a))
	default:
		add(experimentReasons(j)...)
		if !a.Recovered {
			add(notRecoveredReason(a))
		}
		for _, o := range a.Objectives {
			if !o.Passed {
				add("objective " + o.Measure())
			}
		}
	}
	return Verdict{Passed: len(reasons) == 0, Reasons: reasons}
}

// noJournalReason says why there is no journal to judge.
func noJournalReason(a *Analysis) string {
	if a.Run.Status != "" {
		return fmt.Sprintf("the journal is missing or unreadable, so the steady state cannot be judged (run.json says status %s)", a.Run.Status)
	}
	return "the experiment did not run"
}

// experimentReasons judges the journal: its status and the two steady-state checks.
func experimentReasons(j *experiment.Journal) []string {
	var out []string
	if j.Status != experiment.StatusCompleted {
		out = append(out, fmt.Sprintf("the experiment ended with status %s", j.Status))
	}
	if !j.SteadyStateMetBefore() {
		out = append(out, "the steady state was not met before the fault, so the method was skipped")
	}
	if j.Deviated {
		out = append(out, "the steady state did not hold after the fault (deviated)")
	}
	return out
}

// notRecoveredReason says which half of Recovered was missing.
func notRecoveredReason(a *Analysis) string {
	if a.BreakerEnabled && a.FinalBreaker != results.BreakerClosed {
		return fmt.Sprintf("the system did not recover after the heal (breaker %s at the end)", orNA(a.FinalBreaker))
	}
	if a.FaultOn == nil {
		return "the system did not recover (no backend answer among the last requests)"
	}
	if a.FaultOff == nil {
		return "the system did not recover: the fault was never removed"
	}
	return "the system did not recover after the heal (no backend answer after it)"
}
