package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/testutil"
)

// TestCancelledCallersAreIgnored runs requests against a blackholed backend (it never answers
// until the request's context ends): some callers give up at a third of ATTEMPT_TIMEOUT, the
// others wait for the attempt timeout. Only the real timeouts count: they alone open the
// breaker, the cancelled calls are counted ignored, and cancelled HALF_OPEN trials neither close
// the breaker nor keep their permits, so a later real trial still happens.
func TestCancelledCallersAreIgnored(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeHang)
	cfg := testConfig()
	cfg.AttemptTimeout, cfg.MaxRetries = 90*time.Millisecond, 0
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration, cfg.HalfOpenCalls = 4, 4, 100*time.Millisecond, 2
	p, _, reg := newTestPipeline(t, cfg)
	ctx := context.Background()
	cancelled := func(t *testing.T) {
		t.Helper()
		out := executeCancelled(p, ctx, f.call, cfg.AttemptTimeout/3)
		if out.Source != SourceError || !errors.Is(out.Err, context.Canceled) || out.Attempts != 1 {
			t.Fatalf("cancelled caller: outcome %+v, want error source, context.Canceled, 1 attempt", out)
		}
	}

	// CLOSED: c = a caller that cancels, T = a real attempt timeout.
	for i, step := range "cTcTcTcT" {
		if step == 'c' {
			cancelled(t)
		} else if out := p.Execute(ctx, f.call); !errors.Is(out.Err, ErrAttemptTimeout) {
			t.Fatalf("step %d: outcome %+v, want the attempt timeout", i+1, out)
		}
		if want := map[bool]State{true: StateOpen, false: StateClosed}[i == 7]; p.State() != want {
			t.Fatalf("after step %d (%c) the breaker is %s, want %s", i+1, step, p.State(), want)
		}
	}
	b := p.Snapshot().CircuitBreaker
	if b.BufferedCalls != 4 || b.FailedCalls != 4 || b.IgnoredCalls != 4 {
		t.Errorf("snapshot when OPEN = %+v, want 4 buffered, 4 failed (the timeouts), 4 ignored", b)
	}
	checkCalls(t, reg, map[string]float64{"ignored": 4, "failed": 4, "successful": 0})

	// HALF_OPEN: more cancelled trials than permits, each permitted, none deciding anything.
	testutil.WaitFor(t, time.Second, "HALF_OPEN", func() bool { return p.State() == StateHalfOpen })
	for range 5 {
		cancelled(t)
		if p.State() != StateHalfOpen {
			t.Fatalf("a cancelled trial moved the breaker to %s", p.State())
		}
	}
	f.mode.Store(modeOK)
	for i := range cfg.HalfOpenCalls {
		if out := p.Execute(ctx, f.call); out.Source != SourceBackend || out.Attempts != 1 {
			t.Fatalf("real trial %d: outcome %+v, want the backend's answer", i+1, out)
		}
	}
	if p.State() != StateClosed {
		t.Errorf("state = %s after the real trials succeeded, want CLOSED", p.State())
	}
	if n := p.Snapshot().CircuitBreaker.IgnoredCalls; n != 9 {
		t.Errorf("ignoredCalls = %d, want 9", n)
	}
	checkCalls(t, reg, map[string]float64{"ignored": 9, "failed": 4, "successful": 2})
}

// checkCalls compares resilience4j_circuitbreaker_calls_seconds' counts by kind with want.
func checkCalls(t *testing.T, reg *prometheus.Registry, want map[string]float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for kind, n := range want {
		got, ok := find(families, "resilience4j_circuitbreaker_calls_seconds", map[string]string{"name": BreakerName, "kind": kind})
		if !ok || got != n {
			t.Errorf("calls_seconds{kind=%q} count = %v (found %v), want %v", kind, got, ok, n)
		}
	}
}
