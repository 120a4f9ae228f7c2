package resilience

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"chaoslab/internal/testutil"
)

// tracedBackend is an httptest backend that fails its first failFirst calls with 500 (or every
// call while down is set) and keeps the traceparent header of every call it got.
type tracedBackend struct {
	srv       *httptest.Server
	failFirst int64
	down      atomic.Bool
	calls     atomic.Int64
	mu        sync.Mutex
	parents   []string
}

func newTracedBackend(t *testing.T, failFirst int64) *tracedBackend {
	t.Helper()
	b := &tracedBackend{failFirst: failFirst}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.calls.Add(1)
		b.mu.Lock()
		b.parents = append(b.parents, r.Header.Get("traceparent"))
		b.mu.Unlock()
		if n <= b.failFirst || b.down.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"service":"backend-service"}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *tracedBackend) traceparents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.parents)
}

// call is a Call that sends the trace context of its ctx, as the client's does.
func (b *tracedBackend) call(ctx context.Context) ([]byte, error) { return b.get(ctx, "/api/data") }

// probe is a Probe that sends the trace context of its ctx.
func (b *tracedBackend) probe(ctx context.Context) error {
	_, err := b.get(ctx, "/readyz")
	return err
}

func (b *tracedBackend) get(ctx context.Context, path string) ([]byte, error) {
	return getCall(ctx, b.srv, path, func(h http.Header) { otelprop.TraceContext{}.Inject(ctx, otelprop.HeaderCarrier(h)) })
}

// recorded is a tracer whose spans are kept in memory.
func recorded(t *testing.T, s sdktrace.Sampler) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), rec
}

// testTracing traces calls as GET /api/data and probes as GET /readyz.
func testTracing(tr trace.Tracer) Tracing {
	return Tracing{Tracer: tr, Call: SpanStart{Name: "GET /api/data", Attributes: []attribute.KeyValue{attribute.String("url.template", "/api/data")}},
		Probe: SpanStart{Name: "GET /readyz", Attributes: []attribute.KeyValue{attribute.String("url.template", "/readyz")}}}
}

// serve runs one request through p under a SERVER span, as the client's handler does.
func serve(tr trace.Tracer, p *Pipeline, id uint64, call Call) (Outcome, trace.SpanContext) {
	ctx, span := tr.Start(WithRequestID(context.Background(), id), "GET /api/data", trace.WithSpanKind(trace.SpanKindServer))
	out := p.Execute(ctx, call)
	span.End()
	return out, span.SpanContext()
}

func attrOf(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// clientSpans are the CLIENT spans of trace id among spans, in the order they ended.
func clientSpans(spans []sdktrace.ReadOnlySpan, id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient && s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, sc trace.SpanContext) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext().SpanID() == sc.SpanID() {
			return s
		}
	}
	t.Fatalf("no span %s among %d", sc.SpanID(), len(spans))
	return nil
}

