package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/otlprecv"
)

// requests.csv gains a last column trace_id when a record has one, after tier when both are
// there; each form reads back, and a folder written before the column reads as before.
func TestRequestsTraceColumn(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name   string
		recs   []Record
		header string
	}{
		{"trace ids", []Record{{ID: 1, Start: t0, Status: 200, Source: SourceBackend, Attempts: 1, TraceID: id},
			{ID: 2, Start: t0, Source: SourceDropped, Attempts: 0, Error: "cap"}},
			"id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,trace_id"},
		{"tiers and trace ids", []Record{{ID: 1, Start: t0, Status: 200, Source: SourceBackend, Attempts: 1, Tier: "edge", TraceID: id},
			{ID: 2, Start: t0, Source: SourceDropped, Attempts: 0, Error: "cap", Tier: "b"}},
			"id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,tier,trace_id"},
		{"neither", []Record{{ID: 1, Start: t0, Status: 200, Source: SourceBackend, Attempts: 1}},
			"id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteRequests(&buf, tt.recs); err != nil {
				t.Fatal(err)
			}
			if head, _, _ := strings.Cut(buf.String(), "\n"); head != tt.header {
				t.Errorf("header = %s, want %s", head, tt.header)
			}
			out, err := ReadRequests(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(tt.recs) {
				t.Fatalf("read %d records, want %d", len(out), len(tt.recs))
			}
			for i := range out {
				if out[i].TraceID != tt.recs[i].TraceID || out[i].Tier != tt.recs[i].Tier || out[i].ID != tt.recs[i].ID {
					t.Errorf("record %d read back as %+v, want %+v", i, out[i], tt.recs[i])
				}
			}
		})
	}
}

// Folders written before the trace_id column (with or without tier) still read; a row that
// lacks the cell its header announces is an error.
func TestReadRequestsWithoutTraceColumn(t *testing.T) {
	old := "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error\n1,2026-11-26T10:00:00Z,0.100,1.500,200,backend,1,CLOSED,\n"
	recs, err := ReadRequests(strings.NewReader(old))
	if err != nil || len(recs) != 1 || recs[0].TraceID != "" || recs[0].Attempts != 1 || recs[0].Status != 200 {
		t.Errorf("a folder without trace_id: %+v, %v", recs, err)
	}
	oldTier := "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,tier\n1,2026-11-26T10:00:00Z,0,1,200,backend,1,CLOSED,,edge\n"
	recs, err = ReadRequests(strings.NewReader(oldTier))
	if err != nil || len(recs) != 1 || recs[0].Tier != "edge" || recs[0].TraceID != "" {
		t.Errorf("a topology folder without trace_id: %+v, %v", recs, err)
	}
	short := "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,trace_id\n1,2026-11-26T10:00:00Z,0,1,200,backend,1,CLOSED,\n"
	if _, err := ReadRequests(strings.NewReader(short)); err == nil || !strings.Contains(err.Error(), "wrong number of fields") {
		t.Errorf("a row without its trace_id: err = %v", err)
	}
}

// spans.jsonl is written only when the run kept spans, reads back span for span (numbers as
// float64), and a folder without it reads with Spans nil.
func TestRunSpansFile(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	base := func() *Run {
		return &Run{Info: RunInfo{Start: t0}, Records: []Record{{ID: 1, Start: t0, Status: 200, Source: SourceBackend, Attempts: 1}}}
	}
	dir := t.TempDir()
	r := base()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, EventsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SpansFile)); err == nil {
		t.Error("spans.jsonl written for a run without spans")
	}
	back, err := ReadRun(dir)
	if err != nil || back.Spans != nil {
		t.Fatalf("ReadRun without spans.jsonl: Spans %v, err %v", back.Spans, err)
	}

	dir = t.TempDir()
	r = base()
	r.Spans = []otlprecv.Span{
		{TraceID: "aa", SpanID: "02", ParentSpanID: "01", Name: "GET", Kind: "CLIENT", Start: t0.Add(time.Millisecond), End: t0.Add(2 * time.Millisecond),
			Attributes: map[string]any{"http.request.resend_count": int64(1)}, Service: "client-service",
			Events: []otlprecv.Event{{Name: "chaoslab.retry", Time: t0, Attributes: map[string]any{"chaoslab.wait_ms": int64(20)}}}},
		{TraceID: "aa", SpanID: "01", Name: "GET /api/data", Kind: "SERVER", Start: t0, End: t0.Add(3 * time.Millisecond), Service: "client-service"},
	}
	r.Sort()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, EventsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SpansFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Errorf("spans.jsonl has %d lines, want 2", n)
	}
	back, err = ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Spans) != 2 || back.Spans[0].SpanID != "01" || back.Spans[1].Kind != "CLIENT" {
		t.Fatalf("spans read back: %+v", back.Spans)
	}
	if got := back.Spans[1].Attributes["http.request.resend_count"]; got != float64(1) {
		t.Errorf("resend count read back as %#v, want float64(1)", got)
	}
	if ev := back.Spans[1].Events; len(ev) != 1 || ev[0].Name != "chaoslab.retry" || !ev[0].Time.Equal(t0) {
		t.Errorf("events read back: %+v", ev)
	}
}
