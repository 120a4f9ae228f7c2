package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// AttrTier is the resource attribute that names a service's tier (TIER).
const AttrTier = "chaoslab.tier"

// FlushTimeout bounds the export of the spans still queued when a service stops.
const FlushTimeout = 5 * time.Second

// failLogEvery is the least time between two lines about failed exports.
const failLogEvery = time.Minute

// LogEvent is the event attribute of the tracing's log records: where the spans go (at the
// start), failed exports, and what became of the spans (at the end).
const LogEvent = "traces"

// Options are a Provider's dependencies.
type Options struct {
	Tier     string                // TIER, on the resource as chaoslab.tier; "" = none
	Registry prometheus.Registerer // gets the span counts (chaoslab_trace_spans_total); nil = none
	Logger   *slog.Logger          // failed exports (at most one line a minute) and the counts at Shutdown; nil = none
	// Exporter replaces the OTLP/HTTP exporter to Config.URL (tests); nil = OTLP/HTTP.
	Exporter sdktrace.SpanExporter
	// QueueSize, BatchSize and BatchInterval replace the queue's limits (tests); 0 = the defaults.
	QueueSize, BatchSize int
	BatchInterval        time.Duration
}

// Provider makes a service's spans and exports them. A nil *Provider is tracing off: its
// methods do nothing and return nil or what they were given. It is safe for concurrent use.
type Provider struct {
	tp    *sdktrace.TracerProvider
	queue *queue
	prop  propagation.TextMapPropagator
	log   *slog.Logger
	url   string
}

// New makes the Provider of cfg and logs where the spans go, or returns nil when cfg is off (no
// endpoint). Nothing is sent before the first span ends; the receiver need not be up.
func New(ctx context.Context, cfg Config, o Options) (*Provider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	exp := o.Exporter
	if exp == nil {
		var err error
		if exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.URL())); err != nil {
			return nil, fmt.Errorf("traces: the OTLP/HTTP exporter to %s: %w", cfg.URL(), err)
		}
	}
	res, err := newResource(ctx, cfg, o.Tier)
	if err != nil {
		return nil, err
	}
	p := &Provider{log: o.Logger.With("component", "tracing"), url: cfg.URL(),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	p.queue = newQueue(exp, or(o.QueueSize, queueSize), or(o.BatchSize, batchSize), or(o.BatchInterval, batchInterval), (&failLog{p: p}).failed)
	p.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sampler(cfg)), sdktrace.WithSpanProcessor(p.queue))
	if o.Registry != nil {
		if err := p.register(o.Registry); err != nil {
			p.tp.Shutdown(ctx)
			return nil, fmt.Errorf("traces: registering the span counts: %w", err)
		}
	}
	p.log.Info("traces to "+p.url, "event", LogEvent, "endpoint", p.url, "sampler", cfg.Sampler,
		"sampler_arg", cfg.SamplerArg, "service", cfg.ServiceName)
	return p, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func newResource(ctx context.Context, cfg Config, tier string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName)}
	if tier != "" {
		attrs = append(attrs, attribute.String(AttrTier, tier))
	}
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK(),
		resource.WithHost(), resource.WithProcessPID(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("traces: describing the service: %w", err)
	}
	return res, nil
}

// sampler is cfg's OTEL_TRACES_SAMPLER, parentbased_always_on when unset.
func sampler(cfg Config) sdktrace.Sampler {
	switch cfg.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(cfg.Ratio)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.Ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// Tracer returns the tracer of an instrumentation scope; nil when tracing is off.
func (p *Provider) Tracer(scope string) trace.Tracer {
	if p == nil {
		return nil
	}
	return p.tp.Tracer(scope)
}

// Handler wraps a service's whole handler h: every request gets a SERVER span (the stable HTTP
// server conventions, named after its route, such as "GET /api/data"), child of the W3C trace
// context it came with, if any. /healthz, /readyz and /metrics are traced only when they come
// with a trace context (an adaptive probe, not a kubelet or a Prometheus scrape). Tracing off: h
// itself.
func (p *Provider) Handler(h http.Handler) http.Handler {
	if p == nil {
		return h
	}
	return p.serverSpans(h)
}

// traced reports whether a request gets a SERVER span.
func traced(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return r.Header.Get("traceparent") != ""
	}
	return true
}

