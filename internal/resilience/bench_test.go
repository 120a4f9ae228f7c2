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
