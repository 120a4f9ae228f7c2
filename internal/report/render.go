package report

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"

	"chaoslab/internal/results"
)

//go:embed templates/*.tmpl
var templates embed.FS // read-only: the templates are parsed per call

// Render writes report.md, report.html and summary.json into dir, reading it with Load. dir is
// a run folder, or a compare folder (IsCompareDir), whose report shows its profiles' runs side
// by side, in Profiles' order; each run folder of a compare gets its own report and
// summary.json too (the compare folder itself has no summary.json).
func Render(dir string) error {
	if !IsCompareDir(dir) {
		a, err := Load(dir)
		if err != nil {
			return err
		}
		return RenderAnalysis(dir, a)
	}
	runs, err := LoadCompare(dir)
	if err != nil {
		return err
	}
	return RenderCompare(dir, runs)
}

// LoadCompare reads every run of the compare folder dir (IsCompareDir) with Load, in Profiles'
// order.
func LoadCompare(dir string) ([]ProfileRun, error) {
	profiles := CompareProfiles(dir)
	if profiles == nil {
		return nil, fmt.Errorf("%s is not a compare folder: it holds fewer than two of %s/, %s/ and %s/",
			dir, results.BaselineDir, results.ResilientDir, results.AdaptiveDir)
	}
	runs := make([]ProfileRun, 0, len(profiles))
	for _, p := range profiles {
		a, err := Load(filepath.Join(dir, p.Dir))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Dir, err)
		}
		runs = append(runs, ProfileRun{Profile: p, A: a})
	}
	return runs, nil
}

// RenderCompare writes the report of each run (RenderAnalysis) into its folder under dir, and
// the report comparing them side by side, in the order given, into dir, from analyses already
// made. A run without an analysis (it did not happen) has no column; the headline says so.
func RenderCompare(dir string, runs []ProfileRun) error {
	for _, r := range runs {
		if r.A == nil {
			continue
		}
		if err := RenderAnalysis(filepath.Join(dir, r.Profile.Dir), r.A); err != nil {
			return fmt.Errorf("%s: %w", r.Profile.Dir, err)
		}
	}
	return writeReports(dir, comparePage(runs))
}

// RenderAnalysis writes report.md, report.html and summary.json (WriteSummaryJSON) of one run
// into dir from an analysis already made (the lab's, from memory): it reads no file.
func RenderAnalysis(dir string, a *Analysis) error {
	if err := writeReports(dir, singlePage(a)); err != nil {
		return err
	}
	return WriteSummaryJSON(dir, a)
}

// singlePage is the page of one run.
func singlePage(a *Analysis) *page {
	v := newRunView("", a)
	s := newScale(a)
	v.Chart, v.Capacity = newChart(a, s), newCapChart(a, s)
	p := &page{Title: v.Title, Runs: []runView{v}, Definitions: definitions()}
	if p.Title == "" {
		p.Title = "chaoslab run"
	}
	if len(a.Layers) > 0 {
		p.Definitions = append(p.Definitions, layerDefinition)
	}
	if v.Goodput != nil {
		p.Definitions = append(p.Definitions, goodputDefinition(a.Goodput.Params))
	}
	p.Verdict = headlineVerdict(a)
	return p
}

// comparePage puts the runs of a compare side by side, in the order given (Profiles' order), on
// one time and latency scale. A run without an analysis has no column; the headline names it.
func comparePage(all []ProfileRun) *page {
	var runs []ProfileRun
	var as []*Analysis
	for _, r := range all {
		if r.A != nil {
			runs, as = append(runs, r), append(as, r.A)
		}
	}
	s := newScale(as...)
	p := &page{Compare: true, Definitions: definitions()}
	layers, goodput := false, (*GoodputParams)(nil)
	for _, r := range runs {
		v := newRunView(r.Profile.Label, r.A)
		v.Chart, v.Capacity = newChart(r.A, s), newCapChart(r.A, s)
		p.Runs = append(p.Runs, v)
		p.Profiles = append(p.Profiles, r.Profile)
		layers = layers || len(r.A.Layers) > 0
		if v.Goodput != nil && goodput == nil {
			goodput = &r.A.Goodput.Params
		}
	}
	if layers {
		p.Definitions = append(p.Definitions, layerDefinition)
	}
	if goodput != nil {
		p.Definitions = append(p.Definitions, goodputDefinition(*goodput))
	}
	for i, r := range runs {
		switch {
		case !r.Judged():
			p.Baseline = &p.Runs[i]
		case p.Title == "":
			p.Title = p.Runs[i].Title
		}
	}
	if p.Title == "" {
		p.Title = "chaoslab run --compare"
	}
	p.Verdict = compareHeadline(all)
	p.Judged = judgedSentence(all)
	p.Side = sideRows(runs)
	p.SideHeads, p.SidePhases = sidePhaseRows(runs)
	return p
}

