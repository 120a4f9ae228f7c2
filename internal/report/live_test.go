package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// TestChartSVGIsTheReportsChart: the live page's chart is the one report.html draws, byte for
// byte, for the same analysis.
func TestChartSVGIsTheReportsChart(t *testing.T) {
	a := known().analyze()
	svg, err := ChartSVG(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") {
		t.Fatalf("ChartSVG = %.80q…, want one <svg> element alone", svg)
	}
	for _, want := range []string{`class="timeline"`, `class="m-fallback"`, `class="b-open"`, `class="faultlabel"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart has no %s", want)
		}
	}
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, results.ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), svg) {
		t.Error("report.html does not hold the chart ChartSVG rendered: the two drew the run differently")
	}
	parseXHTML(t, []byte(svg)) // well-formed: the live page parses it as SVG (XML)
}

// TestChartSVGOfAnEmptyRun: a live page asks for a chart before the first request.
func TestChartSVGOfAnEmptyRun(t *testing.T) {
	a := Analyze(&results.Run{Info: results.RunInfo{Start: t0, Resilience: results.ResilienceOn}}, nil)
	svg, err := ChartSVG(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg, `data-requests="0"`) {
		t.Errorf("ChartSVG of an empty run = %.200q…, want an empty timeline", svg)
	}
}

func TestChartSVGEscapesText(t *testing.T) {
	f := known()
	f.events[0].Message = `<script>alert("x")</script>`
	f.events[0].Name = `partition"><script>`
	svg, err := ChartSVG(f.analyze())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(svg, "<script") {
		t.Errorf("the chart holds a <script> element: %s", svg)
	}
}

func TestStyleCSS(t *testing.T) {
	css := StyleCSS()
	if strings.Contains(css, "<style") || strings.Contains(css, "</style") {
		t.Errorf("StyleCSS has its <style> tags: %.60q…", css)
	}
	for _, want := range []string{"--fallback", "svg .m-backend", "svg .b-open", ".banner.ok"} {
		if !strings.Contains(css, want) {
			t.Errorf("StyleCSS has no %q", want)
		}
	}
}
