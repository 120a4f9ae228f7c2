package report

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"chaoslab/internal/results"
)

// The files WriteIndex writes.
const (
	IndexMarkdown = "index.md"
	IndexHTML     = "index.html"
)

// SuiteEntry is one experiment of a suite run.
type SuiteEntry struct {
	Name      string    // catalogue name, e.g. "http-errors"
	Fault     string    // what the fault is, for a person
	Dir       string    // the run's folder relative to the index (a compare folder when Baseline is set)
	Resilient *Analysis // the run (the resilient run with --compare); nil when it could not run
	Baseline  *Analysis // the baseline run with --compare; nil otherwise
	Err       string    // why it could not run, when Resilient is nil
	// Unavailable says why the stack cannot run this entry at all ("" = it can): such an entry
	// is listed, not run, and does not fail the suite.
	Unavailable string
}

// SuitePassed says whether every entry the stack can run ran and passed
// (Resilient.Verdict.Passed). A suite that ran nothing did not pass: nothing was shown to hold.
func SuitePassed(entries []SuiteEntry) bool {
	ran := 0
	for _, e := range entries {
		if e.Unavailable != "" {
			continue
		}
		if e.Resilient == nil || !e.Resilient.Verdict.Passed {
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
	Title   string
	Verdict verdict // the suite's: every entry ran and passed
	Summary string  // "3 of 5 experiments passed"
	Compare bool    // some entry has a baseline: each figure is baseline then resilient
	Columns []string
	Legend  []string
	Rows    []indexRow
}

// indexRow is one entry, formatted.
type indexRow struct {
	Name, Fault, Dir  string
	Verdict           verdict
	HTML, Markdown    string // links to the run's reports; "" when it did not run
	Figures           []figure
	BaselineDeviation string // compare: whether the baseline deviated, for a person
}

// figure is one key figure of a row: the baseline's (compare only) and the resilient run's.
type figure struct{ Baseline, Resilient string }

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
	p := &indexPage{Title: title}
	if p.Title == "" {
		p.Title = "chaoslab suite"
	}
	passed, skipped := 0, 0
	for _, e := range entries {
		p.Compare = p.Compare || e.Baseline != nil
		if e.Resilient != nil && e.Resilient.Verdict.Passed {
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
		p.Legend = append(p.Legend, "With a baseline, each figure is the baseline's (RESILIENCE=off) beside the resilient run's; the verdict is the resilient run's.")
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, newIndexRow(e, cols))
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

func newIndexRow(e SuiteEntry, cols []indexColumn) indexRow {
	r := indexRow{Name: e.Name, Fault: e.Fault, Dir: e.Dir}
	if e.Resilient == nil {
		r.Verdict = verdict{"NOT RUN: " + orNA(e.Err), "bad"}
		if e.Unavailable != "" {
			r.Verdict = verdict{"SKIPPED: " + e.Unavailable, "warn"}
		}
		for range cols {
			r.Figures = append(r.Figures, figure{NA, NA})
		}
		return r
	}
	r.Verdict = shortVerdict(e.Resilient.Verdict)
	r.HTML, r.Markdown = link(e.Dir, results.ReportHTML), link(e.Dir, results.ReportMarkdown)
	for _, c := range cols {
		f := figure{Baseline: "—", Resilient: c.get(e.Resilient)} // "—": no baseline run
		if e.Baseline != nil {
			f.Baseline = c.get(e.Baseline)
		}
		r.Figures = append(r.Figures, f)
	}
	if b := e.Baseline; b != nil {
		r.BaselineDeviation = "baseline did not deviate"
		if b.Deviated || b.Status != "completed" {
			r.BaselineDeviation = "baseline deviated"
		}
	}
	return r
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