// judgedSentence says which runs the exit status judges, for a person.
func judgedSentence(runs []ProfileRun) string {
	var judged []string
	for _, r := range runs {
		if r.Judged() {
			judged = append(judged, r.Profile.Label)
		}
	}
	if len(judged) == 1 {
		return "The exit status is the " + judged[0] + " run's."
	}
	return "The exit status is 0 only when every run but the baseline passed: " + strings.Join(judged, ", ") + "."
}

// headlineVerdict is the page's headline: the run's Verdict, coloured.
func headlineVerdict(a *Analysis) verdict {
	if a.Verdict.Passed {
		return verdict{a.Verdict.Text(), "ok"}
	}
	return verdict{a.Verdict.Text(), "bad"}
}

// baselineSentence says, for a person, whether the baseline deviated as expected.
func baselineSentence(a *Analysis) string {
	if a.Deviated || a.Status != "completed" {
		return fmt.Sprintf("The baseline deviated, as expected (status %s, deviated %t): without the patterns the fault reaches the caller.", orNA(a.Status), a.Deviated)
	}
	return "The baseline did NOT deviate, which was not expected: check that the fault took effect and that the hypothesis tests what the patterns change."
}

// sideMetric is one key number of a run, for the side-by-side table.
type sideMetric struct {
	name string
	get  func(a *Analysis) string
}

// sideMetrics are the key numbers the side-by-side table and the terminal's compare summary
// show, one row each.
func sideMetrics() []sideMetric {
	return []sideMetric{
		{"Resilience", func(a *Analysis) string { return orNA(a.Run.Resilience) }},
		{"Verdict", func(a *Analysis) string { return map[bool]string{true: "PASSED", false: "FAILED"}[a.Verdict.Passed] }},
		{"Journal status / deviated", func(a *Analysis) string { return fmt.Sprintf("%s / %t", orNA(a.Status), a.Deviated) }},
		{"Recovered", func(a *Analysis) string { return yesNo(a.Recovered) }},
		{"fault → first fallback", func(a *Analysis) string { return formatOptional(a.FirstFallbackAfterFault) }},
		{"fault → OPEN", func(a *Analysis) string { return formatOptional(a.OpenAfterFault) }},
		{"heal → first backend answer", func(a *Analysis) string { return formatOptional(a.FirstBackendAfterHeal) }},
		{"heal → CLOSED", func(a *Analysis) string { return formatOptional(a.ClosedAfterHeal) }},
		{"p99 while OPEN", func(a *Analysis) string { return latOrNA(a.WhileOpen, a.WhileOpen.P99) }},
	}
}

// sideRows has one row per key number, one cell per run.
func sideRows(runs []ProfileRun) []sideRow {
	var rows []sideRow
	for _, m := range sideMetrics() {
		row := sideRow{Key: m.name}
		for _, r := range runs {
			row.Cells = append(row.Cells, sideCell{Text: m.get(r.A), Label: r.Profile.Label, Class: cellClass(r, false)})
		}
		rows = append(rows, row)
	}
	return rows
}

// cellClass is a side-by-side cell's classes: "res" for a judged run, "gap" at a group's start.
func cellClass(r ProfileRun, first bool) string {
	var c []string
	if r.Judged() {
		c = append(c, "res")
	}
	if first {
		c = append(c, "gap")
	}
	return strings.Join(c, " ")
}

