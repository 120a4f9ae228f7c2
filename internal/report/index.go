package report

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"chaoslab/internal/results"
)

// The files WriteIndex writes.
const (
	IndexMarkdown = "index.md"
	IndexHTML     = "index.html"
)

// SuiteEntry is one experiment of a suite run.
type SuiteEntry struct {
	Name  string // catalogue name, e.g. "http-errors"
	Fault string // what the fault is, for a person
	Dir   string // the run's folder relative to the index (a compare folder with --compare)
	// Runs are the entry's runs: one, with the zero Profile, without --compare; one per profile
	// with it, in Profiles' order. Nil when it could not run.
	Runs []ProfileRun
	Err  string // why it could not run, when Runs is nil
	// Unavailable says why the stack cannot run this entry at all ("" = it can): such an entry
	// is listed, not run, and does not fail the suite.
	Unavailable string
}

// Passed says whether the entry ran and passed: every run but a compare's baseline passed
// (RunsPassed).
func (e SuiteEntry) Passed() bool { return RunsPassed(e.Runs) }

// SuitePassed says whether every entry the stack can run ran and passed (SuiteEntry.Passed).
// A suite that ran nothing did not pass: nothing was shown to hold.
func SuitePassed(entries []SuiteEntry) bool {
	ran := 0
	for _, e := range entries {
		if e.Unavailable != "" {
			continue
		}
		if !e.Passed() {
			return false
		}
		ran++
	}
	return ran > 0
}

// indexColumn is one key figure of the index: its heading, what it counts (the legend), and how
// it is read from an analysis. The figures are of the during-fault phase unless said otherwise.
type indexColumn struct {
	Name, Legend string
	get          func(a *Analysis) string
}

// indexColumns lists the key figures, in order; the tables and the legend are made from it.
func indexColumns() []indexColumn {
	during := func(f func(PhaseStats) string) func(*Analysis) string {
		return func(a *Analysis) string { return f(a.Phases[1]) }
	}
	return []indexColumn{
		{"answered 200", "Answered 200: the percentage of the requests offered during the fault (scheduled arrival in [fault on, last fault off)) answered 200, by the backend or a fallback.",
			during(func(p PhaseStats) string { return pctOrNA(p, p.PctOK200) })},
		{"fallback", "Fallback: the percentage of those requests answered with a fallback.",
			during(func(p PhaseStats) string { return pctOrNA(p, p.PctFallback) })},
		{"p99", "p99: the nearest-rank 99th percentile of the latencies of those requests, counted from the scheduled arrival (so it includes the load's send lag).",
			during(func(p PhaseStats) string { return latOrNA(p, p.P99) })},
		{"attempts / request", "Attempts / request: backend calls per request during the fault, sum(attempts) / requests, over the requests whose number of calls is known; a request the breaker rejected made 0 calls.",
			during(ampOrNA)},
		{"fault → OPEN", "Fault → OPEN: from the first fault on event to the breaker's first transition to OPEN at or after it.",
			func(a *Analysis) string { return formatOptional(a.OpenAfterFault) }},
		{"heal → CLOSED", "Heal → CLOSED: from the last fault off event to the breaker's first transition to CLOSED at or after it.",
			func(a *Analysis) string { return formatOptional(a.ClosedAfterHeal) }},
	}
}

// indexPage is what both index templates render.
type indexPage struct {
	Title    string
	Verdict  verdict // the suite's: every entry ran and passed
	Summary  string  // "3 of 5 experiments passed"
	Compare  bool    // some entry is a compare: each figure has one cell per profile
	Profiles []Profile
	Columns  []string
	Legend   []string
	Rows     []indexRow
}

// indexRow is one entry, formatted.
type indexRow struct {
	Name, Fault, Dir string
	Verdict          verdict   // the entry's: in a compare, which profiles passed
	Profiles         []verdict // compare: each profile's verdict, "adaptive: PASSED"
	HTML, Markdown   string    // links to the run's reports; "" when it did not run
	Figures          []figure
}

// figure is one key figure of a row: one cell per profile of the page in a compare (the
// baseline's, the resilient run's, ...), one cell otherwise.
type figure struct{ Cells []sideCell }

// WriteIndex writes index.md and index.html into dir: one row per entry with its verdict and key
// figures, linking to each run's report.
func WriteIndex(dir, title string, entries []SuiteEntry) error {
	p := newIndexPage(title, entries)
	md, err := executeText("index.md.tmpl", p)
	if err != nil {
		return err
	}
	html, err := executeHTML("index.html.tmpl", p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, IndexMarkdown), md, 0o644); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexHTML), html, 0o644); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

