package report

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"chaoslab/internal/results"
)

// Profile is one value of the client's RESILIENCE variable as a compare runs it: the value, and
// the label that names its run and its folder inside a compare folder.
type Profile struct {
	Resilience string // results.ResilienceOff, ResilienceOn or ResilienceAdaptive
	Label      string // results.LabelBaseline, LabelResilient or LabelAdaptive
	Dir        string // its folder in a compare folder: results.BaselineDir, ResilientDir or AdaptiveDir
	About      string // what the profile is, for a person
}

// Profiles lists every profile a compare can run, in the order reports show them: the baseline
// (off), the resilient run (on), the adaptive run, the retries alone (retry).
func Profiles() []Profile {
	return []Profile{
		{results.ResilienceOff, results.LabelBaseline, results.BaselineDir, "one attempt, no timeout, no breaker, no fallback"},
		{results.ResilienceOn, results.LabelResilient, results.ResilientDir, "retries with backoff, timeouts, the circuit breaker, the fallback"},
		{results.ResilienceAdaptive, results.LabelAdaptive, results.AdaptiveDir, "the patterns with an adaptive attempt timeout, active probing while OPEN and a retry budget"},
		{results.ResilienceRetry, results.LabelRetry, results.RetryDir, "retries with backoff and timeouts; no breaker, no fallback"},
	}
}

// DefaultProfiles is what `chaoslab run --compare` runs when no list is given: off, on and
// adaptive (retry is asked for by name: --compare off,retry,on).
func DefaultProfiles() []Profile {
	var out []Profile
	for _, p := range Profiles() {
		if p.Resilience != results.ResilienceRetry {
			out = append(out, p)
		}
	}
	return out
}

// ProfileNames are the RESILIENCE values a compare accepts, in Profiles' order.
func ProfileNames() []string {
	var out []string
	for _, p := range Profiles() {
		out = append(out, p.Resilience)
	}
	return out
}

// ProfileOf returns the profile of a RESILIENCE value.
func ProfileOf(resilience string) (Profile, bool) {
	for _, p := range Profiles() {
		if p.Resilience == resilience {
			return p, true
		}
	}
	return Profile{}, false
}

// ParseProfiles reads a comma-separated list of RESILIENCE values ("off,on,adaptive"), in the
// order given. A name that is not a profile, a name given twice, or fewer than two names is an
// error that names the value and the allowed ones: a compare compares at least two runs.
func ParseProfiles(list string) ([]Profile, error) {
	allowed := strings.Join(ProfileNames(), ", ")
	var out []Profile
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		p, ok := ProfileOf(name)
		if !ok {
			return nil, fmt.Errorf("profile %q is not one of %s (e.g. off,on,adaptive)", name, allowed)
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("profile %q is listed twice in %q: each profile runs once", name, list)
		}
		out = append(out, p)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("%q is one profile: a compare needs at least two of %s (run a single profile with --env RESILIENCE=%s)", list, allowed, out[0].Resilience)
	}
	return out, nil
}

// ProfileRun is one run of a compare: its profile and its analysis. A run that is not part of a
// compare has the zero Profile.
type ProfileRun struct {
	Profile Profile
	A       *Analysis // nil when the run could not happen
}

// Judged says whether the run's verdict counts: every run but a compare's baseline, which is
// expected to deviate without its patterns.
func (r ProfileRun) Judged() bool { return results.HasBreaker(r.Profile.Resilience) }

// Passed says whether the run passed (its verdict).
func (r ProfileRun) Passed() bool { return r.A != nil && r.A.Verdict.Passed }

// name is the run's label, or "run" outside a compare.
func (r ProfileRun) name() string {
	if r.Profile.Label == "" {
		return "run"
	}
	return r.Profile.Label
}

