package resilience

import (
	"context"
	"errors"
	"testing"
	"time"
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
