package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// hostile is text a results folder may carry from outside (an experiment's title, an activity's
// name, a backend's error, a log line): markup, quotes, template braces and a Markdown pipe.
const hostile = `<script>alert(1)</script> "q" 'a' </svg> {{.X}} a|b`

// hostileRun is known() with hostile text in every free-text field the report shows.
func hostileRun() folder {
	return edited(func(f *folder) {
		f.run.Title = "Title " + hostile
		for i := range f.recs {
			if f.recs[i].Source != results.SourceBackend {
				f.recs[i].Error = "error " + hostile
			}
		}
		for i := range f.events {
			if f.events[i].Kind == results.KindRetry {
				f.events[i].Error = "retry " + hostile
			}
			if f.events[i].Kind == results.KindFault {
				f.events[i].Name = "fault " + hostile
			}
		}
		f.events = append(f.events, results.Event{Time: at(3), Kind: results.KindFallback, Error: "fallback " + hostile})
		doc, _ := json.Marshal(map[string]any{"title": "Experiment " + hostile, "description": "Description " + hostile,
			"steady-state-hypothesis": map[string]any{"title": "Hypothesis " + hostile}})
		f.journal.Experiment = doc
		for _, e := range append(append([]*experiment.Entry{}, f.journal.Run...), f.journal.Rollbacks...) {
			e.Activity = experiment.NewObject("type", "action", "name", "activity "+hostile)
			e.Output = experiment.NewObject("status", int64(500), "body", "output "+hostile)
			e.Exception = []string{"exception " + hostile}
		}
		for _, p := range f.journal.SteadyStates.Before.Probes {
			p.Activity = experiment.NewObject("type", "probe", "name", "probe "+hostile)
		}
	})
}

// TestHostileTextIsEscapedInHTML: report.html shows hostile text as text: the raw script tag,
// an unescaped </svg> or a template action never appear, the escaped form does.
func TestHostileTextIsEscapedInHTML(t *testing.T) {
	f := hostileRun()
	dir := t.TempDir()
	f.write(t, dir)
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<script>alert(1)</script>"); n != 0 {
		t.Errorf("report.html holds the raw script tag %d times", n)
	}
	if strings.Contains(page, "alert(1)</script>") || strings.Contains(page, `"q" 'a'`) {
		t.Errorf("report.html holds hostile text unescaped")
	}
	if n := strings.Count(page, "</svg>"); n != strings.Count(page, "<svg") {
		t.Errorf("report.html has %d </svg> for %d <svg: hostile text closed an SVG", n, strings.Count(page, "<svg"))
	}
	// html/template escapes < as &lt; and quotes as &#34; / &#39;.
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	for _, want := range []string{"Title ", "error ", "activity ", "probe ", "output ", "exception "} {
		if !strings.Contains(page, want+escaped) {
			t.Errorf("report.html does not show %q followed by the escaped script tag", want)
		}
	}
	if strings.Contains(page, "{{") && !strings.Contains(page, "{{.X}}") {
		t.Errorf("template braces were interpreted")
	}
}

// mdPipe matches a cell separator of a Markdown table row: an escaped pipe \| is inside a cell.
var mdPipe = regexp.MustCompile(`(^|[^\\])\|`)

// mdCells counts the cells of a table row.
func mdCells(line string) int { return len(mdPipe.FindAllStringIndex(line, -1)) - 1 }

// TestHostileTextKeepsMarkdownTables: in report.md every row of a table has as many cells as
// its header, whatever pipes or newlines the texts hold.
func TestHostileTextKeepsMarkdownTables(t *testing.T) {
	f := hostileRun()
	dir := t.TempDir()
	f.write(t, dir)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	if !strings.Contains(md, `a\|b`) {
		t.Errorf("report.md never shows the escaped pipe a\\|b")
	}
	header := -1
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			header = -1
			continue
		}
		n := mdCells(line)
		if header < 0 {
			header = n
			continue
		}
		if n != header {
			t.Errorf("report.md line %d has %d cells, its table %d: %s", i+1, n, header, line)
		}
	}
}
