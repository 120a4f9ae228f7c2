package report

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/otlprecv"
	"chaoslab/internal/results"
)

// traceOf is the trace a client-service request leaves, as internal/tracing makes it: a
// SERVER span (child of the load's traceparent, not in the trace), one CLIENT span per call
// (resend count from the second), a retry event before each retry, a fallback event when it
// fell back; a call that succeeded has a backend SERVER span under it.
func traceOf(id string, r results.Record, state string) []otlprecv.Span {
	start := r.Start.Add(time.Millisecond)
	root := otlprecv.Span{TraceID: id, SpanID: id[:14] + "00", ParentSpanID: "00f067aa0ba902b7", Name: "GET /api/data", Kind: "SERVER",
		Start: start, End: r.Start.Add(r.Latency), Service: results.ClientService,
		Attributes: map[string]any{"http.response.status_code": int64(200)}}
	spans := []otlprecv.Span{}
	for n := range r.Attempts {
		call := otlprecv.Span{TraceID: id, SpanID: fmt.Sprintf("%s%02d", id[:14], n+1), ParentSpanID: root.SpanID, Name: "GET", Kind: "CLIENT",
			Start: start.Add(time.Duration(n) * 10 * time.Millisecond), End: start.Add(time.Duration(n)*10*time.Millisecond + 5*time.Millisecond),
			Service: results.ClientService, Attributes: map[string]any{"chaoslab.state": state}}
		if n > 0 {
			call.Attributes["http.request.resend_count"] = int64(n)
			root.Events = append(root.Events, otlprecv.Event{Name: "chaoslab.retry", Time: call.Start.Add(-4 * time.Millisecond),
				Attributes: map[string]any{"chaoslab.attempt": int64(n), "chaoslab.wait_ms": 4.0, "chaoslab.reason": "timeout"}})
		}
		if r.Source == results.SourceFallback {
			call.Attributes["error.type"], call.Status = "timeout", otlprecv.Status{Code: "ERROR", Message: "timed out"}
		} else {
			call.Attributes["http.response.status_code"] = int64(200)
			spans = append(spans, otlprecv.Span{TraceID: id, SpanID: fmt.Sprintf("%s%02d", id[:14], 50+n), ParentSpanID: call.SpanID,
				Name: "GET /api/data", Kind: "SERVER", Start: call.Start.Add(time.Millisecond), End: call.End.Add(-time.Millisecond),
				Service: results.BackendService, Attributes: map[string]any{"http.response.status_code": int64(200)}})
		}
		spans = append(spans, call)
	}
	if r.Source == results.SourceFallback {
		root.Events = append(root.Events, otlprecv.Event{Name: "chaoslab.fallback", Time: root.End, Attributes: map[string]any{"chaoslab.reason": "timeout"}})
	}
	return append(spans, root)
}

// traced is known() with a trace id on every request and the spans of each one's trace; the
// HALF_OPEN trial at +14.35s has its call permitted in HALF_OPEN.
func traced() folder {
	return edited(func(f *folder) {
		f.spans = []otlprecv.Span{}
		for i := range f.recs {
			r := &f.recs[i]
			r.ID, r.TraceID = uint64(i+1), fmt.Sprintf("%032x", i+1)
			state := results.BreakerClosed
			if r.Start.Equal(at(14.35)) || r.Start.Equal(at(24.6)) {
				state = results.BreakerHalfOpen
			}
			if r.Source != results.SourceError {
				f.spans = append(f.spans, traceOf(r.TraceID, *r, state)...)
			}
		}
		f.run.Traces = &results.TracesInfo{Endpoint: "http://127.0.0.1:4318", Kept: true, Spans: len(f.spans), Limit: 100}
	})
}

// The report draws the slowest request of each phase, the first fallback and one during
// HALF_OPEN, each once with all its reasons, in the order they were sent; a request's rows are
// its SERVER span, then each call with its resend count, then what each call reached.
func TestTraceWaterfalls(t *testing.T) {
	f := traced()
	a := f.analyze()
	tr := a.Traces
	if tr == nil || !tr.Collected {
		t.Fatalf("traces = %+v, want collected", tr)
	}
	ids := map[string]bool{}
	for _, s := range f.spans {
		ids[s.TraceID] = true
	}
	if tr.Spans != len(f.spans) || tr.Traces != len(ids) {
		t.Errorf("counted %d spans of %d traces; the folder has %d of %d", tr.Spans, tr.Traces, len(f.spans), len(ids))
	}
	if line := newTraceSection(a).Line; !strings.HasPrefix(line, fmt.Sprintf("%d spans of %d traces kept in spans.jsonl (every span the lab received", len(f.spans), len(ids))) {
		t.Errorf("section line %q", line)
	}
	var got []string
	for _, w := range tr.Waterfalls {
		got = append(got, fmt.Sprintf("%d: %s", w.Record.ID, strings.Join(w.Why, ", ")))
	}
	want := []string{"10: slowest before the fault", "11: slowest during the fault, first fallback", "17: during HALF_OPEN", "20: slowest after the heal"}
	if !slices.Equal(got, want) {
		t.Errorf("chosen = %q, want %q", got, want)
	}
	w := tr.Waterfalls[1] // request 11: 3 calls, all timed out, then the fallback
	var rows []string
	for _, r := range w.Rows {
		rows = append(rows, fmt.Sprintf("%d %s %s resend=%d %s", r.Depth, r.Service, r.Kind, r.Resend, r.Outcome))
	}
	wantRows := []string{"0 client-service SERVER resend=0 200", "1 client-service CLIENT resend=0 timeout",
		"1 client-service CLIENT resend=1 timeout", "1 client-service CLIENT resend=2 timeout"}
	if !slices.Equal(rows, wantRows) {
		t.Errorf("rows = %q, want %q", rows, wantRows)
	}
	var marks []string
	for _, m := range w.Rows[0].Marks {
		marks = append(marks, fmt.Sprintf("%s wait=%v", m.Name, m.Wait))
	}
	if want := []string{"retry wait=4ms", "retry wait=4ms", "fallback wait=0s"}; !slices.Equal(marks, want) {
		t.Errorf("marks of the SERVER span = %q, want %q", marks, want)
	}
	if !w.Start.Equal(a.Records[10].Start.Add(time.Millisecond)) || w.Rows[0].Start != 0 || w.Span != a.Records[10].Latency-time.Millisecond {
		t.Errorf("axis: start %v, first row at %v, span %v", w.Start, w.Rows[0].Start, w.Span)
	}
	if before := tr.Waterfalls[0]; len(before.Rows) != 3 || before.Rows[2].Service != results.BackendService || before.Rows[2].Depth != 2 {
		t.Errorf("a backend answer's trace: %+v", before.Rows)
	}
}

