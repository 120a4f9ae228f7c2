package client

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/otlprecv"
	"chaoslab/internal/resilience"
	"chaoslab/internal/testutil"
)

// The trace context a caller such as the Chaos Toolkit's OpenTelemetry control sends.
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerParent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// collector is a loopback OTLP/HTTP receiver; its URL is an OTEL_EXPORTER_OTLP_ENDPOINT.
func collector(t testing.TB) (*otlprecv.Receiver, string) {
	t.Helper()
	rc := otlprecv.New(0)
	mux := http.NewServeMux()
	mux.Handle("POST "+otlprecv.Path, rc)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// flakyBackend answers 503 to its first fail calls (all of them when fail < 0), then 200, and
// keeps the traceparent of every call.
type flakyBackend struct {
	srv     *httptest.Server
	fail    int64
	calls   atomic.Int64
	mu      sync.Mutex
	parents []string
}

func newFlakyBackend(t *testing.T, fail int64) *flakyBackend {
	t.Helper()
	f := &flakyBackend{fail: fail}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.calls.Add(1)
		f.mu.Lock()
		f.parents = append(f.parents, r.Header.Get("traceparent"))
		f.mu.Unlock()
		if f.fail < 0 || n <= f.fail {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"service":"backend-service"}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flakyBackend) traceparents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.parents)
}

// getTraced GETs url with the caller's trace context and X-Request-Id id; it decodes the answer.
func getTraced(t *testing.T, url, id string) DataAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", callerParent)
	req.Header.Set("X-Request-Id", id)
	var a DataAnswer
	decodeAnswer(t, req, &a)
	return a
}

func byKind(spans []otlprecv.Span, kind string) []otlprecv.Span {
	var out []otlprecv.Span
	for _, s := range spans {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

func eventNames(s otlprecv.Span) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, e.Name)
	}
	return out
}

// exportedLogged is the number of spans the service's shutdown record says it exported.
func exportedLogged(t *testing.T, logs *logBuffer) int {
	t.Helper()
	for _, r := range logs.records() {
		if r["event"] == "traces" && r["exported"] != nil {
			return int(r["exported"].(float64))
		}
	}
	t.Fatalf("no shutdown record of the traces:\n%s", logs.String())
	return 0
}

