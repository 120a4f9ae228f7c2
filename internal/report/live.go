package report

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
)

// reportTemplate is the template that defines "chart", the timeline.
const reportTemplate = "report.html.tmpl"

// ChartSVG renders the timeline of report.html (the "chart" template) for a, alone: the live
// page shows it. It is the report's own chart, drawn by the same code on a's scale, so the
// live page and report.html cannot draw a run differently.
func ChartSVG(a *Analysis) (string, error) {
	return renderChart("chart", newChart(a, newScale(a)))
}

// CapacityChartSVG renders the goodput and capacity chart of report.html (the "capacity"
// template) for a, alone, on the same time scale as ChartSVG's; "" when a does not show them
// (Analysis.ShowsGoodput). The live page shows it under the timeline.
func CapacityChartSVG(a *Analysis) (string, error) {
	c := newCapChart(a, newScale(a))
	if c == nil {
		return "", nil
	}
	return renderChart("capacity", c)
}

// renderChart executes one of report.html's chart templates with data.
func renderChart(name string, data any) (string, error) {
	t, err := htmltemplate.New(reportTemplate).Funcs(funcs()).ParseFS(templates, "templates/"+reportTemplate, styleTemplate, capacityTemplate, tracesTemplate)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", reportTemplate, err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render the %s chart: %w", name, err)
	}
	return strings.TrimSpace(buf.String()), nil
}

// StyleCSS is the stylesheet report.html and index.html share (the "style" template), without
// its <style> tags. The template is built into the binary, so it cannot fail once the package's
// tests pass; if it did, StyleCSS panics rather than serve a page without its style.
func StyleCSS() string {
	t, err := htmltemplate.New("style").ParseFS(templates, styleTemplate)
	if err != nil {
		panic(fmt.Sprintf("report: parse %s: %v", styleTemplate, err))
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "style", nil); err != nil {
		panic(fmt.Sprintf("report: render the style: %v", err))
	}
	css := strings.TrimSpace(buf.String())
	css = strings.TrimPrefix(css, "<style>")
	css = strings.TrimSuffix(css, "</style>")
	return strings.TrimSpace(css) + "\n"
}