// The same folder read back from spans.jsonl (numbers as float64) gives the same waterfalls.
func TestTraceWaterfallsFromFolder(t *testing.T) {
	dir := t.TempDir()
	traced().write(t, dir)
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem := traced().analyze()
	if len(a.Traces.Waterfalls) != len(mem.Traces.Waterfalls) {
		t.Fatalf("%d waterfalls from the folder, %d from memory", len(a.Traces.Waterfalls), len(mem.Traces.Waterfalls))
	}
	for i, w := range a.Traces.Waterfalls {
		m := mem.Traces.Waterfalls[i]
		if w.TraceID != m.TraceID || len(w.Rows) != len(m.Rows) {
			t.Fatalf("waterfall %d: %s with %d rows, from memory %s with %d", i, w.TraceID, len(w.Rows), m.TraceID, len(m.Rows))
		}
		for j := range w.Rows {
			if w.Rows[j].Resend != m.Rows[j].Resend || w.Rows[j].Outcome != m.Rows[j].Outcome || len(w.Rows[j].Marks) != len(m.Rows[j].Marks) {
				t.Errorf("waterfall %d row %d: %+v, from memory %+v", i, j, w.Rows[j], m.Rows[j])
			}
		}
	}
}

var (
	figureRE = regexp.MustCompile(`(?s)<figure class="waterfall" data-trace="([0-9a-f]+)".*?</figure>`)
	clientRE = regexp.MustCompile(`<g class="span" data-kind="CLIENT" data-resend="(\d+)">`)
)

// report.html draws each chosen trace as a figure with one row per span; without spans.jsonl
// the section is one line, and the run's note says why.
func TestTraceSectionHTML(t *testing.T) {
	dir := t.TempDir()
	if err := RenderAnalysis(dir, traced().analyze()); err != nil {
		t.Fatal(err)
	}
	html := readTest(t, filepath.Join(dir, results.ReportHTML))
	figs := figureRE.FindAllSubmatch(html, -1)
	if len(figs) != 4 {
		t.Fatalf("%d waterfalls in report.html, want 4", len(figs))
	}
	fig := figs[1]
	if string(fig[1]) != fmt.Sprintf("%032x", 11) || !strings.Contains(string(fig[0]), "Request 11 (slowest during the fault, first fallback)") {
		t.Errorf("second waterfall: %.300s", fig[0])
	}
	var resends []string
	for _, m := range clientRE.FindAllSubmatch(fig[0], -1) {
		resends = append(resends, string(m[1]))
	}
	if !slices.Equal(resends, []string{"0", "1", "2"}) {
		t.Errorf("CLIENT rows' resend counts = %v, want 0 1 2", resends)
	}
	for _, s := range []string{"attempt 3 · resend 2 · CLOSED · timeout", `data-event="retry"`, `data-event="fallback"`, "stroke-dasharray"} {
		if !strings.Contains(string(fig[0]), s) {
			t.Errorf("the waterfall lacks %q", s)
		}
	}

	tests := []struct {
		name string
		info *results.TracesInfo
		line string
	}{
		{"older folder", nil, "Traces were not collected for this run (no spans.jsonl)."},
		{"user's collector", &results.TracesInfo{Endpoint: "http://jaeger:4318", Note: "the services sent their spans to your OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318"},
			"Traces were not collected for this run (no spans.jsonl): the services sent their spans to your OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := known()
			f.run.Traces = tt.info
			dir := t.TempDir()
			if err := RenderAnalysis(dir, f.analyze()); err != nil {
				t.Fatal(err)
			}
			html := string(readTest(t, filepath.Join(dir, results.ReportHTML)))
			if !strings.Contains(html, `<p class="traces-line">`+templateEscape(tt.line)+`</p>`) || strings.Contains(html, `class="waterfall"`) {
				t.Errorf("report.html's traces section is not the one line %q", tt.line)
			}
		})
	}
}

// templateEscape is s as html/template writes text.
func templateEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// A run that kept spans but none of the load's requests: the section says so, without figures.
func TestTraceSectionWithoutLoadTraces(t *testing.T) {
	f := traced()
	for i := range f.recs {
		f.recs[i].TraceID = ""
	}
	a := f.analyze()
	if len(a.Traces.Waterfalls) != 0 {
		t.Fatalf("%d waterfalls for requests without trace ids", len(a.Traces.Waterfalls))
	}
	if v := newTraceSection(a); !strings.Contains(v.Line, "No request of the load has spans") {
		t.Errorf("line = %q", v.Line)
	}
}
