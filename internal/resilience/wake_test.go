package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// TestOpeningWakesSleepingRetries: request A fails once and goes to sleep for a 5s retry wait;
// request C is in flight; request B's failure opens the breaker. A must get the fallback at
// once (ErrBreakerOpen, counted not permitted), and C's call must go on to its answer.
func TestOpeningWakesSleepingRetries(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.AttemptTimeout, cfg.RequestTimeout, cfg.InitialBackoff, cfg.MaxBackoff = 2*time.Second, 10*time.Second, 5*time.Second, 5*time.Second
	cfg.SlidingWindow, cfg.MinimumCalls = 2, 2
	p, logs, _ := newTestPipeline(t, cfg)
	ctx := context.Background()

	inFlight, release := make(chan struct{}), make(chan struct{})
	outC := make(chan Outcome, 1)
	go func() {
		outC <- p.Execute(ctx, func(ctx context.Context) ([]byte, error) {
			close(inFlight)
			select {
			case <-release:
				return []byte(`{}`), nil
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		})
	}()
	<-inFlight

	type done struct {
		out Outcome
		at  time.Time
	}
	doneA := make(chan done, 1)
	go func() {
		out := p.Execute(WithRequestID(ctx, 1), f.call)
		doneA <- done{out, time.Now()}
	}()
	testutil.WaitFor(t, 2*time.Second, "A asleep for its retry", func() bool { return p.Snapshot().Retry.RetriesScheduled == 1 })

	if out := p.Execute(WithRequestID(ctx, 2), f.call); p.State() != StateOpen || out.Source != SourceFallback {
		t.Fatalf("B: %+v, breaker %s; want a fallback with the breaker OPEN", out, p.State())
	}
	a := <-doneA
	opened := transitionTime(t, logs, StateClosed, StateOpen)
	if lag := a.at.Sub(opened); lag > 100*time.Millisecond {
		t.Errorf("A got its answer %v after the breaker opened, want within 100ms", lag)
	}
	if a.out.Source != SourceFallback || !errors.Is(a.out.Err, ErrBreakerOpen) || a.out.Attempts != 1 {
		t.Errorf("A: %+v, want the fallback for ErrBreakerOpen after 1 attempt", a.out)
	}
	if s := p.Snapshot(); s.CircuitBreaker.NotPermittedCalls != 1 || s.FallbackResponses != 2 {
		t.Errorf("snapshot: %d not permitted, %d fallbacks; want 1 (A) and 2 (A, B)",
			s.CircuitBreaker.NotPermittedCalls, s.FallbackResponses)
	}

	close(release)
	if c := <-outC; c.Source != SourceBackend || c.Attempts != 1 {
		t.Errorf("C, in flight when the breaker opened: %+v, want the backend's answer", c)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("the backend was called %d times, want 2 (A once, B once)", n)
	}
}

// TestHalfOpenWithoutTraffic: once the breaker is OPEN no request comes; the move to HALF_OPEN
// must still be made, logged and exported when the wait ends.
func TestHalfOpenWithoutTraffic(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration = 0, 2, 2, 150*time.Millisecond
	p, logs, reg := newTestPipeline(t, cfg)
	p.Execute(context.Background(), f.call)
	p.Execute(context.Background(), f.call)
	if p.State() != StateOpen {
		t.Fatalf("state = %s, want OPEN", p.State())
	}
	testutil.WaitFor(t, 2*time.Second, "the OPEN -> HALF_OPEN record", func() bool {
		return countPrefix(logs.messages(t), "CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN") == 1
	})
	opened := transitionTime(t, logs, StateClosed, StateOpen)
	halfOpen := transitionTime(t, logs, StateOpen, StateHalfOpen)
	if late := halfOpen.Sub(opened) - cfg.WaitDuration; late < 0 || late > 100*time.Millisecond {
		t.Errorf("HALF_OPEN recorded %v after the wait ended, want within [0, 100ms]", late)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gauge, _ := find(families, "resilience4j_circuitbreaker_state", map[string]string{"state": "half_open"})
	if s := p.Snapshot().CircuitBreaker; s.State != StateHalfOpen || p.State() != StateHalfOpen || gauge != 1 {
		t.Errorf("snapshot %s, State %s, gauge half_open %v: want all HALF_OPEN", s.State, p.State(), gauge)
	}
	if f.calls.Load() != 2 {
		t.Errorf("backend calls = %d, want 2: the move needs no traffic", f.calls.Load())
	}
}

// transitionTime is the time of the logged transition from -> to, read with the lab's decoder.
func transitionTime(t *testing.T, logs *logBuffer, from, to State) time.Time {
	t.Helper()
	for _, e := range logs.events(t) {
		if e.Kind == results.KindBreaker && e.From == string(from) && e.To == string(to) {
			return e.Time
		}
	}
	t.Fatalf("no %s -> %s record in\n%s", from, to, logs.String())
	return time.Time{}
}