// TestTraceRetriedThenFallback: a request whose three calls fail (the breaker opens on the
// third) is one trace: three CLIENT spans under the request's span, with resend counts none, 1
// and 2, error.type 500 and an Error status each; the backend got each call with that call's
// span as parent; the request's span has the two retries and the fallback as events, in order,
// at the times the log records say, and the number of calls.
func TestTraceRetriedThenFallback(t *testing.T) {
	tr, rec := recorded(t, sdktrace.AlwaysSample())
	b := newTracedBackend(t, 1000)
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls = 3, 3
	var logs logBuffer
	p, err := New(cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Tracing: testTracing(tr)})
	if err != nil {
		t.Fatal(err)
	}
	out, req := serve(tr, p, 42, b.call)
	if out.Source != SourceFallback || out.Attempts != 3 {
		t.Fatalf("outcome %+v, want a fallback after 3 calls", out)
	}
	spans := rec.Ended()
	calls := clientSpans(spans, req.TraceID())
	if len(calls) != 3 {
		t.Fatalf("%d CLIENT spans in the request's trace, want 3", len(calls))
	}
	parents := b.traceparents()
	for i, s := range calls {
		if s.Parent().SpanID() != req.SpanID() || s.Name() != "GET /api/data" {
			t.Errorf("call %d: %q, parent %s, want GET /api/data under the request's span %s", i+1, s.Name(), s.Parent().SpanID(), req.SpanID())
		}
		resend, ok := attrOf(s.Attributes(), "http.request.resend_count")
		if (i == 0) == ok || (ok && resend.AsInt64() != int64(i)) {
			t.Errorf("call %d: resend_count %v (set %v), want none on the first call, then %d", i+1, resend.AsInt64(), ok, i)
		}
		if et, _ := attrOf(s.Attributes(), "error.type"); et.AsString() != "500" || s.Status().Code != codes.Error {
			t.Errorf("call %d: error.type %q, status %v, want 500 and Error", i+1, et.AsString(), s.Status())
		}
		if o, _ := attrOf(s.Attributes(), AttrOutcome); o.AsString() != "failure" {
			t.Errorf("call %d: outcome %q, want failure", i+1, o.AsString())
		}
		if st, _ := attrOf(s.Attributes(), AttrState); st.AsString() != "CLOSED" {
			t.Errorf("call %d: state %q, want CLOSED", i+1, st.AsString())
		}
		if want := "00-" + req.TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"; i >= len(parents) || parents[i] != want {
			t.Errorf("call %d reached the backend with traceparent %q, want %q", i+1, parents, want)
		}
	}
	server := spanNamed(t, spans, req)
	var names []string
	for _, e := range server.Events() {
		names = append(names, e.Name)
	}
	if want := []string{SpanEventRetry, SpanEventRetry, SpanEventFallback}; !slices.Equal(names, want) {
		t.Fatalf("events on the request's span %q, want %q", names, want)
	}
	retries := 0
	for _, r := range logs.records(t) {
		if r["event"] != "retry" {
			continue
		}
		e := server.Events()[retries]
		retries++
		if a, _ := attrOf(e.Attributes, AttrAttempt); a.AsInt64() != int64(r["attempt"].(float64)) {
			t.Errorf("retry event %d: attempt %d, the log says %v", retries, a.AsInt64(), r["attempt"])
		}
		if w, _ := attrOf(e.Attributes, AttrWaitMS); w.AsFloat64() != r["wait_ms"].(float64) {
			t.Errorf("retry event %d: wait_ms %v, the log says %v", retries, w.AsFloat64(), r["wait_ms"])
		}
		if next := calls[retries].StartTime(); next.Sub(e.Time) < time.Duration(r["wait_ms"].(float64)*float64(time.Millisecond)) {
			t.Errorf("retry %d: the next call began %v after the event, before its wait of %vms", retries, next.Sub(e.Time), r["wait_ms"])
		}
	}
	if retries != 2 {
		t.Errorf("%d retry log records, want 2", retries)
	}
	if reason, _ := attrOf(server.Events()[2].Attributes, AttrReason); reason.AsString() != "backend answered 500 Internal Server Error" {
		t.Errorf("fallback reason %q", reason.AsString())
	}
	if n, _ := attrOf(server.Attributes(), AttrAttempts); n.AsInt64() != 3 {
		t.Errorf("request span: %s = %d, want 3", AttrAttempts, n.AsInt64())
	}
	if id, _ := attrOf(server.Attributes(), AttrRequestID); id.AsInt64() != 42 {
		t.Errorf("request span: %s = %d, want 42", AttrRequestID, id.AsInt64())
	}
}

// TestTraceRejectionHasNoClientSpan: with the breaker OPEN a request calls nobody: its trace has
// no CLIENT span, and its span has the rejection (state OPEN) and the fallback.
func TestTraceRejectionHasNoClientSpan(t *testing.T) {
	tr, rec := recorded(t, sdktrace.AlwaysSample())
	b := newTracedBackend(t, 1000)
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.MaxRetries = 2, 2, 0
	p, err := New(cfg, Options{Tracing: testTracing(tr)})
	if err != nil {
		t.Fatal(err)
	}
	for p.State() != StateOpen {
		serve(tr, p, 0, b.call)
	}
	calls := b.calls.Load()
	out, req := serve(tr, p, 7, b.call)
	if out.Source != SourceFallback || out.Attempts != 0 || b.calls.Load() != calls {
		t.Fatalf("outcome %+v, backend calls %d -> %d; want a fallback without a call", out, calls, b.calls.Load())
	}
	spans := rec.Ended()
	if n := len(clientSpans(spans, req.TraceID())); n != 0 {
		t.Errorf("%d CLIENT spans in a rejected request's trace, want none", n)
	}
	server := spanNamed(t, spans, req)
	var names []string
	for _, e := range server.Events() {
		names = append(names, e.Name)
	}
	if want := []string{SpanEventRejected, SpanEventFallback}; !slices.Equal(names, want) {
		t.Fatalf("events %q, want %q", names, want)
	}
	if st, _ := attrOf(server.Events()[0].Attributes, AttrState); st.AsString() != "OPEN" {
		t.Errorf("rejection in state %q, want OPEN", st.AsString())
	}
	if n, _ := attrOf(server.Attributes(), AttrAttempts); n.AsInt64() != 0 {
		t.Errorf("%s = %d, want 0", AttrAttempts, n.AsInt64())
	}
}

