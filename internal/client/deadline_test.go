package client

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
)

// headerLog records the headers of the requests a handler receives; safe for concurrent use.
type headerLog struct {
	mu   sync.Mutex
	seen []http.Header
}

func (l *headerLog) add(h http.Header) {
	l.mu.Lock()
	l.seen = append(l.seen, h.Clone())
	l.mu.Unlock()
}

func (l *headerLog) all() []http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// deadlineOf reads the deadline header's milliseconds of h (-1 when absent).
func deadlineOf(t *testing.T, h http.Header) int64 {
	t.Helper()
	v := h.Values(results.DeadlineHeader)
	if len(v) == 0 {
		return -1
	}
	ms, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || len(v) != 1 {
		t.Fatalf("%s: %q, want one whole number", results.DeadlineHeader, v)
	}
	return ms
}

// dataRequest sends GET /api/data with the headers (name, value, ...) and decodes the answer.
func dataRequest(t *testing.T, base string, headers ...string) (*http.Response, DataAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var a DataAnswer
	resp := decodeAnswer(t, req, &a)
	return resp, a
}

// TestDeadlineChain: edge -> (recording proxy) -> mid -> backend, two client-services in
// process. The request id arrives at the backend on every attempt; the deadline header shrinks:
// the edge sends what its caller gave it less its own time, and mid's retry, 50ms later, sends
// 50ms less than its first attempt.
func TestDeadlineChain(t *testing.T) {
	var atBackend, atMid headerLog
	var calls int
	var mu sync.Mutex
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atBackend.add(r.Header)
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"service":"backend-service"}`))
	}))
	t.Cleanup(backend.Close)
	slow := []string{"ATTEMPT_TIMEOUT", "1s", "REQUEST_TIMEOUT", "2s", "RETRY_INITIAL_BACKOFF", "50ms",
		"RETRY_MAX_BACKOFF", "1s", "RETRY_JITTER", "0"}
	mid := start(t, Run, fastEnv(backend.URL, append(slow, "TIER", "mid")...))
	midURL, err := url.Parse(mid.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(midURL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atMid.add(r.Header)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	edge := start(t, Run, fastEnv(proxy.URL, append(slow, "TIER", "edge")...))

	resp, a := dataRequest(t, edge.URL, results.RequestIDHeader, "77", results.DeadlineHeader, "400")
	if resp.StatusCode != http.StatusOK || a.Source != resilience.SourceBackend || a.Attempts != 1 {
		t.Fatalf("edge answered %d %+v, want the backend's answer after 1 attempt", resp.StatusCode, a)
	}
	hops := append(atMid.all(), atBackend.all()...)
	if len(hops) != 3 {
		t.Fatalf("%d requests seen (mid, then the backend), want 3", len(hops))
	}
	var ms []int64
	for i, h := range hops {
		if id := h.Get(results.RequestIDHeader); id != "77" {
			t.Errorf("request %d: %s %q, want 77", i+1, results.RequestIDHeader, id)
		}
		ms = append(ms, deadlineOf(t, h))
	}
	// mid gets <= 400 (the edge's time left); the backend's first attempt <= that; its retry
	// after the 50ms wait >= 50ms less.
	if ms[0] > 400 || ms[0] < 300 || ms[1] > ms[0] || ms[1] < 250 || ms[2] > ms[1]-50 || ms[2] < 1 {
		t.Errorf("deadline headers mid, backend #1, backend #2 = %v ms; want at most 400, shrinking, the retry 50ms less", ms)
	}
}

// TestDeadlineHeaderSent: what the backend receives, by the caller's header, the profile and
// DEADLINE_PROPAGATION (ATTEMPT_TIMEOUT 100ms, REQUEST_TIMEOUT 500ms).
func TestDeadlineHeaderSent(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		incoming string // "" = none
		lo, hi   int64  // of the header the backend gets; -1, -1 = none
	}{
		{"no caller's deadline: the attempt timeout", nil, "", 80, 100},
		{"no caller's deadline, off profile: the request's", []string{"RESILIENCE", "off"}, "", 400, 500},
		{"a shorter caller's deadline", nil, "50", 30, 50},
		{"a longer caller's deadline: the attempt timeout", nil, "5000", 80, 100},
		{"off profile: the caller's deadline", []string{"RESILIENCE", "off"}, "300", 280, 300},
		{"garbage is absent", nil, "abc", 80, 100},
		{"a fraction is garbage", []string{"RESILIENCE", "off"}, "1.5", 400, 500},
		{"propagation off: nothing sent", []string{"DEADLINE_PROPAGATION", "off"}, "", -1, -1},
		{"propagation off: the caller's ignored", []string{"DEADLINE_PROPAGATION", "off", "RESILIENCE", "off"}, "50", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			cl := start(t, Run, fastEnv(f.srv.URL, tt.env...))
			var hs []string
			if tt.incoming != "" {
				hs = []string{results.DeadlineHeader, tt.incoming}
			}
			if _, a := dataRequest(t, cl.URL, hs...); a.Source != resilience.SourceBackend {
				t.Fatalf("answer %+v, want the backend's", a)
			}
			seen := f.seen()
			if len(seen) != 1 {
				t.Fatalf("%d backend calls, want 1", len(seen))
			}
			if ms := deadlineOf(t, seen[0]); ms < tt.lo || ms > tt.hi {
				t.Errorf("the backend got %d ms, want within [%d, %d] (-1 = no header)", ms, tt.lo, tt.hi)
			}
		})
	}
}

// TestDeadlineExpiredOnArrival: a caller's deadline of 0 or less is answered at once, without
// calling the backend, and counted; with DEADLINE_PROPAGATION=off it is not read.
func TestDeadlineExpiredOnArrival(t *testing.T) {
	tests := []struct {
		name, incoming string
		env            []string
		wantStatus     int
		wantSource     resilience.Source
		wantCalls      int64
		wantExpired    int64 // -1: no deadline part in /api/resilience
	}{
		{"0: the fallback", "0", nil, 200, resilience.SourceFallback, 0, 1},
		{"negative: the fallback", "-5", nil, 200, resilience.SourceFallback, 0, 1},
		{"0, off profile: 502", "0", []string{"RESILIENCE", "off"}, 502, resilience.SourceError, 0, 1},
		{"0, retry profile: 502", "0", []string{"RESILIENCE", "retry"}, 502, resilience.SourceError, 0, 1},
		{"propagation off: not read", "0", []string{"DEADLINE_PROPAGATION", "off"}, 200, resilience.SourceBackend, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			cl := start(t, Run, fastEnv(f.srv.URL, tt.env...))
			resp, a := dataRequest(t, cl.URL, results.DeadlineHeader, tt.incoming)
			if resp.StatusCode != tt.wantStatus || a.Source != tt.wantSource || f.calls.Load() != tt.wantCalls ||
				(tt.wantCalls == 0 && !strings.Contains(a.Error, "no time left on arrival")) {
				t.Errorf("answer %d %+v, %d backend calls; want %d %s, %d calls", resp.StatusCode, a, f.calls.Load(),
					tt.wantStatus, tt.wantSource, tt.wantCalls)
			}
			var s ResilienceAnswer
			getJSON(t, cl.URL+"/api/resilience", &s)
			if got := expiredOf(s); got != tt.wantExpired {
				t.Errorf("/api/resilience deadline.expiredOnArrival = %d, want %d", got, tt.wantExpired)
			}
		})
	}
}

func expiredOf(s ResilienceAnswer) int64 {
	if s.Deadline == nil {
		return -1
	}
	return s.Deadline.ExpiredOnArrival
}

// TestDeadlineSkipsRetry: caller's deadline 150ms, DEADLINE_MIN_ATTEMPT 50ms, backoff 80ms then
// 160ms: retry #1 leaves 70ms after its wait and goes; retry #2 would leave nothing and is not
// started. The answer, /api/resilience and /metrics say so.
func TestDeadlineSkipsRetry(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "DEADLINE_MIN_ATTEMPT", "50ms", "RETRY_INITIAL_BACKOFF", "80ms",
		"RETRY_MAX_BACKOFF", "1s", "RETRY_JITTER", "0"))
	_, a := dataRequest(t, cl.URL, results.DeadlineHeader, "150")
	want := "a retry needs 160ms (its wait) + 50ms (DEADLINE_MIN_ATTEMPT); the last attempt: backend answered 500 Internal Server Error: boom"
	if a.Source != resilience.SourceFallback || a.Attempts != 2 || !strings.HasPrefix(a.Error, "deadline exceeded: ") ||
		!strings.HasSuffix(a.Error, want) {
		t.Errorf("answer %+v, want the fallback after 2 attempts, error ending %q", a, want)
	}
	var s ResilienceAnswer
	getJSON(t, cl.URL+"/api/resilience", &s)
	if d := s.Deadline; d == nil || *d != (resilience.DeadlineSnapshot{MinAttemptMs: 50, RetriesSkipped: 1}) ||
		s.Retry.RetriesScheduled != 1 {
		t.Errorf("/api/resilience deadline %+v, %d retries; want 1 skipped, 1 scheduled", d, s.Retry.RetriesScheduled)
	}
	if m := scrapeMetrics(t, cl.URL); !strings.Contains(m, `client_retries_skipped_deadline_total{name="backendRetry"} 1`) {
		t.Errorf("/metrics lacks the skipped retry")
	}
}

// TestDeadlineDefaultOutput: DEADLINE_PROPAGATION=on (the default) against off, for requests
// without the header (the load generator's): the same answers, the same log records, the same
// metrics; on adds only its two counters.
func TestDeadlineDefaultOutput(t *testing.T) {
	offAnswers, offLogs, offMetrics := defaultScenario(t, "off")
	onAnswers, onLogs, onMetrics := defaultScenario(t, "on")
	if !slices.Equal(onAnswers, offAnswers) {
		t.Errorf("answers with propagation on:\n%+v\nwant, as off:\n%+v", onAnswers, offAnswers)
	}
	if !slices.EqualFunc(onLogs, offLogs, func(a, b map[string]any) bool { return maps.Equal(a, b) }) {
		t.Errorf("log records with propagation on:\n%v\nwant, as off:\n%v", onLogs, offLogs)
	}
	for line := range maps.Keys(offMetrics) {
		if !onMetrics[line] {
			t.Errorf("/metrics with propagation on lacks %s", line)
		}
	}
	for line := range maps.Keys(onMetrics) {
		if !offMetrics[line] && !strings.Contains(line, "client_retries_skipped_deadline_total") &&
			!strings.Contains(line, "client_requests_expired_on_arrival_total") {
			t.Errorf("/metrics with propagation on adds %s", line)
		}
	}
}

// comparable is a DataAnswer without the backend's data (it carries a timestamp).
type comparable struct {
	Source   resilience.Source
	Error    string
	Attempts int
	State    resilience.State
}

// defaultScenario runs three requests against a failing backend (the breaker opens on the sixth
// call, in the second request) and returns the answers, the log records and the /metrics lines,
// without what changes from run to run (times, durations, addresses, timing histograms).
func defaultScenario(t *testing.T, propagation string) ([]comparable, []map[string]any, map[string]bool) {
	t.Helper()
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "DEADLINE_PROPAGATION", propagation, "RETRY_JITTER_SEED", "7",
		"LOG_LEVEL", "debug", "CB_SLIDING_WINDOW", "6", "CB_MINIMUM_CALLS", "6"))
	var answers []comparable
	for i := range 3 {
		_, a := dataRequest(t, cl.URL, results.RequestIDHeader, strconv.Itoa(i+1))
		answers = append(answers, comparable{a.Source, a.Error, a.Attempts, a.CircuitBreakerState})
	}
	metrics := map[string]bool{}
	for line := range strings.Lines(scrapeMetrics(t, cl.URL)) {
		if !strings.Contains(line, "_bucket{") && !strings.Contains(line, "_sum{") && !strings.Contains(line, "_sum ") {
			metrics[strings.TrimSpace(line)] = true
		}
	}
	cl.shutdown(t)
	records := cl.Logs.records()
	for _, r := range records {
		for _, k := range []string{"time", "addr", "backend", "duration_ms"} {
			delete(r, k)
		}
	}
	return answers, records, metrics
}
