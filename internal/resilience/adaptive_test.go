package resilience

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/testutil"
)

// adaptiveConfig is testConfig with the adaptive profile: a 20 ms floor, a window of 100 calls
// (warm after 10), probes every 5 ms, Envoy's budget, 0-1 ms waits.
func adaptiveConfig() Config {
	c := testConfig()
	c.AttemptTimeout = 2 * time.Second
	c.RequestTimeout = 5 * time.Second
	c.Adaptive = Adaptive{Enabled: true, TimeoutFloor: 20 * time.Millisecond, TimeoutFactor: 3, TimeoutWindow: 100,
		ProbeInterval: 5 * time.Millisecond, BudgetPercent: 20, BudgetMin: 3,
		RetryBackoff: time.Millisecond, RetryMaxBackoff: time.Millisecond}
	return c
}

// newAdaptivePipeline builds an adaptive pipeline probing with probe, closed at the test's end.
func newAdaptivePipeline(t *testing.T, cfg Config, probe Probe) (*Pipeline, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	p, err := New(cfg, Options{Logger: debugLogger(logs), Rand: newRand(1), Probe: probe})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	return p, logs
}

// p999 is the independent count: the ceil(0.999·n)-th smallest sample.
func p999(samples []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(samples))
	return s[int(math.Ceil(0.999*float64(len(s))))-1]
}

func TestTimeoutEstimator(t *testing.T) {
	const ceiling = time.Second
	a := Adaptive{TimeoutFloor: 20 * time.Millisecond, TimeoutFactor: 3, TimeoutWindow: 1000}
	e := newTimeoutEstimator(a, ceiling)
	ms := time.Millisecond

	// Warm-up: ATTEMPT_TIMEOUT until a tenth of the window has succeeded.
	for i := range 99 {
		e.observe(ms)
		if e.current() != ceiling {
			t.Fatalf("after %d samples the timeout is %v, want ATTEMPT_TIMEOUT %v during the warm-up", i+1, e.current(), ceiling)
		}
	}
	e.observe(ms)
	if e.current() != a.TimeoutFloor {
		t.Fatalf("warm with 1 ms calls: timeout %v, want the floor %v (3 ms is under it)", e.current(), a.TimeoutFloor)
	}

	// Against an independent count over random latencies, through the window's wrap-around.
	rnd := rand.New(rand.NewPCG(7, 7))
	var all []time.Duration
	for range 100 {
		all = append(all, ms) // what the estimator holds already
	}
	for i := range 2500 {
		d := time.Duration(rnd.ExpFloat64() * float64(10*ms))
		e.observe(d)
		all = append(all, d)
		if i%97 != 0 {
			continue
		}
		window := all[max(0, len(all)-1000):]
		want := min(max(time.Duration(float64(p999(window))*3), a.TimeoutFloor), ceiling)
		if got := e.current(); got != want {
			t.Fatalf("after %d samples: timeout %v, want clamp(3 × p99.9 %v) = %v", len(all), got, p999(window), want)
		}
	}

	// A step down to 1 ms: back at the floor once the slow samples have left the window.
	for range 1000 {
		e.observe(ms)
	}
	if e.current() != a.TimeoutFloor {
		t.Errorf("1000 calls after a step down to 1 ms: timeout %v, want the floor %v", e.current(), a.TimeoutFloor)
	}
	// A step up to 300 ms: two slow samples are the p99.9 of a full window (the 999th of 1000).
	e.observe(300 * ms)
	if e.current() != a.TimeoutFloor {
		t.Errorf("one 300 ms sample moved the timeout to %v; p99.9 of 1000 is the second largest", e.current())
	}
	e.observe(300 * ms)
	if want := 900 * ms; e.current() != want {
		t.Errorf("two 300 ms samples: timeout %v, want 3 × 300 ms = %v", e.current(), want)
	}
	e.observe(500 * ms)
	e.observe(500 * ms)
	if e.current() != ceiling {
		t.Errorf("500 ms calls: timeout %v, want ATTEMPT_TIMEOUT %v (3 × 500 ms is over it)", e.current(), ceiling)
	}
	if n, q, _ := e.state(); n != 1000 || q != 500*ms {
		t.Errorf("state: %d samples, p99.9 %v; want 1000 and 500ms", n, q)
	}
}

