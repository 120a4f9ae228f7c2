package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/resilience"

	"chaoslab/internal/testutil"
)

func TestDataAnswers(t *testing.T) {
	tests := []struct {
		name         string
		mode         int32
		env          []string
		wantStatus   int
		wantSource   resilience.Source
		wantFallback string
		wantAttempts int
		wantData     bool
	}{
		{"backend answers", modeOK, nil, 200, resilience.SourceBackend, "", 1, true},
		{"5xx retried then fallback", modeFail, []string{"RETRY_MAX_RETRIES", "2"}, 200, resilience.SourceFallback, "true", 3, false},
		{"404 is not retried", mode404, nil, 200, resilience.SourceFallback, "true", 1, false},
		{"baseline passes the backend through", modeOK, []string{"RESILIENCE", "off"}, 200, resilience.SourceBackend, "", 1, true},
		{"baseline error is 502", modeFail, []string{"RESILIENCE", "off"}, 502, resilience.SourceError, "", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(tt.mode)
			cl := start(t, Run, fastEnv(f.srv.URL, tt.env...))
			var a DataAnswer
			resp := getJSON(t, cl.URL+"/api/data", &a)
			if resp.StatusCode != tt.wantStatus || a.Source != tt.wantSource || a.Attempts != tt.wantAttempts ||
				resp.Header.Get("X-Fallback") != tt.wantFallback {
				t.Errorf("got %d %+v X-Fallback=%q, want %d source %s attempts %d X-Fallback=%q",
					resp.StatusCode, a, resp.Header.Get("X-Fallback"), tt.wantStatus, tt.wantSource, tt.wantAttempts, tt.wantFallback)
			}
			if hasData := string(a.Data) != "" && string(a.Data) != "null"; hasData != tt.wantData {
				t.Errorf("data = %s, want data: %v", a.Data, tt.wantData)
			}
			if (a.Error != "") == (tt.wantSource == resilience.SourceBackend) {
				t.Errorf("error = %q for source %s", a.Error, a.Source)
			}
		})
	}
}

func TestResilienceSnapshot(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "RETRY_MAX_RETRIES", "0"))
	for range 5 {
		getJSON(t, cl.URL+"/api/data", nil)
	}
	var s ResilienceAnswer
	getJSON(t, cl.URL+"/api/resilience", &s)
	b := s.CircuitBreaker
	if b.Name != "backendCB" || b.State != resilience.StateOpen || b.BufferedCalls != 5 || b.FailedCalls != 5 ||
		b.FailureRate != 100 || s.Retry.Name != "backendRetry" || s.Retry.FailedWithoutRetry != 5 ||
		s.FallbackResponses != 5 || s.Config["RETRY_MAX_RETRIES"] != "0" || s.Config["BACKEND_URL"] != f.srv.URL {
		t.Errorf("snapshot = %+v", s)
	}
}

