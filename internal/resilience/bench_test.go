package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The price of the pipeline on the two paths that matter: a healthy call (CLOSED, the backend
// answers) and a rejected one (OPEN, the fallback answers without calling the backend). The
// backend here is a function, so only the pipeline is measured. Compare the two with
//
//	go test -run '^$' -bench . -benchmem ./internal/resilience/
func BenchmarkExecuteClosedSuccess(b *testing.B) {
	p, err := New(testConfig(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ok := func(context.Context) ([]byte, error) { return []byte(`{}`), nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := p.Execute(ctx, ok); out.Source != SourceBackend {
			b.Fatalf("source %s", out.Source)
		}
	}
}

func BenchmarkExecuteOpenFallback(b *testing.B) {
	cfg := testConfig()
	cfg.WaitDuration = time.Hour // stays OPEN for the whole benchmark
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.MaxRetries = 10, 5, 0
	p, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	fail := func(context.Context) ([]byte, error) { return nil, errors.New("connection refused") }
	ctx := context.Background()
	for p.State() != StateOpen {
		p.Execute(ctx, fail)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := p.Execute(ctx, fail); out.Source != SourceFallback || out.Attempts != 0 {
			b.Fatalf("source %s after %d attempts, want a fallback without calling", out.Source, out.Attempts)
		}
	}
}

// BenchmarkExecuteClosedSuccessAdaptive is BenchmarkExecuteClosedSuccess with RESILIENCE=adaptive:
// the timeout's window (an insertion into 1000 sorted samples per call) and the retry budget's
// bookkeeping are its extra cost per call.
func BenchmarkExecuteClosedSuccessAdaptive(b *testing.B) {
	cfg := testConfig()
	cfg.Adaptive = Adaptive{Enabled: true, TimeoutFloor: 50 * time.Millisecond, TimeoutFactor: 3, TimeoutWindow: 1000,
		ProbeInterval: 100 * time.Millisecond, BudgetPercent: 20, BudgetMin: 3, RetryBackoff: 25 * time.Millisecond,
		RetryMaxBackoff: 250 * time.Millisecond}
	p, err := New(cfg, Options{Probe: func(context.Context) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ok := func(context.Context) ([]byte, error) { return []byte(`{}`), nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := p.Execute(ctx, ok); out.Source != SourceBackend {
			b.Fatalf("source %s", out.Source)
		}
	}
}

// BenchmarkExecuteTraced is BenchmarkExecuteClosedSuccess under a SERVER span, with the pipeline
// untraced (off), traced by a tracer whose sampler records nothing (always_off: the CLIENT span is
// made, not recorded), and traced with every span recorded (always_on; ended into no processor,
// so no export): the pipeline's own price of tracing, without the HTTP server's.
func BenchmarkExecuteTraced(b *testing.B) {
	for _, bc := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"off", nil}, {"always_off", sdktrace.NeverSample()}, {"always_on", sdktrace.AlwaysSample()}} {
		b.Run(bc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
			tr := tp.Tracer("bench")
			var tracing Tracing
			if bc.sampler != nil {
				tracing = Tracing{Tracer: sdktrace.NewTracerProvider(sdktrace.WithSampler(bc.sampler)).Tracer("bench"),
					Call: SpanStart{Name: "GET /api/data"}}
			}
			p, err := New(testConfig(), Options{Tracing: tracing})
			if err != nil {
				b.Fatal(err)
			}
			ok := func(context.Context) ([]byte, error) { return []byte(`{}`), nil }
			ctx, span := tr.Start(context.Background(), "GET /api/data", trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
			b.ReportAllocs()
			for b.Loop() {
				if out := p.Execute(ctx, ok); out.Source != SourceBackend {
					b.Fatalf("source %s", out.Source)
				}
			}
		})
	}
}