func newIndexPage(title string, entries []SuiteEntry) *indexPage {
	cols := indexColumns()
	p := &indexPage{Title: title, Profiles: suiteProfiles(entries)}
	p.Compare = len(p.Profiles) > 0
	if p.Title == "" {
		p.Title = "chaoslab suite"
	}
	passed, skipped := 0, 0
	for _, e := range entries {
		if e.Passed() {
			passed++
		}
		if e.Unavailable != "" {
			skipped++
		}
	}
	for _, c := range cols {
		p.Columns = append(p.Columns, c.Name)
		p.Legend = append(p.Legend, c.Legend)
	}
	p.Legend = append(p.Legend, "Verdict: PASSED when the experiment completed, the steady state was met before the fault and held after it, the system recovered, and the lab saw nothing fail; otherwise FAILED, with every reason. NOT RUN: the experiment could not run. SKIPPED: the stack cannot make this fault, and why.")
	if p.Compare {
		var names []string
		for _, pr := range p.Profiles {
			names = append(names, fmt.Sprintf("%s (RESILIENCE=%s)", pr.Label, pr.Resilience))
		}
		p.Legend = append(p.Legend, "With --compare each figure is given per profile, in this order: "+strings.Join(names, ", ")+
			"; an entry passes when every profile but the baseline passed (the baseline is expected to deviate), and each profile's verdict is listed under the entry's.")
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, newIndexRow(e, cols, p.Profiles))
	}
	ran := len(entries) - skipped
	p.Summary = fmt.Sprintf("%d of %s passed.", passed, plural(ran, "experiment"))
	if skipped > 0 {
		p.Summary += fmt.Sprintf(" %d skipped: the stack cannot make their fault.", skipped)
	}
	p.Verdict = verdict{"PASSED: every experiment the stack can run ran and passed", "ok"}
	if !SuitePassed(entries) {
		p.Verdict = verdict{fmt.Sprintf("FAILED: %d of %s did not pass", ran-passed, plural(ran, "experiment")), "bad"}
	}
	return p
}

// suiteProfiles lists the profiles the entries' compares ran, in Profiles' order; nil when no
// entry is a compare.
func suiteProfiles(entries []SuiteEntry) []Profile {
	var out []Profile
	for _, p := range Profiles() {
		for _, e := range entries {
			if slices.ContainsFunc(e.Runs, func(r ProfileRun) bool { return r.Profile == p }) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// runOf returns the entry's run of profile p; a run outside a compare stands for the resilient
// run (RESILIENCE=on, the default).
func runOf(e SuiteEntry, p Profile) (ProfileRun, bool) {
	for _, r := range e.Runs {
		if r.Profile == p || (r.Profile == Profile{} && p.Resilience == results.ResilienceOn) {
			return r, r.A != nil
		}
	}
	return ProfileRun{}, false
}

func newIndexRow(e SuiteEntry, cols []indexColumn, profiles []Profile) indexRow {
	r := indexRow{Name: e.Name, Fault: e.Fault, Dir: e.Dir}
	slots := profiles
	if len(slots) == 0 {
		slots = []Profile{{}} // one cell: the entry's only run
	}
	if len(e.Runs) == 0 {
		r.Verdict = verdict{"NOT RUN: " + orNA(e.Err), "bad"}
		if e.Unavailable != "" {
			r.Verdict = verdict{"SKIPPED: " + e.Unavailable, "warn"}
		}
		for range cols {
			f := figure{}
			for range slots {
				f.Cells = append(f.Cells, sideCell{Text: NA})
			}
			r.Figures = append(r.Figures, f)
		}
		return r
	}
	r.Verdict = verdict{"PASSED", "ok"}
	var failed []string // a compare's profiles that failed; each one's reasons follow
	for _, run := range e.Runs {
		if run.Profile == (Profile{}) {
			continue
		}
		r.Profiles = append(r.Profiles, profileVerdict(run))
		if run.Judged() && !run.Passed() {
			failed = append(failed, run.Profile.Label)
		}
	}
	switch {
	case e.Passed():
	case len(failed) > 0:
		r.Verdict = verdict{"FAILED: " + strings.Join(failed, ", ") + " failed", "bad"}
	default:
		r.Verdict = verdict{"FAILED: " + RunsFailure(e.Runs), "bad"}
	}
	r.HTML, r.Markdown = link(e.Dir, results.ReportHTML), link(e.Dir, results.ReportMarkdown)
	for _, c := range cols {
		f := figure{}
		for i, p := range slots {
			cell := sideCell{Text: "—", Label: p.Label} // "—": this profile did not run
			if run, ok := runOf(e, p); ok {
				cell.Text = c.get(run.A)
			}
			if len(profiles) > 0 {
				cell.Class = cellClass(ProfileRun{Profile: p}, i == 0)
			}
			f.Cells = append(f.Cells, cell)
		}
		r.Figures = append(r.Figures, f)
	}
	return r
}

// profileVerdict is one profile's verdict in a compare's row: "resilient: PASSED", "adaptive:
// FAILED: reasons"; the baseline's says whether it deviated, as expected without the patterns
// (its report has the reasons).
func profileVerdict(r ProfileRun) verdict {
	label := r.Profile.Label + ": "
	switch {
	case r.A == nil:
		return verdict{label + "did not run", "bad"}
	case !r.Judged():
		if r.A.Deviated || r.A.Status != "completed" {
			return verdict{label + "deviated, as expected", "warn"}
		}
		return verdict{label + "did NOT deviate", "warn"}
	}
	v := shortVerdict(r.A.Verdict)
	return verdict{label + v.Text, v.Class}
}

// shortVerdict is a verdict for a table: "PASSED", or "FAILED: " and the reasons.
func shortVerdict(v Verdict) verdict {
	if v.Passed {
		return verdict{"PASSED", "ok"}
	}
	return verdict{v.Text(), "bad"}
}

// link is the relative URL of file in dir, escaped for a link.
func link(dir, file string) string {
	u := url.URL{Path: path.Join(filepath.ToSlash(dir), file)}
	return u.EscapedPath()
}
