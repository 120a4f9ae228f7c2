package client

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"chaoslab/internal/resilience"
)

// TestRetryProfile: RESILIENCE=retry retries as on does and answers the last error as 502, as off
// does, with the breaker DISABLED in the answer, /api/resilience and /metrics.
func TestRetryProfile(t *testing.T) {
	tests := []struct {
		name         string
		mode         int32
		wantStatus   int
		wantSource   resilience.Source
		wantAttempts int
		wantError    string
	}{
		{"backend answers", modeOK, 200, resilience.SourceBackend, 1, ""},
		{"5xx retried, then 502", modeFail, 502, resilience.SourceError, 3, "backend answered 500 Internal Server Error: boom"},
		{"404 not retried, 502", mode404, 502, resilience.SourceError, 1, "backend answered 404 Not Found: 404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(tt.mode)
			cl := start(t, Run, fastEnv(f.srv.URL, "RESILIENCE", "retry", "RETRY_MAX_RETRIES", "2",
				"CB_SLIDING_WINDOW", "1", "CB_MINIMUM_CALLS", "1"))
			for range 3 { // a breaker, if there were one, would open on the first failure
				var a DataAnswer
				resp := getJSON(t, cl.URL+"/api/data", &a)
				if resp.StatusCode != tt.wantStatus || a.Source != tt.wantSource || a.Attempts != tt.wantAttempts ||
					a.Error != tt.wantError || a.CircuitBreakerState != resilience.StateDisabled || resp.Header.Get("X-Fallback") != "" {
					t.Fatalf("got %d %+v X-Fallback=%q, want %d %s after %d attempts, error %q, DISABLED",
						resp.StatusCode, a, resp.Header.Get("X-Fallback"), tt.wantStatus, tt.wantSource, tt.wantAttempts, tt.wantError)
				}
			}
			if n := f.calls.Load(); n != int64(3*tt.wantAttempts) {
				t.Errorf("backend calls = %d, want %d", n, 3*tt.wantAttempts)
			}
			var s ResilienceAnswer
			getJSON(t, cl.URL+"/api/resilience", &s)
			if s.Config["RESILIENCE"] != "retry" || s.CircuitBreaker.State != resilience.StateDisabled ||
				s.Retry.RetriesScheduled != int64(3*(tt.wantAttempts-1)) || s.FallbackResponses != 0 {
				t.Errorf("/api/resilience = %+v", s)
			}
			if n := strings.Count(cl.Logs.String(), "Retry 'backendRetry' - Attempt #"); n != 3*(tt.wantAttempts-1) {
				t.Errorf("%d retry lines, want %d", n, 3*(tt.wantAttempts-1))
			}
			if cl.Logs.hasMsg("Fallback response") || cl.Logs.hasMsg("CircuitBreaker ") {
				t.Errorf("RESILIENCE=retry logged a fallback or a breaker line:\n%s", cl.Logs.String())
			}
			metrics := scrapeMetrics(t, cl.URL)
			for _, want := range []string{`resilience4j_circuitbreaker_state{name="backendCB",state="disabled"} 1`,
				`resilience4j_circuitbreaker_state{name="backendCB",state="closed"} 0`, `client_fallback_responses_total 0`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

// scrapeMetrics returns the text of the service's /metrics.
func scrapeMetrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