// TestTraceOfRetries: a request that takes three calls is one trace, joined to the caller's
// trace context: the SERVER span under the caller's span, three CLIENT spans under it with
// resend counts none, 1 and 2 and error.type 503 on the failed two, each the parent the backend
// was sent; the two retries as events in order, with the waits the log records say. The spans
// reach the collector at shutdown, and the service's count of exported spans is the collector's.
func TestTraceOfRetries(t *testing.T) {
	rc, endpoint := collector(t)
	be := newFlakyBackend(t, 2)
	cl := start(t, Run, map[string]string{"BACKEND_URL": be.srv.URL, "RETRY_INITIAL_BACKOFF": "5ms", "RETRY_MAX_BACKOFF": "20ms",
		"RETRY_JITTER": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "LOG_LEVEL": "debug"})
	if a := getTraced(t, cl.URL+"/api/data", "7"); a.Source != resilience.SourceBackend || a.Attempts != 3 {
		t.Fatalf("answer %+v, want the backend's after 3 calls", a)
	}
	cl.shutdown(t)
	spans := rc.Trace(callerTrace)
	servers, calls := byKind(spans, "SERVER"), byKind(spans, "CLIENT")
	if len(servers) != 1 || len(calls) != 3 || len(spans) != 4 {
		t.Fatalf("the caller's trace has %d spans (%d SERVER, %d CLIENT), want 1 SERVER and 3 CLIENT", len(spans), len(servers), len(calls))
	}
	srv := servers[0]
	if srv.ParentSpanID != callerSpan || srv.Name != "GET /api/data" || srv.Service != "client-service" ||
		srv.Attributes["chaoslab.request_id"] != int64(7) || srv.Attributes["chaoslab.attempts"] != int64(3) ||
		srv.Attributes["http.response.status_code"] != int64(200) {
		t.Errorf("SERVER span %s under %s, service %s, attributes %v", srv.Name, srv.ParentSpanID, srv.Service, srv.Attributes)
	}
	slices.SortFunc(calls, func(a, b otlprecv.Span) int { return a.Start.Compare(b.Start) })
	parents := be.traceparents()
	for i, c := range calls {
		resend, hasResend := c.Attributes["http.request.resend_count"]
		if c.ParentSpanID != srv.SpanID || c.Name != "GET /api/data" || (i == 0) == hasResend || (i > 0 && resend != int64(i)) {
			t.Errorf("call %d: %s under %s, resend_count %v; want GET /api/data under %s, resend count %d", i+1, c.Name, c.ParentSpanID, resend, srv.SpanID, i)
		}
		wantStatus, wantType := int64(503), "503"
		if i == 2 {
			wantStatus, wantType = 200, ""
		}
		if et, _ := c.Attributes["error.type"].(string); c.Attributes["http.response.status_code"] != wantStatus || et != wantType {
			t.Errorf("call %d: status %v error.type %q, want %d %q", i+1, c.Attributes["http.response.status_code"], et, wantStatus, wantType)
		}
		if c.Attributes["url.full"] != be.srv.URL+"/api/data" || c.Attributes["server.address"] != "127.0.0.1" {
			t.Errorf("call %d: url.full %v server.address %v", i+1, c.Attributes["url.full"], c.Attributes["server.address"])
		}
		if want := "00-" + callerTrace + "-" + c.SpanID + "-01"; i >= len(parents) || parents[i] != want {
			t.Errorf("backend call %d came with traceparent %q, want %q", i+1, parents, want)
		}
	}
	if got := eventNames(srv); !slices.Equal(got, []string{resilience.SpanEventRetry, resilience.SpanEventRetry}) {
		t.Fatalf("events %q, want two retries", got)
	}
	var waits []float64
	for _, r := range cl.Logs.records() {
		if r["event"] == "retry" {
			waits = append(waits, r["wait_ms"].(float64))
		}
	}
	for i, e := range srv.Events {
		if e.Attributes["chaoslab.attempt"] != int64(i+1) || i >= len(waits) || e.Attributes["chaoslab.wait_ms"] != waits[i] ||
			!strings.Contains(e.Attributes["chaoslab.reason"].(string), "503") || e.Time.Before(calls[i].End) || e.Time.After(calls[i+1].Start) {
			t.Errorf("retry event %d: %v at %v (call %d ended %v, call %d began %v); logged waits %v", i+1, e.Attributes, e.Time,
				i+1, calls[i].End, i+2, calls[i+1].Start, waits)
		}
	}
	if n := exportedLogged(t, cl.Logs); n != rc.Len() {
		t.Errorf("the client logged %d spans exported, the collector got %d", n, rc.Len())
	}
}