// phaseMetric is one figure of a phase, for the side-by-side tables.
type phaseMetric struct {
	name string
	get  func(PhaseStats) string
}

// phaseMetrics are the figures of a phase the side-by-side tables show, as the per-phase
// tables define them.
func phaseMetrics() []phaseMetric {
	return []phaseMetric{
		{"requests", func(p PhaseStats) string { return fmt.Sprint(p.Requests) }},
		{"answered 200", func(p PhaseStats) string { return pctOrNA(p, p.PctOK200) }},
		{"fallback", func(p PhaseStats) string { return pctOrNA(p, p.PctFallback) }},
		{"errors / timeouts", func(p PhaseStats) string { return pctOrNA(p, p.PctErrors) }},
		{"dropped", droppedCell},
		{"p50", func(p PhaseStats) string { return latOrNA(p, p.P50) }},
		{"p99", func(p PhaseStats) string { return latOrNA(p, p.P99) }},
		{"max", func(p PhaseStats) string { return latOrNA(p, p.Max) }},
		{"attempts / request", ampOrNA},
	}
}

// sidePhaseRows puts each phase metric of every run in one row: before, during, after, each
// with one cell per run. heads are the cells' headings ("during: resilient").
func sidePhaseRows(runs []ProfileRun) (heads []sideCell, rows []sidePhaseRow) {
	for _, name := range phaseNames() {
		for j, r := range runs {
			heads = append(heads, sideCell{Text: name + ": " + r.Profile.Label, Label: r.Profile.Label, Class: cellClass(r, j == 0)})
		}
	}
	for _, m := range phaseMetrics() {
		row := sidePhaseRow{Key: m.name}
		for i := range 3 {
			for j, r := range runs {
				row.Cells = append(row.Cells, sideCell{Text: m.get(r.A.Phases[i]), Label: r.Profile.Label, Class: cellClass(r, j == 0)})
			}
		}
		rows = append(rows, row)
	}
	return heads, rows
}

// phaseNames name Analysis.Phases, in order.
func phaseNames() [3]string { return [3]string{PhaseBefore, PhaseDuring, PhaseAfter} }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// styleTemplate defines "style", the stylesheet every HTML page shares.
const styleTemplate = "templates/style.html.tmpl"

// capacityTemplate defines "capacity", the goodput and capacity chart.
const capacityTemplate = "templates/capacity.html.tmpl"

// tracesTemplate defines "traces", the waterfalls of a run's chosen requests.
const tracesTemplate = "templates/traces.html.tmpl"

// writeReports renders p into dir/report.md and dir/report.html.
func writeReports(dir string, p *page) error {
	md, err := renderMarkdown(p)
	if err != nil {
		return err
	}
	html, err := renderHTML(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, results.ReportMarkdown), md, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ReportHTML), html, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func funcs() map[string]any {
	return map[string]any{
		"f":        func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"add":      func(a, b float64) float64 { return a + b },
		"cell":     mdCell,
		"baseline": baselineSentence,
		"deref":    func(b *bool) bool { return b != nil && *b },
		"dur":      FormatDuration,
		"odd":      func(i int) bool { return i%2 == 1 },
		"opt":      formatOptional,
		"objValue": objectiveValue,
		"objBound": objectiveBound,
	}
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func renderMarkdown(p *page) ([]byte, error) { return executeText("report.md.tmpl", p) }

func renderHTML(p *page) ([]byte, error) { return executeHTML("report.html.tmpl", p) }

// executeText renders templates/name, a text template, with data.
func executeText(name string, data any) ([]byte, error) {
	t, err := texttemplate.New(name).Funcs(funcs()).ParseFS(templates, "templates/"+name)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", strings.TrimSuffix(name, ".tmpl"), err)
	}
	return buf.Bytes(), nil
}

// executeHTML renders templates/name, an HTML template that may use the shared "style", with
// data.
func executeHTML(name string, data any) ([]byte, error) {
	t, err := htmltemplate.New(name).Funcs(funcs()).ParseFS(templates, "templates/"+name, styleTemplate, capacityTemplate, tracesTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", strings.TrimSuffix(name, ".tmpl"), err)
	}
	return buf.Bytes(), nil
}
