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

// IsCompareDir reports whether dir is a compare folder: it holds baseline/ and resilient/.
func IsCompareDir(dir string) bool {
	for _, sub := range []string{results.BaselineDir, results.ResilientDir} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// Render writes report.md, report.html and summary.json into dir, reading it with Load. dir is
// a run folder, or a compare folder (IsCompareDir), whose report shows the baseline and the
// resilient run side by side; each run folder of a compare gets its own report and summary.json
// too (the compare folder itself has no summary.json).
func Render(dir string) error {
	if !IsCompareDir(dir) {
		a, err := Load(dir)
		if err != nil {
			return err
		}
		return RenderAnalysis(dir, a)
	}
	var runs [2]*Analysis
	for i, sub := range []string{results.BaselineDir, results.ResilientDir} {
		a, err := Load(filepath.Join(dir, sub))
		if err != nil {
			return fmt.Errorf("%s: %w", sub, err)
		}
		if err := RenderAnalysis(filepath.Join(dir, sub), a); err != nil {
			return err
		}
		runs[i] = a
	}
	return writeReports(dir, comparePage(runs[0], runs[1]))
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
	v.Chart = newChart(a, newScale(a))
	p := &page{Title: v.Title, Runs: []runView{v}, Definitions: definitions()}
	if p.Title == "" {
		p.Title = "chaoslab run"
	}
	p.Verdict = headlineVerdict(a)
	return p
}

// comparePage puts a baseline and a resilient run side by side, on one scale.
func comparePage(base, res *Analysis) *page {
	s := newScale(base, res)
	b, r := newRunView(results.LabelBaseline, base), newRunView(results.LabelResilient, res)
	b.Chart, r.Chart = newChart(base, s), newChart(res, s)
	p := &page{Title: r.Title, Compare: true, Runs: []runView{b, r}, Baseline: &b, Definitions: definitions()}
	if p.Title == "" {
		p.Title = "chaoslab run --compare"
	}
	p.Verdict = headlineVerdict(res)
	p.Side = sideRows(base, res)
	p.SidePhases = sidePhaseRows(base, res)
	return p
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

func sideRows(b, r *Analysis) []sideRow {
	return []sideRow{
		{"Resilience", orNA(b.Run.Resilience), orNA(r.Run.Resilience)},
		{"Journal status / deviated", fmt.Sprintf("%s / %t", orNA(b.Status), b.Deviated), fmt.Sprintf("%s / %t", orNA(r.Status), r.Deviated)},
		{"Recovered", yesNo(b.Recovered), yesNo(r.Recovered)},
		{"fault → first fallback", formatOptional(b.FirstFallbackAfterFault), formatOptional(r.FirstFallbackAfterFault)},
		{"fault → OPEN", formatOptional(b.OpenAfterFault), formatOptional(r.OpenAfterFault)},
		{"heal → first backend answer", formatOptional(b.FirstBackendAfterHeal), formatOptional(r.FirstBackendAfterHeal)},
		{"heal → CLOSED", formatOptional(b.ClosedAfterHeal), formatOptional(r.ClosedAfterHeal)},
		{"p99 while OPEN", latOrNA(b.WhileOpen, b.WhileOpen.P99), latOrNA(r.WhileOpen, r.WhileOpen.P99)},
	}
}

// sidePhaseRows puts each phase metric of both runs in one row: before, during, after, each
// as baseline then resilient.
func sidePhaseRows(b, r *Analysis) []sidePhaseRow {
	metrics := []struct {
		name string
		get  func(PhaseStats) string
	}{
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
	rows := make([]sidePhaseRow, 0, len(metrics))
	for _, m := range metrics {
		row := sidePhaseRow{Key: m.name}
		for i := range 3 {
			row.Cells = append(row.Cells, m.get(b.Phases[i]), m.get(r.Phases[i]))
		}
		rows = append(rows, row)
	}
	return rows
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// styleTemplate defines "style", the stylesheet every HTML page shares.
const styleTemplate = "templates/style.html.tmpl"

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
	t, err := htmltemplate.New(name).Funcs(funcs()).ParseFS(templates, "templates/"+name, styleTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", strings.TrimSuffix(name, ".tmpl"), err)
	}
	return buf.Bytes(), nil
}
