package resilience

import (
	"context"
	"errors"
	"slices"
	"testing"

	"chaoslab/internal/results"
)

// retryOnlyConfig is testConfig as RESILIENCE=retry, with a breaker configuration that would open
// on the second failure if there were a breaker.
func retryOnlyConfig() Config {
	cfg := testConfig()
	cfg.RetryOnly = true
	cfg.SlidingWindow, cfg.MinimumCalls = 2, 2
	return cfg
}

// TestRetryOnlyOutcomes: RESILIENCE=retry retries as on does, under the attempt timeout, and
// hands the last error to the caller: no fallback, and no breaker ever (DISABLED).
func TestRetryOnlyOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		mode         int32
		wantSource   Source
		wantAttempts int
		wantErr      error // nil: no error; else errors.Is
		wantStatus   int   // a *StatusError's code, when wantErr is a StatusError
	}{
		{"success", modeOK, SourceBackend, 1, nil, 0},
		{"5xx retried, then the last error", modeFail, SourceError, 4, &StatusError{}, 500},
		{"429 retried, then the last error", mode429, SourceError, 4, &StatusError{}, 429},
		{"404 not retried", mode404, SourceError, 1, &StatusError{}, 404},
		{"a hang cut by each attempt timeout", modeHang, SourceError, 4, ErrAttemptTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(tt.mode)
			p, logs, _ := newTestPipeline(t, retryOnlyConfig())
			for i := range 3 { // more failures than would open a breaker
				out := p.Execute(WithRequestID(context.Background(), uint64(i+1)), f.call)
				if out.Source != tt.wantSource || out.Attempts != tt.wantAttempts || out.State != StateDisabled {
					t.Fatalf("request %d: %+v, want %s after %d attempts, DISABLED", i+1, out, tt.wantSource, tt.wantAttempts)
				}
				checkErr(t, out.Err, tt.wantErr, tt.wantStatus)
			}
			if got := f.calls.Load(); got != int64(3*tt.wantAttempts) {
				t.Errorf("backend calls = %d, want %d", got, 3*tt.wantAttempts)
			}
			for _, e := range logs.events(t) {
				if e.Kind == results.KindBreaker || e.Kind == results.KindFallback {
					t.Errorf("RESILIENCE=retry logged %+v; it has no breaker and no fallback", e)
				}
			}
			if n := countPrefix(logs.messages(t), "Retry 'backendRetry' - Attempt #"); n != 3*(tt.wantAttempts-1) {
				t.Errorf("%d retry lines, want %d", n, 3*(tt.wantAttempts-1))
			}
		})
	}
}

func checkErr(t *testing.T, err, want error, status int) {
	t.Helper()
	var se *StatusError
	switch {
	case want == nil && err != nil:
		t.Errorf("error %v, want none", err)
	case want == nil:
	case errors.As(want, &se):
		if !errors.As(err, &se) || se.Code != status {
			t.Errorf("error %v, want the backend's %d", err, status)
		}
	case !errors.Is(err, want):
		t.Errorf("error %v, want %v", err, want)
	}
}

// TestRetryOnlyRecords: the retry lines and attempt records are those of on, numbered alike; the
// metrics and the snapshot show no breaker (DISABLED, as off does) and count the retries.
func TestRetryOnlyRecords(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	p, logs, reg := newTestPipeline(t, retryOnlyConfig())
	p.Execute(WithRequestID(context.Background(), 7), f.call)
	var retries []int
	for _, e := range logs.events(t) {
		if e.Kind == results.KindRetry {
			retries = append(retries, e.Attempt)
		}
	}
	if got := attemptOutcomes(t, logs, 7); !slices.Equal(retries, []int{1, 2, 3}) || len(got) != 4 {
		t.Errorf("retry records %v and %d attempt records, want [1 2 3] and 4", retries, len(got))
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	metrics := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"resilience4j_circuitbreaker_state", map[string]string{"state": "disabled"}, 1},
		{"resilience4j_circuitbreaker_state", map[string]string{"state": "closed"}, 0},
		{"resilience4j_circuitbreaker_calls_seconds", map[string]string{"kind": "failed"}, 0},
		{"resilience4j_retry_calls_total", map[string]string{"kind": "failed_with_retry"}, 1},
		{"client_fallback_responses_total", nil, 0},
	}
	for _, m := range metrics {
		if got, ok := find(families, m.name, m.labels); !ok || got != m.want {
			t.Errorf("%s%v = %v (found %v), want %v", m.name, m.labels, got, ok, m.want)
		}
	}
	s := p.Snapshot()
	if b := s.CircuitBreaker; b.State != StateDisabled || b.FailureRate != -1 || b.BufferedCalls != 0 ||
		s.Retry.FailedWithRetry != 1 || s.Retry.RetriesScheduled != 3 || s.FallbackResponses != 0 {
		t.Errorf("snapshot = %+v, want a DISABLED breaker, 1 request failed with 3 retries", s)
	}
}
