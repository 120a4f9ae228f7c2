package resilience

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// failingScenario runs one request (id 42) against a failing backend with a breaker that opens
// on the third failure: two retries are scheduled, the breaker opens, the fallback answers.
func failingScenario(t *testing.T, logger *slog.Logger, reg *prometheus.Registry) *Pipeline {
	t.Helper()
	return failingScenarioWith(t, Options{Logger: logger, Registry: reg})
}

// failingScenarioWith is failingScenario with the pipeline's options given whole, and its
// configuration changed by tune.
func failingScenarioWith(t *testing.T, opts Options, tune ...func(*Config)) *Pipeline {
	t.Helper()
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls = 3, 3
	for _, f := range tune {
		f(&cfg)
	}
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if out := p.Execute(WithRequestID(context.Background(), 42), f.call); out.Source != SourceFallback || out.Attempts != 3 {
		t.Fatalf("outcome = %+v, want fallback after 3 attempts", out)
	}
	return p
}

func TestLogLinesText(t *testing.T) {
	var buf logBuffer
	failingScenario(t, slog.New(slog.NewTextHandler(&buf, nil)), prometheus.NewRegistry())
	const cause = `backend answered 500 Internal Server Error`
	want := []*regexp.Regexp{
		regexp.MustCompile(`^time=\S+ level=WARN msg="Retry 'backendRetry' - Attempt #1" component=resilience event=retry attempt=1 wait=10ms wait_ms=10 error="` + cause + `" request_id=42$`),
		regexp.MustCompile(`^time=\S+ level=WARN msg="Retry 'backendRetry' - Attempt #2" component=resilience event=retry attempt=2 wait=20ms wait_ms=20 error="` + cause + `" request_id=42$`),
		regexp.MustCompile(`^time=\S+ level=WARN msg="CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN" component=resilience event=breaker from=CLOSED to=OPEN$`),
		regexp.MustCompile(`^time=\S+ level=WARN msg="Fallback response due to error: ` + cause + `" component=resilience event=fallback error="` + cause + `" request_id=42$`),
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q\nwant match %s", i+1, lines[i], re)
		}
	}
}

func TestLogLinesJSON(t *testing.T) {
	var buf logBuffer
	failingScenario(t, slog.New(slog.NewJSONHandler(&buf, nil)), prometheus.NewRegistry())
	recs := buf.records(t)
	tests := []struct {
		name  string
		msg   *regexp.Regexp
		attrs map[string]any
	}{
		{"retry 1", regexp.MustCompile(`^Retry 'backendRetry' - Attempt #1$`),
			map[string]any{"event": "retry", "attempt": float64(1), "wait": float64(10e6), "wait_ms": float64(10),
				"error": "backend answered 500 Internal Server Error", "request_id": float64(42)}},
		{"retry 2", regexp.MustCompile(`^Retry 'backendRetry' - Attempt #2$`),
			map[string]any{"event": "retry", "attempt": float64(2), "wait": float64(20e6), "wait_ms": float64(20),
				"error": "backend answered 500 Internal Server Error", "request_id": float64(42)}},
		{"state change", regexp.MustCompile(`^CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN$`),
			map[string]any{"event": "breaker", "from": "CLOSED", "to": "OPEN", "request_id": nil}},
		{"fallback", regexp.MustCompile(`^Fallback response due to error: backend answered 500 Internal Server Error$`),
			map[string]any{"event": "fallback", "error": "backend answered 500 Internal Server Error", "request_id": float64(42)}},
	}
	if len(recs) != len(tests) {
		t.Fatalf("got %d records, want %d:\n%s", len(recs), len(tests), buf.String())
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recs[i]
			if !tt.msg.MatchString(r["msg"].(string)) {
				t.Errorf("msg = %q, want match %s", r["msg"], tt.msg)
			}
			for k, v := range tt.attrs {
				if r[k] != v {
					t.Errorf("%s = %v (%T), want %v", k, r[k], r[k], v)
				}
			}
		})
	}
}

func TestMetricsFollowEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := failingScenario(t, slog.New(slog.DiscardHandler), reg)
	f := newFakeBackend(t)
	p.Execute(context.Background(), f.call) // rejected: the breaker is OPEN
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"open state is 1", "resilience4j_circuitbreaker_state", map[string]string{"name": "backendCB", "state": "open"}, 1},
		{"closed state is 0", "resilience4j_circuitbreaker_state", map[string]string{"name": "backendCB", "state": "closed"}, 0},
		{"failed calls timed", "resilience4j_circuitbreaker_calls_seconds", map[string]string{"name": "backendCB", "kind": "failed"}, 3},
		{"not permitted", "resilience4j_circuitbreaker_not_permitted_calls_total", map[string]string{"name": "backendCB"}, 1},
		{"failed with retry", "resilience4j_retry_calls_total", map[string]string{"name": "backendRetry", "kind": "failed_with_retry"}, 1},
		{"rejected without retry", "resilience4j_retry_calls_total", map[string]string{"name": "backendRetry", "kind": "failed_without_retry"}, 1},
		{"fallbacks", "client_fallback_responses_total", nil, 2},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := find(families, tt.metric, tt.labels)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (found %v), want %v", tt.metric, tt.labels, got, ok, tt.want)
			}
		})
	}
	s := p.Snapshot()
	if s.FallbackResponses != 2 || s.Retry.FailedWithRetry != 1 || s.CircuitBreaker.NotPermittedCalls != 1 {
		t.Errorf("snapshot disagrees with the metrics: %+v", s)
	}
}

// find returns the value of the sample of metric name with the labels (a histogram's count).
func find(families []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}