// Inject writes the trace context of ctx (W3C traceparent, tracestate and baggage) into h, the
// headers of an outgoing request. Tracing off: nothing.
func (p *Provider) Inject(ctx context.Context, h http.Header) {
	if p == nil {
		return
	}
	p.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// Counts is what became of the sampled spans since the Provider started; zero when off.
func (p *Provider) Counts() Counts {
	if p == nil {
		return Counts{}
	}
	return p.queue.counts()
}

// Shutdown ends the spans' export: it sends what is queued, within FlushTimeout or ctx's
// deadline if sooner, and logs what became of every span since the start. Tracing off: nothing.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	defer cancel()
	err := p.tp.Shutdown(ctx)
	c := p.queue.counts()
	level := slog.LevelInfo
	if c.Dropped+c.Failed+c.Queued > 0 {
		level = slog.LevelWarn
	}
	p.log.LogAttrs(context.Background(), level,
		fmt.Sprintf("traces: %d spans exported to %s, %d dropped (queue full), %d failed to send, %d unsent at shutdown, since the start", c.Exported, p.url, c.Dropped, c.Failed, c.Queued),
		slog.String("event", LogEvent), slog.Int64("exported", c.Exported), slog.Int64("dropped", c.Dropped),
		slog.Int64("failed", c.Failed), slog.Int64("unsent", c.Queued))
	if err != nil {
		return fmt.Errorf("traces: flushing the spans to %s: %w", p.url, err)
	}
	return nil
}

// Close is Shutdown for a service's last step: a flush cut short is logged, not returned.
func (p *Provider) Close() {
	if err := p.Shutdown(context.Background()); err != nil {
		p.log.Warn(err.Error(), "event", LogEvent)
	}
}

// register puts the span counts on reg, read from the queue at each scrape.
func (p *Provider) register(reg prometheus.Registerer) error {
	count := func(result string, f func(Counts) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chaoslab_trace_spans_total",
			Help:        "Sampled spans this process ended since it started, by what became of them: exported (accepted by the OTLP receiver), dropped (the export queue was full), failed (in a batch the exporter could not send).",
			ConstLabels: prometheus.Labels{"result": result}}, func() float64 { return float64(f(p.queue.counts())) })
	}
	for _, c := range []prometheus.Collector{
		count("exported", func(c Counts) int64 { return c.Exported }),
		count("dropped", func(c Counts) int64 { return c.Dropped }),
		count("failed", func(c Counts) int64 { return c.Failed }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chaoslab_trace_queue_spans",
			Help: "Sampled spans waiting to be exported now."}, func() float64 { return float64(p.queue.counts().Queued) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// failLog writes the failed exports: the first at once, then at most one line a minute with
// the spans lost since the last line. It is used by the queue's goroutine only.
type failLog struct {
	p      *Provider
	last   time.Time
	spans  int
	errors int
}

func (f *failLog) failed(err error, spans int) {
	f.spans += spans
	f.errors++
	if now := time.Now(); now.Sub(f.last) >= failLogEvery {
		f.p.log.Warn(fmt.Sprintf("traces: %d exports to %s failed, %d spans lost, since the last such line; the last: %v", f.errors, f.p.url, f.spans, err),
			"event", LogEvent, "failed", f.spans, "error", err.Error())
		f.last, f.spans, f.errors = now, 0, 0
	}
}

// RecordStatus puts an HTTP answer's status code on the CLIENT span of ctx (the call's span the
// resilience pipeline started) as http.response.status_code. Tracing off: nothing.
func (p *Provider) RecordStatus(ctx context.Context, code int) {
	if p == nil || code == 0 {
		return
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		s.SetAttributes(semconv.HTTPResponseStatusCode(code))
	}
}
