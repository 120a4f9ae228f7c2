package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// Geometry of a waterfall, in SVG units.
const (
	wfWidth  = 1000.0
	wfLabelX = 8.0   // where the labels start
	wfIndent = 14.0  // per level of depth
	wfPlotX  = 430.0 // where the time axis starts
	wfPlotW  = 550.0
	wfAxisH  = 26.0 // the axis' labels above the rows
	wfRowH   = 22.0
	wfBarH   = 12.0
)

// traceSection is the report's section on traces.
type traceSection struct {
	Collected bool
	Line      string // one line: what was kept, or why nothing was
	Figures   []traceFigure
}

// traceFigure is one waterfall, drawn.
type traceFigure struct {
	Title, Sub, TraceID string
	H                   float64
	Ticks               []tick
	Rows                []traceBar
	GridTop, GridBottom float64
}

// traceBar is one span's row.
type traceBar struct {
	Kind, Label, Title, Fill string
	Resend                   int
	LabelX, TextY, Y, X, W   float64
	Marks                    []traceMarkView
}

// traceMarkView is one span event, drawn on its span's row; a retry's wait is a dashed line.
type traceMarkView struct {
	Name, Title, Fill string
	X, Y, WaitX2      float64
}

// newTraceSection formats a's traces; nil when a has none (a hand-made Analysis).
func newTraceSection(a *Analysis) *traceSection {
	t := a.Traces
	if t == nil {
		return nil
	}
	if !t.Collected {
		line := "Traces were not collected for this run (no " + results.SpansFile + ")."
		if t.Note != "" {
			line = strings.TrimSuffix(line, ".") + ": " + t.Note + "."
		}
		return &traceSection{Line: line}
	}
	s := &traceSection{Collected: true}
	s.Line = fmt.Sprintf("%d spans of %d traces kept in %s (every span the lab received, from the services' start to their stop). ", t.Spans, t.Traces, results.SpansFile)
	if len(t.Waterfalls) == 0 {
		s.Line += "No request of the load has spans among them, so there is no waterfall to draw."
		return s
	}
	s.Line += fmt.Sprintf("Below, %s: every span of the request's trace (its trace id is in requests.csv), as a tree, on a time axis from the trace's first span; a retry's wait is dashed, events are marks (hover for their attributes).",
		plural(len(t.Waterfalls), "chosen request"))
	for _, w := range t.Waterfalls {
		s.Figures = append(s.Figures, newTraceFigure(a, w))
	}
	return s
}

func newTraceFigure(a *Analysis, w Waterfall) traceFigure {
	r := w.Record
	attempts := "attempts unknown"
	if r.Attempts != results.UnknownAttempts {
		attempts = plural(r.Attempts, "backend call")
	}
	f := traceFigure{TraceID: w.TraceID,
		Title: fmt.Sprintf("Request %d (%s)", r.ID, strings.Join(w.Why, ", ")),
		Sub: fmt.Sprintf("scheduled %s from the run start: %s, %s, %s from its scheduled arrival to its answer; trace %s",
			FormatOffset(r.Start.Sub(a.Origin)), outcomeOf(r), attempts, FormatDuration(r.Latency), w.TraceID)}
	total := max(w.Span, time.Millisecond)
	x := func(d time.Duration) float64 { return wfPlotX + wfPlotW*float64(d)/float64(total) }
	step := traceStep(total)
	for d := time.Duration(0); d <= total; d += step {
		f.Ticks = append(f.Ticks, tick{Pos: x(d), Label: tickLabel(d)})
	}
	f.GridTop = wfAxisH - 6
	for i, row := range w.Rows {
		y := wfAxisH + float64(i)*wfRowH
		b := traceBar{Kind: row.Kind, Resend: row.Resend, Label: rowLabel(row), Fill: barFill(row),
			LabelX: wfLabelX + wfIndent*float64(row.Depth), TextY: y + wfRowH/2 + 4, Y: y + (wfRowH-wfBarH)/2,
			X: x(row.Start), W: math.Max(1, x(row.End)-x(row.Start)),
			Title: fmt.Sprintf("%s: %s → %s (%s)", rowLabel(row), traceTick(row.Start), traceTick(row.End), FormatDuration(row.End-row.Start))}
		for _, m := range row.Marks {
			mv := traceMarkView{Name: m.Name, X: x(m.At), Y: y + wfRowH/2, Fill: markFill(m.Name),
				Title: fmt.Sprintf("%s at %s: %s", m.Name, traceTick(m.At), m.Detail)}
			if m.Wait > 0 {
				mv.WaitX2 = x(min(m.At+m.Wait, total))
			}
			b.Marks = append(b.Marks, mv)
		}
		f.Rows = append(f.Rows, b)
	}
	f.H = wfAxisH + float64(len(w.Rows))*wfRowH + 8
	f.GridBottom = f.H - 4
	return f
}

// outcomeOf says how a request was answered, for a person.
func outcomeOf(r results.Record) string {
	switch r.Source {
	case results.SourceBackend:
		return "answered by the backend"
	case results.SourceFallback:
		return "answered by the fallback"
	}
	if r.Error != "" {
		return "failed (" + cut(r.Error, 60) + ")"
	}
	return r.Source
}

// rowLabel names a span: its service, and for a call its attempt, resend count, the breaker's
// state it was permitted in and its outcome.
func rowLabel(r TraceRow) string {
	parts := []string{r.Service}
	if r.Kind == "CLIENT" {
		parts = append(parts, fmt.Sprintf("attempt %d", r.Attempt))
		if r.Resend > 0 {
			parts = append(parts, "resend "+strconv.Itoa(r.Resend))
		}
		if r.State != "" {
			parts = append(parts, r.State)
		}
	} else {
		parts = append(parts, r.Kind+" "+r.Name)
	}
	if r.Outcome != "" {
		parts = append(parts, r.Outcome)
	}
	return strings.Join(parts, " · ")
}

func barFill(r TraceRow) string {
	switch {
	case r.Failed:
		return "#e03131"
	case r.Kind == "CLIENT":
		return "#2b9348"
	case r.Kind == "SERVER":
		return "#4c6ef5"
	}
	return "#868e96"
}

func markFill(name string) string {
	switch {
	case strings.HasPrefix(name, "retry"):
		return "#f08c00"
	case strings.HasPrefix(name, "breaker"):
		return "#c92a2a"
	case name == "fallback":
		return "#7048e8"
	}
	return "#495057"
}

// traceStep is a round step (1, 2 or 5 times a power of ten) giving at most 6 ticks over span.
func traceStep(span time.Duration) time.Duration {
	for decade := time.Microsecond; ; decade *= 10 {
		for _, m := range []time.Duration{1, 2, 5} {
			if step := m * decade; span/step <= 6 {
				return step
			}
		}
	}
}

// tickLabel labels a round time of the axis: "0", "+0.5 ms", "+20 ms", "+1.5 s".
func tickLabel(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= time.Second:
		return "+" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	}
	return "+" + strconv.FormatFloat(msOf(d), 'f', -1, 64) + " ms"
}

// traceTick labels a time from the trace's first span.
func traceTick(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return "+" + FormatDuration(d)
}
