package client

import (
	"net/http"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/resilience"

	"chaoslab/internal/testutil"
)

// TestEndToEnd starts both services' Run, kills the backend, sees fallbacks, restarts it and
// sees the backend answer again with the breaker CLOSED.
func TestEndToEnd(t *testing.T) {
	be := start(t, backend.Run, nil)
	cl := start(t, Run, map[string]string{
		"BACKEND_URL": be.URL, "ATTEMPT_TIMEOUT": "200ms", "REQUEST_TIMEOUT": "2s",
		"RETRY_INITIAL_BACKOFF": "10ms", "RETRY_MAX_BACKOFF": "50ms", "CB_WAIT_DURATION": "200ms",
	})
	var a DataAnswer
	if resp := getJSON(t, cl.URL+"/api/data", &a); resp.StatusCode != http.StatusOK ||
		a.Source != resilience.SourceBackend || a.CircuitBreakerState != resilience.StateClosed {
		t.Fatalf("healthy answer: %d %+v", resp.StatusCode, a)
	}

	be.shutdown(t)
	testutil.WaitFor(t, 5*time.Second, "fallbacks with the breaker OPEN", func() bool {
		var a DataAnswer
		resp := getJSON(t, cl.URL+"/api/data", &a)
		return resp.Header.Get("X-Fallback") == "true" && a.Source == resilience.SourceFallback &&
			a.CircuitBreakerState == resilience.StateOpen
	})
	if r := getJSON(t, cl.URL+"/readyz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("readyz = %d with the backend down, want 200", r.StatusCode)
	}
	for _, msg := range []string{"Retry 'backendRetry' - Attempt #1", "CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN", "Fallback response due to error: "} {
		if !cl.Logs.hasMsg(msg) {
			t.Errorf("client log lacks %q", msg)
		}
	}

	start(t, backend.Run, map[string]string{"LISTEN_ADDR": be.Addr})
	testutil.WaitFor(t, 5*time.Second, "the backend again with the breaker CLOSED", func() bool {
		var a DataAnswer
		getJSON(t, cl.URL+"/api/data", &a)
		return a.Source == resilience.SourceBackend && a.CircuitBreakerState == resilience.StateClosed
	})
	if !cl.Logs.hasMsg("CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED") {
		t.Errorf("client log lacks the HALF_OPEN -> CLOSED line")
	}
}
