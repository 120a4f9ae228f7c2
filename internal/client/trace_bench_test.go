package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"chaoslab/internal/backend"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
	"chaoslab/internal/tracing"
)

// BenchmarkTracing measures what tracing costs one healthy GET /api/data through client-service's
// whole handler (as Run builds it: routes, HTTP metrics, the pipeline, the answer), with the
// backend answering in memory, so only the service's own work is timed:
//
//   - off: no OTEL_EXPORTER_OTLP_ENDPOINT, the default;
//   - always_off: tracing on, sampler always_off: every span is made but not recorded, the
//     trace context is still sent;
//   - ratio_1pct: parentbased_traceidratio at 0.01;
//   - always_on: every request traced (a SERVER and a CLIENT span), the spans handed to an
//     exporter that drops them, so the export's network work is not counted (it runs on the
//     queue's goroutine, off the request's path).
//
// Compare the four with
//
//	go test -run '^$' -bench Tracing -benchmem -count 5 ./internal/client/
func BenchmarkTracing(b *testing.B) {
	for _, bc := range []struct{ name, sampler, arg string }{
		{"off", "", ""},
		{"always_off", "always_off", ""},
		{"ratio_1pct", "parentbased_traceidratio", "0.01"},
		{"always_on", "always_on", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := map[string]string{"BACKEND_URL": "http://backend.invalid:8081"}
			if bc.sampler != "" {
				env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1" // never reached: the exporter below
				env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"] = bc.sampler, bc.arg
			}
			h, rt, tp := benchServer(b, env)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/data", nil))
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			if sent := rt.traced.Load() > 0; sent != (bc.sampler != "") {
				b.Errorf("trace context sent to the backend: %v, want %v", sent, bc.sampler != "")
			}
			if err := tp.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			c := tp.Counts()
			b.ReportMetric(float64(c.Exported+c.Dropped+c.Failed)/float64(b.N), "spans/op")
			b.ReportMetric(float64(c.Dropped)/float64(b.N), "dropped/op")
		})
	}
}

// benchServer is client-service's handler as Run makes it from env, with its backend in memory
// and its spans handed to an exporter that drops them.
func benchServer(b *testing.B, env map[string]string) (http.Handler, *memoryBackend, *tracing.Provider) {
	b.Helper()
	cfg, err := LoadConfig(envOf(env))
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tp, err := tracing.New(context.Background(), cfg.Tracing, tracing.Options{Registry: reg, Exporter: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	spans, err := cfg.spans(tp)
	if err != nil {
		b.Fatal(err)
	}
	rt := &memoryBackend{}
	backend := newBackendClient(cfg, tp)
	backend.rt, backend.http = rt, &http.Client{Transport: rt, CheckRedirect: noRedirects}
	pipeline, err := resilience.New(cfg.pipelineConfig(), resilience.Options{Registry: reg, Probe: backend.ready, Tracing: spans})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pipeline.Close)
	hm, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		b.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	return NewServer(Deps{Config: cfg, Pipeline: pipeline, Backend: backend, AttemptRecords: resilience.NewAttemptLease(time.Now),
		Ready: &ready, Metrics: hm, Registry: reg, Tracing: tp}), rt, tp
}

// memoryBackend answers every call at once with backend-service's answer, and counts the calls
// and those that came with a trace context.
type memoryBackend struct{ calls, traced atomic.Int64 }

const memoryAnswer = `{"service":"backend-service","instance":"bench","message":"Hello from backend-service","timestamp":"2026-01-01T00:00:00Z"}`

func (m *memoryBackend) RoundTrip(req *http.Request) (*http.Response, error) {
	m.calls.Add(1)
	if req.Header.Get("traceparent") != "" {
		m.traced.Add(1)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(memoryAnswer)), ContentLength: int64(len(memoryAnswer)), Request: req}, nil
}

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracingLoopback is the healthy throughput of the real services over loopback, the
// client in front of backend-service, both exporting their spans to an OTLP/HTTP receiver on
// loopback: off, 1 % (parentbased_traceidratio) and 100 % (always_on). Every request is a real
// HTTP request through both services, 16 at a time; the export (protobuf, HTTP, the receiver's
// decoding) shares the machine with them, as it would a pod's CPU. ns/op is the time per
// request of the whole run, so its inverse is the throughput:
//
//	go test -run '^$' -bench TracingLoopback -benchtime 20000x -count 3 ./internal/client/
func BenchmarkTracingLoopback(b *testing.B) {
	for _, bc := range []struct{ name, sampler, arg string }{
		{"off", "", ""},
		{"ratio_1pct", "parentbased_traceidratio", "0.01"},
		{"always_on", "always_on", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rc, endpoint := collector(b)
			env := map[string]string{}
			if bc.sampler != "" {
				env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": bc.sampler, "OTEL_TRACES_SAMPLER_ARG": bc.arg}
			}
			be := start(b, backend.Run, env)
			env["BACKEND_URL"] = be.URL
			cl := start(b, Run, env)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer hc.CloseIdleConnections()
			b.SetParallelism(8) // 16 requests at a time on 2 cores
			b.ResetTimer()
			getHealthyInParallel(b, hc, cl.URL+"/api/data")
			b.StopTimer()
			cl.shutdown(b)
			be.shutdown(b)
			b.ReportMetric(float64(rc.Len())/float64(b.N), "spans/op")
		})
	}
}

// getHealthyInParallel sends GET url from b's parallel goroutines until b.N requests are done,
// each a healthy answer: 200 without X-Fallback.
func getHealthyInParallel(b *testing.B, hc *http.Client, url string) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Fallback") != "" {
				b.Errorf("status %d, X-Fallback %q", resp.StatusCode, resp.Header.Get("X-Fallback"))
				return
			}
		}
	})
}
