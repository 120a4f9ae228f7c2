package client

import (
	"io"
	"net/http"
	"strings"
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

// TestEndToEndAdaptive: with RESILIENCE=adaptive and a CB_WAIT_DURATION of an hour, only the
// probes of the backend's /readyz can end the OPEN state: the client comes back once the backend
// is restarted, and /api/resilience and /metrics show the adaptive parts.
func TestEndToEndAdaptive(t *testing.T) {
	be := start(t, backend.Run, nil)
	cl := start(t, Run, map[string]string{
		"BACKEND_URL": be.URL, "RESILIENCE": "adaptive", "ATTEMPT_TIMEOUT": "500ms", "REQUEST_TIMEOUT": "2s",
		"CB_WAIT_DURATION": "1h", "PROBE_INTERVAL": "20ms", "ADAPTIVE_TIMEOUT_WINDOW": "10",
	})
	for range 5 { // warm: the window of 10 needs a tenth of it
		var a DataAnswer
		if resp := getJSON(t, cl.URL+"/api/data", &a); a.Source != resilience.SourceBackend {
			t.Fatalf("healthy answer: %d %+v", resp.StatusCode, a)
		}
	}
	var snap ResilienceAnswer
	getJSON(t, cl.URL+"/api/resilience", &snap)
	if ad := snap.Adaptive; ad == nil || ad.Samples < 5 || ad.AttemptTimeoutMs >= 500 || snap.Config["RESILIENCE"] != "adaptive" ||
		snap.Config["PROBE_INTERVAL"] != "20ms" {
		t.Fatalf("/api/resilience after warm-up: %+v, config %v; want the adaptive part with a learned timeout", snap.Adaptive, snap.Config)
	}

	be.shutdown(t)
	testutil.WaitFor(t, 5*time.Second, "the breaker OPEN and failed probes", func() bool {
		var a DataAnswer
		getJSON(t, cl.URL+"/api/data", &a)
		var s ResilienceAnswer
		getJSON(t, cl.URL+"/api/resilience", &s)
		return a.CircuitBreakerState == resilience.StateOpen && s.Adaptive.ProbesFailed > 0
	})
	start(t, backend.Run, map[string]string{"LISTEN_ADDR": be.Addr})
	testutil.WaitFor(t, 5*time.Second, "the backend again with the breaker CLOSED, long before CB_WAIT_DURATION", func() bool {
		var a DataAnswer
		getJSON(t, cl.URL+"/api/data", &a)
		return a.Source == resilience.SourceBackend && a.CircuitBreakerState == resilience.StateClosed
	})
	getJSON(t, cl.URL+"/api/resilience", &snap)
	if snap.Adaptive.ProbesSucceeded < 1 {
		t.Errorf("closed again without a good probe counted: %+v", snap.Adaptive)
	}
	if !cl.Logs.hasMsg("Probe 'backendCB' - backend /readyz answered in ") {
		t.Errorf("client log lacks the good probe's line")
	}
	resp, err := http.Get(cl.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, m := range []string{"client_adaptive_attempt_timeout_seconds ", "client_retry_budget_rate{", "client_retry_budget_refused_total{",
		`client_breaker_probes_total{name="backendCB",result="success"} `} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}