// TestCallerGoneIsIgnored: a caller that hangs up before ATTEMPT_TIMEOUT cuts the backend call;
// the breaker counts it ignored, not failed.
func TestCallerGoneIsIgnored(t *testing.T) {
	cl := start(t, Run, fastEnv(blackhole(t), "ATTEMPT_TIMEOUT", "300ms", "REQUEST_TIMEOUT", "1s"))
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := impatient.Get(cl.URL + "/api/data"); err == nil {
		resp.Body.Close()
		t.Fatalf("the blackholed request answered %d within 100ms", resp.StatusCode)
	}
	var s ResilienceAnswer
	testutil.WaitFor(t, 2*time.Second, "the call counted ignored", func() bool {
		getJSON(t, cl.URL+"/api/resilience", &s)
		return s.CircuitBreaker.IgnoredCalls == 1
	})
	if b := s.CircuitBreaker; b.FailedCalls != 0 || b.BufferedCalls != 0 {
		t.Errorf("breaker counted %d buffered, %d failed calls for a caller that hung up", b.BufferedCalls, b.FailedCalls)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFakeBackend(t)
	cl := start(t, Run, fastEnv(f.srv.URL))
	getJSON(t, cl.URL+"/api/data", nil)
	resp, err := http.Get(cl.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`resilience4j_circuitbreaker_state{name="backendCB",state="closed"} 1`,
		`resilience4j_circuitbreaker_calls_seconds_count{kind="successful",name="backendCB"} 1`,
		`resilience4j_circuitbreaker_calls_seconds_count{kind="ignored",name="backendCB"} 0`,
		`resilience4j_circuitbreaker_not_permitted_calls_total{name="backendCB"} 0`,
		`resilience4j_retry_calls_total{kind="successful_without_retry",name="backendRetry"} 1`,
		`client_fallback_responses_total 0`,
		`http_server_requests_total{method="GET",status="200",uri="GET /api/data"} 1`,
		`http_server_requests_seconds_count{method="GET",status="200",uri="GET /api/data"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestDiagnostics(t *testing.T) {
	healthy := newFakeBackend(t)
	tests := []struct {
		name      string
		url       string
		reachable bool
		stage     string // the start of the error: which stage failed
	}{
		{"healthy backend", healthy.srv.URL, true, ""},
		{"blackhole accepts but never answers", blackhole(t), false, "connected, but no answer"},
		{"connection refused", refused(t), false, "could not connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := start(t, Run, fastEnv(tt.url))
			var d Diagnosis
			start := time.Now()
			getJSON(t, cl.URL+"/api/diagnostics/backend", &d)
			if d.Reachable != tt.reachable || (d.Error == "") != tt.reachable {
				t.Errorf("diagnosis = %+v, want reachable %v", d, tt.reachable)
			}
			if !strings.HasPrefix(d.Error, tt.stage) {
				t.Errorf("error = %q, want it to start with %q", d.Error, tt.stage)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("diagnosis took %v, want within the 100ms attempt timeout", el)
			}
		})
	}
	t.Run("a fresh connection every time", func(t *testing.T) {
		cl := start(t, Run, fastEnv(healthy.srv.URL))
		getJSON(t, cl.URL+"/api/data", nil) // leaves a pooled connection
		before := healthy.newConns.Load()
		for range 3 {
			getJSON(t, cl.URL+"/api/diagnostics/backend", nil)
		}
		if got := healthy.newConns.Load() - before; got != 3 {
			t.Errorf("3 diagnoses opened %d connections, want 3", got)
		}
	})
}

func TestBackendConnMaxAge(t *testing.T) {
	tests := []struct {
		name      string
		maxAge    time.Duration
		wantConns int64
	}{
		{"old connection is replaced", 50 * time.Millisecond, 2},
		{"no limit keeps the connection", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			cfg, err := LoadConfig(envOf(map[string]string{"BACKEND_URL": f.srv.URL}))
			if err != nil {
				t.Fatal(err)
			}
			cfg.BackendConnMaxAge = tt.maxAge
			b := newBackendClient(cfg, nil)
			defer b.close()
			for range 3 { // young connection: reused
				if _, err := b.fetch(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			<-time.After(80 * time.Millisecond) // let the connection age past 50ms
			if _, err := b.fetch(context.Background()); err != nil {
				t.Fatalf("fetch on an aged connection: %v", err)
			}
			if got := f.newConns.Load(); got != tt.wantConns {
				t.Errorf("backend accepted %d connections, want %d", got, tt.wantConns)
			}
		})
	}
}

func TestNeverFollowsRedirects(t *testing.T) {
	elsewhere := newFakeBackend(t)
	redirecting := httptest.NewServer(http.RedirectHandler(elsewhere.srv.URL+"/api/data", http.StatusFound))
	defer redirecting.Close()
	cl := start(t, Run, fastEnv(redirecting.URL))
	var a DataAnswer
	getJSON(t, cl.URL+"/api/data", &a)
	if a.Source != resilience.SourceFallback || elsewhere.calls.Load() != 0 {
		t.Errorf("answer %+v, calls elsewhere %d: the client must call BACKEND_URL only", a, elsewhere.calls.Load())
	}
}

func TestReadinessAndShutdown(t *testing.T) {
	hang := newFakeBackend(t)
	hang.mode.Store(modeHang)
	cl := start(t, Run, fastEnv(hang.srv.URL, "RESILIENCE", "off", "REQUEST_TIMEOUT", "300ms"))
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := getJSON(t, cl.URL+path, nil); r.StatusCode != http.StatusOK {
			t.Errorf("%s = %d with a hanging backend, want 200", path, r.StatusCode)
		}
	}
	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Get(cl.URL + "/api/data")
		if err != nil {
			inflight <- 0
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	testutil.WaitFor(t, 2*time.Second, "the in-flight request to reach the backend", func() bool { return hang.calls.Load() == 1 })
	cl.shutdown(t)
	if code := <-inflight; code != http.StatusBadGateway {
		t.Errorf("in-flight request ended with %d, want it finished with 502", code)
	}
	var msgs []string
	for _, r := range cl.Logs.records() {
		msgs = append(msgs, r["msg"].(string))
	}
	if got := strings.Join(msgs, "|"); !strings.Contains(got, "shutting down|stopped") {
		t.Errorf("log messages %q, want shutting down then stopped", got)
	}
}
