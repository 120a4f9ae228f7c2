package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/otlprecv"
	ctestutil "chaoslab/internal/testutil"
)

// service is a configuration that holds a Config, as a service's does.
type service struct{ Tracing Config }

func load(env map[string]string) (Config, error) {
	var s service
	err := httpserve.Load(Settings("client-service", func(s *service) *Config { return &s.Tracing }), func(k string) string { return env[k] }, &s)
	return s.Tracing, err
}

func TestSettings(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{EnvEndpoint: "", EnvTracesEndpoint: "", EnvSampler: "parentbased_always_on", EnvSamplerArg: "1", EnvServiceName: "client-service"}
	if c.Enabled() || !maps.Equal(c.Effective(), want) ||
		!maps.Equal(httpserve.Defaults(Settings("client-service", func(s *service) *Config { return &s.Tracing })), want) {
		t.Errorf("no variables: enabled %v, effective %v; want off and %v", c.Enabled(), c.Effective(), want)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		url  string
	}{
		{"base endpoint", map[string]string{EnvEndpoint: "http://localhost:4318"}, "http://localhost:4318/v1/traces"},
		{"base endpoint with a slash", map[string]string{EnvEndpoint: "http://collector:4318/"}, "http://collector:4318/v1/traces"},
		{"base endpoint with a path", map[string]string{EnvEndpoint: "https://otlp.example/otlp"}, "https://otlp.example/otlp/v1/traces"},
		{"traces endpoint as it is", map[string]string{EnvTracesEndpoint: "http://127.0.0.1:9/custom"}, "http://127.0.0.1:9/custom"},
		{"traces endpoint wins", map[string]string{EnvEndpoint: "http://a:4318", EnvTracesEndpoint: "http://b:4318/v1/traces"}, "http://b:4318/v1/traces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(tt.env)
			if err != nil || c.URL() != tt.url || !c.Enabled() {
				t.Errorf("URL %q, enabled %v, err %v; want %q", c.URL(), c.Enabled(), err, tt.url)
			}
		})
	}
	c, err = load(map[string]string{EnvSampler: "parentbased_traceidratio", EnvSamplerArg: "0.01"})
	if err != nil || c.Ratio != 0.01 || c.Sampler != "parentbased_traceidratio" {
		t.Errorf("ratio sampler: %+v, %v", c, err)
	}
	for _, tt := range []struct{ name, variable, value, msg string }{
		{"gRPC endpoint", EnvEndpoint, "localhost:4317", `OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4317": must be empty or an http:// or https:// URL`},
		{"query", EnvTracesEndpoint, "http://c:4318/v1/traces?x=1", `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://c:4318/v1/traces?x=1": must be empty`},
		{"credentials", EnvEndpoint, "http://user:secret@c:4318", `OTEL_EXPORTER_OTLP_ENDPOINT="http://user:secret@c:4318": must not hold credentials`},
		{"unknown sampler", EnvSampler, "jaeger_remote", `OTEL_TRACES_SAMPLER="jaeger_remote": must be one of parentbased_always_on,`},
		{"ratio over 1", EnvSamplerArg, "2", `OTEL_TRACES_SAMPLER_ARG="2": must be a number from 0 to 1`},
		{"ratio not a number", EnvSamplerArg, "half", `OTEL_TRACES_SAMPLER_ARG="half": must be a number from 0 to 1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := load(map[string]string{tt.variable: tt.value}); err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("error %v, want it to start with %s", err, tt.msg)
			}
		})
	}
}

// TestOff: without an endpoint there is no provider, and its methods change nothing.
func TestOff(t *testing.T) {
	p, err := New(context.Background(), Config{}, Options{Registry: prometheus.NewRegistry()})
	if err != nil || p != nil {
		t.Fatalf("New without an endpoint = %v, %v; want nil, nil", p, err)
	}
	h := http.NotFoundHandler()
	hdr := http.Header{}
	p.Inject(context.Background(), hdr)
	p.RecordStatus(context.Background(), 200)
	if p.Tracer("x") != nil || len(hdr) != 0 || p.Shutdown(context.Background()) != nil || p.Counts() != (Counts{}) {
		t.Error("a nil provider must trace nothing")
	}
	if got := p.Handler(h); got == nil {
		t.Error("Handler of a nil provider must return the handler")
	}
}

// receiver is an OTLP/HTTP receiver on loopback.
func receiver(t *testing.T) (*otlprecv.Receiver, string) {
	t.Helper()
	rc := otlprecv.New(0)
	mux := http.NewServeMux()
	mux.Handle("POST "+otlprecv.Path, rc)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// TestExportAndCounts: spans go over OTLP/HTTP to a receiver; the counts served as metrics and
// logged at Shutdown equal what the receiver got; the resource names the service and its tier.
func TestExportAndCounts(t *testing.T) {
	rc, url := receiver(t)
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	p, err := New(context.Background(), Config{Endpoint: url, ServiceName: "client-service"},
		Options{Tier: "edge", Registry: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil)), BatchSize: 7, BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	const n = 20
	for range n {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	// Two full batches of 7 went at once; 6 wait for the interval (an hour) or a flush.
	ctestutil.WaitFor(t, 5*time.Second, "two batches", func() bool { return rc.Len() == 14 })
	if c := p.Counts(); c.Exported != 14 || c.Queued != 6 {
		t.Errorf("counts %+v, want 14 exported and 6 queued", c)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rc.Len() != n {
		t.Fatalf("the receiver got %d spans, want %d", rc.Len(), n)
	}
	if got := testutil.ToFloat64(counter(t, reg, "exported")); got != n {
		t.Errorf("chaoslab_trace_spans_total{result=exported} = %v, want %d", got, n)
	}
	if !strings.Contains(logs.String(), "traces: 20 spans exported to "+url+"/v1/traces, 0 dropped (queue full), 0 failed to send, 0 unsent at shutdown") {
		t.Errorf("shutdown line missing:\n%s", logs.String())
	}
	s := rc.Spans()[0]
	if s.Service != "client-service" || s.Resource[AttrTier] != "edge" {
		t.Errorf("resource %v", s.Resource)
	}
}

// counter is the collector of chaoslab_trace_spans_total{result} in reg.
func counter(t *testing.T, reg *prometheus.Registry, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "chaoslab_trace_spans_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no chaoslab_trace_spans_total{result=%q}", result)
	return nil
}

// gatedExporter holds every export until released, then accepts the first ok batches and fails
// the rest; it counts the spans it was given.
type gatedExporter struct {
	gate         chan struct{}
	mu           sync.Mutex
	batches, ok  int
	accepted     int
	refused      int
	shutdownDone bool
}

func (e *gatedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.gate:
	case <-ctx.Done():
		e.mu.Lock()
		e.refused += len(spans)
		e.mu.Unlock()
		return ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches++
	if e.batches > e.ok {
		e.refused += len(spans)
		return errors.New("receiver down")
	}
	e.accepted += len(spans)
	return nil
}

func (e *gatedExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.shutdownDone = true
	e.mu.Unlock()
	return nil
}

// TestQueueNeverBlocks: while the receiver hangs, ending spans never waits: what the queue cannot
// hold is dropped and counted. Once Shutdown has returned, exported + dropped + failed is every
// span ended, exported is what the receiver accepted, failed what it refused.
func TestQueueNeverBlocks(t *testing.T) {
	exp := &gatedExporter{gate: make(chan struct{}), ok: 1}
	var logs bytes.Buffer
	p, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", ServiceName: "s"},
		Options{Exporter: exp, Logger: slog.New(slog.NewTextHandler(&logs, nil)), QueueSize: 8, BatchSize: 4, BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	const n = 100
	start := time.Now()
	for range n {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ending %d spans took %v with the receiver hanging", n, d)
	}
	c := p.Counts()
	// At most one batch (4) is in the exporter, 8 in the queue: the rest was dropped.
	if c.Dropped < n-12 || c.Dropped+c.Queued != n || c.Exported+c.Failed != 0 {
		t.Errorf("counts with the receiver hanging %+v, want at least %d dropped and the rest queued", c, n-12)
	}
	close(exp.gate)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = p.Counts()
	if c.Exported+c.Dropped+c.Failed != n || c.Queued != 0 || c.Exported != int64(exp.accepted) || c.Failed != int64(exp.refused) ||
		c.Exported != 4 || !exp.shutdownDone {
		t.Errorf("final counts %+v; the exporter accepted %d, refused %d; want them to add up to %d with 4 exported", c, exp.accepted, exp.refused, n)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"traces: 1 exports to http://127.0.0.1:1/v1/traces failed") {
		t.Errorf("no line about the failed export:\n%s", logs.String())
	}
}

// TestShutdownBounded: a receiver that never answers holds Shutdown no longer than its context;
// the spans it did not take count as failed.
func TestShutdownBounded(t *testing.T) {
	exp := &gatedExporter{gate: make(chan struct{}), ok: 1}
	p, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1"}, Options{Exporter: exp, BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	for range 3 {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); err == nil {
		t.Error("Shutdown cut by its context returned no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v, want about its context's 50ms", d)
	}
	if c := p.Counts(); c.Failed != 3 || c.Exported != 0 {
		t.Errorf("counts %+v, want the 3 spans failed", c)
	}
}

// TestHandler: a request gets a SERVER span named after its route, child of the traceparent it
// came with; health checks and scrapes only with a traceparent.
func TestHandler(t *testing.T) {
	rc, url := receiver(t)
	p, err := New(context.Background(), Config{Endpoint: url, ServiceName: "backend-service"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var inner trace.SpanContext
	mux.HandleFunc("GET /api/data", func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	var passedOn http.Header // what a call made while serving /api/next would send on
	mux.HandleFunc("GET /api/next", func(w http.ResponseWriter, r *http.Request) {
		passedOn = http.Header{}
		p.Inject(r.Context(), passedOn)
	})
	srv := httptest.NewServer(p.Handler(mux))
	defer srv.Close()
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	get := func(path, traceparent string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/api/data", parent)
	get("/healthz", "")
	get("/healthz", parent)
	const unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	get("/api/next", unsampled)
	if got := passedOn.Get("traceparent"); !strings.HasPrefix(got, "00-0af7651916cd43dd8448eb211c80319c-") || !strings.HasSuffix(got, "-00") {
		t.Errorf("a request that came unsampled passes on %q, want its trace, not sampled", got)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rc.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2: /api/data and the /healthz that came with a traceparent (not the unsampled one)", len(spans))
	}
	s := spans[0]
	if s.Name != "GET /api/data" || s.Kind != "SERVER" || s.TraceID != "0af7651916cd43dd8448eb211c80319c" ||
		s.ParentSpanID != "b7ad6b7169203331" || s.SpanID != inner.SpanID().String() {
		t.Errorf("span %s %s trace %s parent %s id %s; want GET /api/data, SERVER, the caller's trace and parent, the handler's span %s",
			s.Name, s.Kind, s.TraceID, s.ParentSpanID, s.SpanID, inner.SpanID())
	}
	if s.Attributes["http.response.status_code"] != int64(503) || s.Attributes["http.route"] != "/api/data" || s.Status.Code != "ERROR" {
		t.Errorf("attributes %v status %v", s.Attributes, s.Status)
	}
	if spans[1].Name != "GET /healthz" {
		t.Errorf("second span %q, want GET /healthz", spans[1].Name)
	}
}

// TestInject: an outgoing request carries the W3C trace context of its ctx.
func TestInject(t *testing.T) {
	_, url := receiver(t)
	p, err := New(context.Background(), Config{Endpoint: url}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, s := p.Tracer("t").Start(context.Background(), "s")
	defer s.End()
	h := http.Header{}
	p.Inject(ctx, h)
	if want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"; h.Get("traceparent") != want {
		t.Errorf("traceparent %q, want %q", h.Get("traceparent"), want)
	}
}

func TestSamplers(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
	for _, tt := range []struct {
		sampler                  string
		ratio                    float64
		root, inSampled, inUnsam bool
	}{
		{"", 0, true, true, false},
		{"parentbased_always_on", 0, true, true, false},
		{"parentbased_always_off", 0, false, true, false},
		{"parentbased_traceidratio", 0, false, true, false},
		{"parentbased_traceidratio", 1, true, true, false},
		{"always_on", 0, true, true, true},
		{"always_off", 0, false, false, false},
		{"traceidratio", 1, true, true, true},
	} {
		s := sampler(Config{Sampler: tt.sampler, Ratio: tt.ratio})
		decide := func(parent trace.SpanContext) bool {
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
			return s.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: trace.TraceID{2}}).Decision == sdktrace.RecordAndSample
		}
		if got := [3]bool{decide(trace.SpanContext{}), decide(sampled), decide(unsampled)}; got != [3]bool{tt.root, tt.inSampled, tt.inUnsam} {
			t.Errorf("%q ratio %v: root, under a sampled parent, under an unsampled one = %v, want %v", tt.sampler, tt.ratio, got, [3]bool{tt.root, tt.inSampled, tt.inUnsam})
		}
	}
}

func TestClientSpan(t *testing.T) {
	for _, tt := range []struct {
		url, name, address string
		port               int64
	}{
		{"http://backend-service:8081/api/data", "GET /api/data", "backend-service", 8081},
		{"http://localhost/readyz", "GET /readyz", "localhost", 80},
		{"https://[::1]/api/data", "GET /api/data", "::1", 443},
	} {
		name, attrs, err := ClientSpan(http.MethodGet, tt.url)
		got := map[string]any{}
		for _, a := range attrs {
			got[string(a.Key)] = a.Value.AsInterface()
		}
		want := map[string]any{"http.request.method": "GET", "url.full": tt.url, "url.template": strings.TrimPrefix(name, "GET "),
			"server.address": tt.address, "server.port": tt.port}
		if err != nil || name != tt.name || !maps.Equal(got, want) {
			t.Errorf("%s: %q %v %v, want %q %v", tt.url, name, got, err, tt.name, want)
		}
	}
	if _, _, err := ClientSpan(http.MethodGet, "/no/host"); err == nil {
		t.Error("a URL without a host must be refused")
	}
}