// TestAdaptiveTimeoutCutsAHang: once warm on a fast backend, an attempt that hangs is cut at the
// adaptive timeout (its error says so), far before ATTEMPT_TIMEOUT.
func TestAdaptiveTimeoutCutsAHang(t *testing.T) {
	f := newFakeBackend(t)
	cfg := adaptiveConfig()
	cfg.MaxRetries = 0
	p, _ := newAdaptivePipeline(t, cfg, func(context.Context) error { return errors.New("down") })
	for range 10 {
		if out := p.Execute(context.Background(), f.call); out.Source != SourceBackend {
			t.Fatalf("warm-up call: %+v", out)
		}
	}
	timeout := time.Duration(p.Snapshot().Adaptive.AttemptTimeoutMs * float64(time.Millisecond))
	if timeout >= cfg.AttemptTimeout {
		t.Fatalf("warm timeout %v, want under ATTEMPT_TIMEOUT %v", timeout, cfg.AttemptTimeout)
	}
	f.mode.Store(modeHang)
	start := time.Now()
	out := p.Execute(context.Background(), f.call)
	took := time.Since(start)
	if out.Source != SourceFallback || !errors.Is(out.Err, ErrAttemptTimeout) || !strings.Contains(out.Err.Error(), "adaptive timeout") {
		t.Fatalf("hanging call: %+v, want the fallback for an adaptive timeout", out)
	}
	if took < timeout || took >= cfg.AttemptTimeout/2 {
		t.Errorf("the hanging call took %v, want at least the adaptive timeout %v and far less than ATTEMPT_TIMEOUT %v", took, timeout, cfg.AttemptTimeout)
	}
}

// openBreaker opens p's breaker with failing calls (window and minimum of 2).
func openBreaker(t *testing.T, p *Pipeline, f *fakeBackend) {
	t.Helper()
	f.mode.Store(modeFail)
	for p.State() != StateOpen {
		p.Execute(context.Background(), f.call)
	}
}

// TestProbingWhileOpen: no probe while CLOSED; while OPEN the backend is probed every
// PROBE_INTERVAL, and the first good probe moves the breaker to HALF_OPEN at once, long before
// CB_WAIT_DURATION; its latency feeds the timeout's window; the trials then decide CLOSED.
func TestProbingWhileOpen(t *testing.T) {
	f := newFakeBackend(t)
	cfg := adaptiveConfig()
	cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration = 0, 2, 2, time.Hour
	var ready atomic.Bool
	var probes, probesClosed atomic.Int64
	p, logs := newAdaptivePipeline(t, cfg, func(ctx context.Context) error {
		probes.Add(1)
		if !ready.Load() {
			return errors.New("backend not ready")
		}
		return nil
	})
	// CLOSED: 50 calls span many probe intervals; none may probe.
	for range 50 {
		p.Execute(context.Background(), f.call)
	}
	if n := probes.Load(); n != 0 {
		t.Fatalf("%d probes while CLOSED, want none", n)
	}
	openBreaker(t, p, f)
	testutil.WaitFor(t, 2*time.Second, "3 failed probes", func() bool { return p.Snapshot().Adaptive.ProbesFailed >= 3 })
	if p.State() != StateOpen {
		t.Fatalf("state %s after failed probes, want OPEN", p.State())
	}
	samples := p.Snapshot().Adaptive.Samples
	healed := time.Now()
	ready.Store(true)
	testutil.WaitFor(t, 2*time.Second, "HALF_OPEN after a good probe", func() bool { return p.State() == StateHalfOpen })
	if lag := time.Since(healed); lag > time.Second {
		t.Errorf("HALF_OPEN %v after the backend became ready, want within a few probe intervals", lag)
	}
	s := p.Snapshot().Adaptive
	if s.ProbesSucceeded < 1 || s.Samples <= samples {
		t.Errorf("after the good probe: %+v, want a success counted and its latency in the window (had %d samples)", s, samples)
	}
	probesClosed.Store(probes.Load())
	f.mode.Store(modeOK)
	for range cfg.HalfOpenCalls {
		p.Execute(context.Background(), f.call)
	}
	if p.State() != StateClosed {
		t.Fatalf("state %s after good trials, want CLOSED", p.State())
	}
	if got := stateLines(logs.messages(t)); !slices.Equal(got, []string{
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN",
		"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"}) {
		t.Errorf("state changes logged = %q", got)
	}
	if n := countPrefix(logs.messages(t), "Probe 'backendCB' - backend /readyz answered in"); n < 1 {
		t.Errorf("no line for the good probe")
	}
	// CLOSED again: the probing stopped. 50 calls span many intervals; a loop still running would
	// probe at each. One probe the loop launched just before HALF_OPEN may still start.
	for range 50 {
		p.Execute(context.Background(), f.call)
	}
	if n := probes.Load() - probesClosed.Load(); n > 1 {
		t.Errorf("%d probes after the breaker left OPEN, want at most the one launched as it left", n)
	}
}