// TestTraceOfRejection: a request the OPEN breaker turns away calls nobody: no CLIENT span, the
// rejection (state OPEN) and the fallback as events.
func TestTraceOfRejection(t *testing.T) {
	rc, endpoint := collector(t)
	be := newFlakyBackend(t, -1)
	cl := start(t, Run, map[string]string{"BACKEND_URL": be.srv.URL, "RETRY_MAX_RETRIES": "0", "CB_SLIDING_WINDOW": "2",
		"CB_MINIMUM_CALLS": "2", "CB_WAIT_DURATION": "1h", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	testutil.WaitFor(t, 5*time.Second, "the breaker OPEN", func() bool {
		var a DataAnswer
		getJSON(t, cl.URL+"/api/data", &a)
		return a.CircuitBreakerState == resilience.StateOpen
	})
	calls := be.calls.Load()
	if a := getTraced(t, cl.URL+"/api/data", "9"); a.Source != resilience.SourceFallback || a.Attempts != 0 || be.calls.Load() != calls {
		t.Fatalf("answer %+v, backend calls %d -> %d; want a fallback without a call", a, calls, be.calls.Load())
	}
	cl.shutdown(t)
	spans := rc.Trace(callerTrace)
	if len(spans) != 1 || spans[0].Kind != "SERVER" {
		t.Fatalf("the rejected request's trace: %d spans, want its SERVER span alone", len(spans))
	}
	if got := eventNames(spans[0]); !slices.Equal(got, []string{resilience.SpanEventRejected, resilience.SpanEventFallback}) {
		t.Errorf("events %q, want the rejection and the fallback", got)
	}
	if st := spans[0].Events[0].Attributes["chaoslab.state"]; st != "OPEN" {
		t.Errorf("rejected in state %v, want OPEN", st)
	}
}

// TestTraceAcrossTiers: edge -> mid -> backend-service, each exporting to one collector: a
// request sent with the caller's trace context is one trace of five spans, each hop's SERVER
// span the child of the previous hop's CLIENT span, every service named on its spans.
func TestTraceAcrossTiers(t *testing.T) {
	rc, endpoint := collector(t)
	be := start(t, backend.Run, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	mid := start(t, Run, map[string]string{"BACKEND_URL": be.URL, "TIER": "mid", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	edge := start(t, Run, map[string]string{"BACKEND_URL": mid.URL, "TIER": "edge", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	if a := getTraced(t, edge.URL+"/api/data", "11"); a.Source != resilience.SourceBackend || a.Attempts != 1 {
		t.Fatalf("answer %+v", a)
	}
	for _, s := range []*service{edge, mid, be} {
		s.shutdown(t)
	}
	spans := rc.Trace(callerTrace)
	if len(spans) != 5 {
		t.Fatalf("%d spans in the caller's trace, want 5 (edge SERVER, CLIENT; mid SERVER, CLIENT; backend SERVER)", len(spans))
	}
	want := []struct{ service, tier, kind string }{
		{"client-service", "edge", "SERVER"}, {"client-service", "edge", "CLIENT"},
		{"client-service", "mid", "SERVER"}, {"client-service", "mid", "CLIENT"},
		{"backend-service", "", "SERVER"},
	}
	parent := callerSpan
	for i, w := range want {
		var s *otlprecv.Span
		for j := range spans {
			if spans[j].ParentSpanID == parent {
				s = &spans[j]
			}
		}
		if s == nil {
			t.Fatalf("hop %d (%s %s %s): no span under %s", i+1, w.service, w.tier, w.kind, parent)
		}
		tier, _ := s.Resource["chaoslab.tier"].(string)
		if s.Service != w.service || tier != w.tier || s.Kind != w.kind || s.Name != "GET /api/data" {
			t.Errorf("hop %d: %s %s %s %q, want %s %s %s GET /api/data", i+1, s.Service, tier, s.Kind, s.Name, w.service, w.tier, w.kind)
		}
		if w.kind == "SERVER" && w.service == "client-service" && s.Attributes["chaoslab.request_id"] != int64(11) {
			t.Errorf("hop %d: request id %v, want the X-Request-Id 11 every tier got", i+1, s.Attributes["chaoslab.request_id"])
		}
		parent = s.SpanID
	}
	total := 0
	for _, s := range []*service{edge, mid, be} {
		total += exportedLogged(t, s.Logs)
	}
	if total != rc.Len() {
		t.Errorf("the services logged %d spans exported in all, the collector got %d", total, rc.Len())
	}
}

// TestTracingOffSendsNothing: without an endpoint the client neither reads nor sends a trace
// context, serves no trace metrics and writes no traces record.
func TestTracingOffSendsNothing(t *testing.T) {
	be := newFlakyBackend(t, 0)
	cl := start(t, Run, map[string]string{"BACKEND_URL": be.srv.URL})
	if a := getTraced(t, cl.URL+"/api/data", "1"); a.Source != resilience.SourceBackend {
		t.Fatalf("answer %+v", a)
	}
	if p := be.traceparents(); len(p) != 1 || p[0] != "" {
		t.Errorf("the backend got traceparent %q, want none", p)
	}
	resp, err := http.Get(cl.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "chaoslab_trace") {
		t.Error("/metrics has trace metrics with tracing off")
	}
	cl.shutdown(t)
	for _, r := range cl.Logs.records() {
		if r["event"] == "traces" {
			t.Errorf("a traces record with tracing off: %v", r)
		}
	}
}