// TestTraceProbes: the adaptive profile's probes are spans of their own (roots, CLIENT, state
// OPEN), one per probe the snapshot counts, each sent to the backend as the probe's parent.
func TestTraceProbes(t *testing.T) {
	tr, rec := recorded(t, sdktrace.AlwaysSample())
	b := newTracedBackend(t, 0)
	b.down.Store(true)
	cfg := adaptiveConfig()
	cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration = 0, 2, 2, time.Hour
	p, err := New(cfg, Options{Probe: b.probe, Tracing: testTracing(tr)})
	if err != nil {
		t.Fatal(err)
	}
	for p.State() != StateOpen {
		serve(tr, p, 0, b.call)
	}
	testutil.WaitFor(t, 2*time.Second, "2 failed probes", func() bool { return p.Snapshot().Adaptive.ProbesFailed >= 2 })
	b.down.Store(false)
	testutil.WaitFor(t, 2*time.Second, "HALF_OPEN after a good probe", func() bool { return p.State() == StateHalfOpen })
	p.Close() // no probe in flight: the counts are final
	snap := p.Snapshot().Adaptive
	var probes, failed int64
	for _, s := range rec.Ended() {
		if s.Name() != "GET /readyz" {
			continue
		}
		probes++
		if s.Parent().IsValid() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("probe span: parent %v kind %v, want a root CLIENT span", s.Parent(), s.SpanKind())
		}
		if st, _ := attrOf(s.Attributes(), AttrState); st.AsString() != "OPEN" {
			t.Errorf("probe span state %q, want OPEN", st.AsString())
		}
		o, _ := attrOf(s.Attributes(), AttrOutcome)
		if o.AsString() == "failure" {
			failed++
			if et, _ := attrOf(s.Attributes(), "error.type"); et.AsString() != "500" {
				t.Errorf("failed probe: error.type %q, want 500", et.AsString())
			}
		}
		if !slices.Contains(b.traceparents(), "00-"+s.SpanContext().TraceID().String()+"-"+s.SpanContext().SpanID().String()+"-01") {
			t.Errorf("the backend never got probe span %s as its parent", s.SpanContext().SpanID())
		}
	}
	if probes != snap.ProbesFailed+snap.ProbesSucceeded || failed != snap.ProbesFailed {
		t.Errorf("%d probe spans (%d failed), the snapshot counts %d failed + %d succeeded", probes, failed, snap.ProbesFailed, snap.ProbesSucceeded)
	}
}

// TestTraceSampledOut: with a sampler that keeps nothing, no span is recorded, yet each call
// still sends a trace context (marked not sampled), so the next hop decides alike.
func TestTraceSampledOut(t *testing.T) {
	tr, rec := recorded(t, sdktrace.NeverSample())
	b := newTracedBackend(t, 1)
	p, err := New(testConfig(), Options{Tracing: testTracing(tr)})
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := serve(tr, p, 1, b.call); out.Source != SourceBackend || out.Attempts != 2 {
		t.Fatalf("outcome %+v, want the backend after 2 calls", out)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want none", n)
	}
	unsampled := regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)
	for i, tp := range b.traceparents() {
		if !unsampled.MatchString(tp) {
			t.Errorf("call %d: traceparent %q, want one marked not sampled", i+1, tp)
		}
	}
}

// TestTracingOffChangesNothing: the same requests with and without a tracer write the same log
// records (times aside) and metrics, and without one a call's context carries no span.
func TestTracingOffChangesNothing(t *testing.T) {
	run := func(tracing Tracing) (string, []byte) {
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		p := failingScenarioWith(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Registry: reg, Tracing: tracing})
		var seen trace.SpanContext
		p.Execute(context.Background(), func(ctx context.Context) ([]byte, error) {
			seen = trace.SpanContextFromContext(ctx)
			return nil, errors.New("unreachable: the breaker is open")
		})
		if tracing.Tracer == nil && seen.IsValid() {
			t.Errorf("tracing off, yet a call's context carries span %v", seen)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if h := m.GetHistogram(); h != nil {
					h.SampleSum = nil // the calls' durations differ from run to run
					for _, bk := range h.Bucket {
						bk.CumulativeCount = nil
					}
				}
			}
			if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
				t.Fatal(err)
			}
		}
		times := regexp.MustCompile(`(?m)^time=\S+ |duration_ms=\S+`)
		return times.ReplaceAllString(logs.String(), ""), text.Bytes()
	}
	tr, _ := recorded(t, sdktrace.AlwaysSample())
	offLogs, offMetrics := run(Tracing{})
	onLogs, onMetrics := run(testTracing(tr))
	if offLogs != onLogs {
		t.Errorf("log records differ\nwithout tracing:\n%s\nwith tracing:\n%s", offLogs, onLogs)
	}
	if !bytes.Equal(offMetrics, onMetrics) {
		t.Errorf("metrics differ\nwithout tracing:\n%s\nwith tracing:\n%s", offMetrics, onMetrics)
	}
}

// TestRefusalReadsAsErrBreakerOpen: a refusal carries its state for the span and is, for
// everyone else, ErrBreakerOpen: the same text (the fallback line and the answer's error) and
// errors.Is.
func TestRefusalReadsAsErrBreakerOpen(t *testing.T) {
	for _, st := range []State{StateOpen, StateHalfOpen} {
		err := refused(st)
		if !errors.Is(err, ErrBreakerOpen) || err.Error() != ErrBreakerOpen.Error() || err.(*refusal).state != st || Retryable(err) {
			t.Errorf("refused(%s) = %v (state %s), want ErrBreakerOpen's text, errors.Is it, not retryable", st, err, err.(*refusal).state)
		}
	}
}