// RunsPassed says whether a run, or a compare, passed: every judged run (all but the baseline)
// passed. Runs with no judged run did not pass: nothing was shown to hold.
func RunsPassed(runs []ProfileRun) bool {
	judged := 0
	for _, r := range runs {
		if !r.Judged() {
			continue
		}
		if !r.Passed() {
			return false
		}
		judged++
	}
	return judged > 0
}

// RunsFailure says why runs did not pass, for a person: "" when they passed; the verdict's
// reasons for one run; "adaptive: reasons; ..." for the judged runs of a compare that failed.
func RunsFailure(runs []ProfileRun) string {
	if RunsPassed(runs) {
		return ""
	}
	var parts []string
	for _, r := range runs {
		if !r.Judged() || r.Passed() {
			continue
		}
		why := "did not run"
		if r.A != nil {
			why = r.A.Verdict.Reason()
		}
		if r.Profile.Label == "" {
			return why
		}
		parts = append(parts, r.Profile.Label+": "+why)
	}
	if len(parts) == 0 {
		return "no run was judged"
	}
	return strings.Join(parts, "; ")
}

// compareHeadline says which profiles of a compare passed, coloured: "PASSED: resilient and
// adaptive passed: ...; the baseline deviated, as expected", or "FAILED: adaptive failed
// (reasons); resilient passed; ...".
func compareHeadline(runs []ProfileRun) verdict {
	var passed, failed []string
	baseline := ""
	for _, r := range runs {
		switch {
		case !r.Judged():
			baseline = baselineNote(r.A)
		case r.Passed():
			passed = append(passed, r.name())
		default:
			why := "did not run"
			if r.A != nil {
				why = r.A.Verdict.Reason()
			}
			failed = append(failed, r.name()+" failed ("+why+")")
		}
	}
	if RunsPassed(runs) {
		text := "PASSED: " + strings.Join(passed, " and ") + " passed: completed, steady state held, recovered"
		if baseline != "" {
			text += "; " + baseline
		}
		return verdict{text, "ok"}
	}
	if len(failed) == 0 {
		failed = append(failed, "no profile but the baseline ran")
	}
	text := "FAILED: " + strings.Join(failed, "; ")
	if len(passed) > 0 {
		text += "; " + strings.Join(passed, " and ") + " passed"
	}
	if baseline != "" {
		text += "; " + baseline
	}
	return verdict{text, "bad"}
}

// baselineNote says in a few words whether the baseline deviated.
func baselineNote(a *Analysis) string {
	switch {
	case a == nil:
		return "the baseline did not run"
	case a.Deviated || a.Status != "completed":
		return "the baseline deviated, as expected"
	}
	return "the baseline did NOT deviate"
}

// CompareHeadline is the one-line judgement of a compare, as its report's headline says it.
func CompareHeadline(runs []ProfileRun) string { return compareHeadline(runs).Text }

// IsCompareDir reports whether dir is a compare folder: it holds the folders of two or more
// profiles (baseline/, resilient/, adaptive/).
func IsCompareDir(dir string) bool { return len(compareDirs(dir)) >= 2 }

// compareDirs lists the profiles whose folder dir holds, in Profiles' order.
func compareDirs(dir string) []Profile {
	var out []Profile
	for _, p := range Profiles() {
		if fi, err := os.Stat(filepath.Join(dir, p.Dir)); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// CompareProfiles lists the profiles a compare folder holds, in Profiles' order (nil when dir
// is not a compare folder).
func CompareProfiles(dir string) []Profile {
	ps := compareDirs(dir)
	if len(ps) < 2 {
		return nil
	}
	return ps
}

// SortRuns sorts runs into Profiles' order, the order of a compare's columns.
func SortRuns(runs []ProfileRun) {
	order := func(r ProfileRun) int {
		return slices.IndexFunc(Profiles(), func(p Profile) bool { return p.Resilience == r.Profile.Resilience })
	}
	slices.SortStableFunc(runs, func(a, b ProfileRun) int { return order(a) - order(b) })
}