// TestProbesStopOnClose: Close cancels a probe that hangs (a blackhole) and waits for it; no
// probe starts after.
func TestProbesStopOnClose(t *testing.T) {
	f := newFakeBackend(t)
	cfg := adaptiveConfig()
	cfg.AttemptTimeout, cfg.RequestTimeout = time.Minute, time.Minute
	cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration = 0, 2, 2, time.Hour
	var started, cancelled atomic.Int64
	logs := &logBuffer{}
	p, err := New(cfg, Options{Logger: debugLogger(logs), Probe: func(ctx context.Context) error {
		started.Add(1)
		<-ctx.Done()
		cancelled.Add(1)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	openBreaker(t, p, f)
	testutil.WaitFor(t, 2*time.Second, "probes in flight", func() bool { return started.Load() >= 3 })
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a hanging probe was not cancelled")
	}
	if s, c := started.Load(), cancelled.Load(); s != c {
		t.Errorf("%d probes started, %d ended by the cancel: Close returned with probes in flight", s, c)
	}
	if n := p.Snapshot().Adaptive.ProbesFailed; n != 0 {
		t.Errorf("%d probes cut by the shutdown counted as failed, want none", n)
	}
	n := started.Load()
	p.Execute(context.Background(), f.call) // the breaker is OPEN: a fallback, no call
	if started.Load() != n {
		t.Errorf("a probe started after Close")
	}
}

// TestRetryBudget: ten requests fail at once and all want a retry; at most 20 % of the
// executions in flight may be retries, so three retries go (1/11, 2/12 and 3/13 would be
// over 20 %: the third is the last under it) and seven are refused: answered by the fallback
// for ErrRetryBudget, counted and logged once. Sequential requests are never refused; nor are
// three concurrent ones under the budget's minimum of three.
func TestRetryBudget(t *testing.T) {
	const n = 10
	f := newFakeBackend(t)
	cfg := adaptiveConfig()
	cfg.Adaptive.BudgetMin = 0
	cfg.Adaptive.RetryBackoff, cfg.Adaptive.RetryMaxBackoff = 0, 0
	p, logs := newAdaptivePipeline(t, cfg, func(context.Context) error { return nil })

	var arrived sync.WaitGroup
	arrived.Add(n)
	allFailing, release := make(chan struct{}), make(chan struct{})
	go func() { arrived.Wait(); close(allFailing) }()
	var mu sync.Mutex
	calls := map[uint64]int{}
	outs := make(chan Outcome, n)
	for i := range n {
		id := uint64(i + 1)
		go func() {
			outs <- p.Execute(WithRequestID(context.Background(), id), func(ctx context.Context) ([]byte, error) {
				mu.Lock()
				calls[id]++
				first := calls[id] == 1
				mu.Unlock()
				if first {
					arrived.Done()
					<-allFailing
					return nil, &StatusError{Code: 503}
				}
				<-release // a retry in flight
				return []byte(`{}`), nil
			})
		}()
	}
	var refused []Outcome
	for range n - 3 {
		out := <-outs
		refused = append(refused, out)
	}
	close(release)
	var retried int
	for range 3 {
		if out := <-outs; out.Source == SourceBackend && out.Attempts == 2 {
			retried++
		}
	}
	for _, out := range refused {
		if out.Source != SourceFallback || !errors.Is(out.Err, ErrRetryBudget) || !strings.Contains(out.Err.Error(), "503") || out.Attempts != 1 {
			t.Errorf("refused request: %+v, want the fallback for ErrRetryBudget naming the last attempt's 503, after 1 attempt", out)
		}
	}
	if retried != 3 {
		t.Errorf("%d requests answered by their retry, want 3", retried)
	}
	s := p.Snapshot()
	if s.Adaptive.BudgetRefused != n-3 || s.Retry.RetriesScheduled != 3 {
		t.Errorf("snapshot: %d refused, %d retries; want %d and 3", s.Adaptive.BudgetRefused, s.Retry.RetriesScheduled, n-3)
	}
	if got := countPrefix(logs.messages(t), "Retry 'backendRetry' budget exceeded: 1 retries refused"); got != 1 {
		t.Errorf("budget lines: %d, want one (at most one a second, for the first refusal)", got)
	}
	if got := countPrefix(logs.messages(t), "Retry 'backendRetry' - Attempt #"); got != 3 {
		t.Errorf("retry lines: %d, want 3: a refused retry is not reported as one", got)
	}

	// Below the budget: sequential requests, each retried once, are never refused.
	f.mode.Store(modeOK)
	for range 20 {
		var first atomic.Bool
		out := p.Execute(context.Background(), func(ctx context.Context) ([]byte, error) {
			if first.CompareAndSwap(false, true) {
				return nil, &StatusError{Code: 503}
			}
			return f.call(ctx)
		})
		if out.Source != SourceBackend || out.Attempts != 2 {
			t.Fatalf("sequential request: %+v, want the backend's answer after 2 attempts", out)
		}
	}
	if got := p.Snapshot().Adaptive.BudgetRefused; got != n-3 {
		t.Errorf("refusals after sequential retries: %d, want still %d", got, n-3)
	}
}
