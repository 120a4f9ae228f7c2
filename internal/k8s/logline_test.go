package k8s

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// TestDecodeTextAndJSONLines writes the same records with slog's text and JSON handlers (as the
// client does with LOG_FORMAT unset and json) and decodes both to the same events.
func TestDecodeTextAndJSONLines(t *testing.T) {
	at := time.Date(2026, 11, 29, 20, 41, 7, 512_000_000, time.UTC)
	write := func(h slog.Handler) {
		l := slog.New(h)
		rec := func(level slog.Level, msg string, attrs ...slog.Attr) {
			r := slog.NewRecord(at, level, msg, 0)
			r.AddAttrs(attrs...)
			l.Handler().Handle(t.Context(), r)
		}
		rec(slog.LevelInfo, "Retry 'backendRetry' - Attempt #2", slog.String("event", "retry"), slog.Int("attempt", 2),
			slog.Duration("wait", 1500*time.Millisecond), slog.Float64("wait_ms", 1500.5), slog.String("error", `dial tcp 198.19.0.7:8081: connect: connection refused`), slog.Uint64("request_id", 42))
		rec(slog.LevelWarn, "CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN", slog.String("event", "breaker"), slog.String("from", "CLOSED"), slog.String("to", "OPEN"))
		rec(slog.LevelWarn, "Fallback response due to error: CircuitBreaker 'backendCB' is OPEN and does not permit further calls",
			slog.String("event", "fallback"), slog.String("error", "CircuitBreaker 'backendCB' is OPEN and does not permit further calls"), slog.Uint64("request_id", 43))
		rec(slog.LevelDebug, "backend call", slog.String("event", "attempt"), slog.Int("attempt", 1), slog.String("outcome", "failure"), slog.Float64("duration_ms", 3.25), slog.Uint64("request_id", 42))
		rec(slog.LevelInfo, "GET /api/data", slog.Int("status", 200))
	}
	want := []results.Event{
		{Time: at, Kind: results.KindRetry, Attempt: 2, WaitMS: 1500.5, Error: "dial tcp 198.19.0.7:8081: connect: connection refused", RequestID: 42},
		{Time: at, Kind: results.KindBreaker, From: "CLOSED", To: "OPEN"},
		{Time: at, Kind: results.KindFallback, Error: "CircuitBreaker 'backendCB' is OPEN and does not permit further calls", RequestID: 43},
		{Time: at, Kind: results.KindAttempt, Attempt: 1, Outcome: "failure", DurationMS: 3.25, RequestID: 42},
	}
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		var h slog.Handler = slog.NewTextHandler(&b, opts)
		if format == "json" {
			h = slog.NewJSONHandler(&b, opts)
		}
		write(h)
		var got []results.Event
		for _, line := range bytes.Split(b.Bytes(), []byte("\n")) {
			if e, ok := DecodeLogLine(line); ok {
				got = append(got, e)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: decoded %d events, want %d:\n%s", format, len(got), len(want), b.String())
		}
		for i := range want {
			if !got[i].Time.Equal(want[i].Time) {
				t.Errorf("%s event %d time %v, want %v", format, i, got[i].Time, want[i].Time)
			}
			got[i].Time = want[i].Time
			if got[i] != want[i] {
				t.Errorf("%s event %d = %+v, want %+v", format, i, got[i], want[i])
			}
		}
	}
}

func TestParseTextOddities(t *testing.T) {
	got := parseText(`time=2026-01-01T00:00:00Z level=INFO msg="a \"quoted\" = word" event=fallback error= x=y noequals tail="unterminated`)
	if got["msg"] != `a "quoted" = word` || got["event"] != "fallback" || got["error"] != "" || got["x"] != "y" {
		t.Errorf("parseText = %q", got)
	}
}
