package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/testutil"
)

// coldConfig is adaptiveConfig with Adaptive.ColdStart (margin 10) and a window of 1000, so the
// pipeline stays cold for its first 100 successful calls; the breaker's window (100 calls) never
// judges in these tests, so only the cold rule can open it.
func coldConfig() Config {
	c := adaptiveConfig()
	c.Adaptive.TimeoutWindow = 1000
	c.Adaptive.ColdStart, c.Adaptive.ColdMargin = true, 10
	c.WaitDuration = time.Hour
	return c
}

// coldWant is the independent count of the cold estimate: clamp(slowest × factor × (1 +
// margin/n), floor, ceiling).
func coldWant(samples []time.Duration, a Adaptive, ceiling time.Duration) time.Duration {
	slowest := slices.Max(samples)
	t := time.Duration(float64(slowest) * a.TimeoutFactor * (1 + a.ColdMargin/float64(len(samples))))
	return min(max(t, a.TimeoutFloor), ceiling)
}

// TestColdTimeoutEstimate: with ColdStart the timeout is ATTEMPT_TIMEOUT before the first good
// call, then the cold estimate (never under the warm rule on the same calls, its margin shrinking
// as calls come), and exactly the warm rule from the warm-up on, as without ColdStart.
func TestColdTimeoutEstimate(t *testing.T) {
	const ceiling = time.Second
	a := Adaptive{TimeoutFloor: 20 * time.Millisecond, TimeoutFactor: 3, TimeoutWindow: 1000, ColdStart: true, ColdMargin: 10}
	e := newTimeoutEstimator(a, ceiling)
	if c := e.coldLimit(); c == nil || c.timeout != ceiling || c.err != nil || e.current() != ceiling {
		t.Fatalf("before any call: cold limit %+v, timeout %v; want ATTEMPT_TIMEOUT %v and no error of its own", c, e.current(), ceiling)
	}
	ms := time.Millisecond
	steps := []struct {
		d    time.Duration
		want time.Duration
	}{
		{2 * ms, 66 * ms},                      // 2 ms × 3 × (1 + 10/1)
		{1 * ms, 36 * ms},                      // the slowest stays 2 ms: × 3 × (1 + 10/2)
		{9 * ms, 117 * ms},                     // 9 ms × 3 × (1 + 10/3)
		{1 * ms, 94*ms + 500*time.Microsecond}, // 9 ms × 3 × (1 + 10/4)
		{100 * ms, 900 * ms},                   // 100 ms × 3 × (1 + 10/5)
		{400 * ms, ceiling},                    // 400 ms × 3 × (1 + 10/6): over ATTEMPT_TIMEOUT
	}
	var samples []time.Duration
	for _, s := range steps {
		e.observe(s.d)
		samples = append(samples, s.d)
		if got := e.current(); !near(got, s.want) || got != coldWant(samples, a, ceiling) {
			t.Fatalf("after %v: timeout %v, want %v", samples, got, s.want)
		}
		c := e.coldLimit()
		if c == nil || c.timeout != e.current() || c.samples != len(samples) ||
			!strings.Contains(c.err.Error(), fmt.Sprintf("adaptive timeout while cold: the slowest of the %d good calls so far × 3 × (1 + 10/%d)", len(samples), len(samples))) {
			t.Fatalf("after %v: cold limit %+v", samples, c)
		}
	}

	// Random latencies up to the warm-up: the cold estimate never under the warm rule.
	rnd := rand.New(rand.NewPCG(3, 3))
	for len(samples) < 99 {
		d := time.Duration(rnd.ExpFloat64() * float64(10*ms))
		e.observe(d)
		samples = append(samples, d)
		warm := min(max(time.Duration(float64(p999(samples))*3), a.TimeoutFloor), ceiling)
		if got := e.current(); got != coldWant(samples, a, ceiling) || got < warm {
			t.Fatalf("after %d samples: timeout %v, want %v (and not under the warm rule's %v)", len(samples), got, coldWant(samples, a, ceiling), warm)
		}
	}
	if !e.isCold() || e.coldLimit() == nil {
		t.Fatalf("99 samples of a warm-up of 100: not cold")
	}
	e.observe(ms)
	samples = append(samples, ms)
	warm := min(max(time.Duration(float64(p999(samples))*3), a.TimeoutFloor), ceiling)
	if e.isCold() || e.coldLimit() != nil || e.current() != warm {
		t.Fatalf("at the warm-up: cold %v, limit %+v, timeout %v; want warm with the warm rule's %v", e.isCold(), e.coldLimit(), e.current(), warm)
	}
	if e.successes() != uint64(len(samples)) {
		t.Errorf("successes %d, want %d", e.successes(), len(samples))
	}
}

// near reports whether a and b are within a microsecond: durations that went through a float
// of milliseconds, or a product of floats.
func near(a, b time.Duration) bool { return (a - b).Abs() < time.Microsecond }

// fromMS is a snapshot's milliseconds as a duration.
func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// silentCall hangs until its deadline, like a call into a partition, and counts its calls.
func silentCall(calls *atomic.Int64) Call {
	return func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

// okCall answers at once.
func okCall(context.Context) ([]byte, error) { return []byte(`{}`), nil }

// lines are the messages of the three kinds of line this file checks the order of.
func lines(t *testing.T, logs *logBuffer) []string {
	var out []string
	for _, m := range logs.messages(t) {
		for _, p := range []string{"Backend call #", "CircuitBreaker ", "Fallback response", "Retry "} {
			if strings.HasPrefix(m, p) {
				out = append(out, m)
			}
		}
	}
	return out
}

// TestColdStartOpensOnSilence: a fresh pipeline that has seen three good calls meets a backend
// gone silent. The first silent attempt, cut at the cold timeout, opens the breaker by itself
// (the window of 100 calls is far from judging): the request gets the fallback after that one
// attempt, without a retry, and the first probe goes at the opening (PROBE_INTERVAL is an hour,
// so no other probe can be it).
func TestColdStartOpensOnSilence(t *testing.T) {
	cfg := coldConfig()
	cfg.Adaptive.ProbeInterval = time.Hour
	var probes atomic.Int64
	p, logs := newAdaptivePipeline(t, cfg, func(ctx context.Context) error {
		probes.Add(1)
		<-ctx.Done() // the probe hangs in the partition too
		return ctx.Err()
	})
	for range 3 {
		if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
			t.Fatalf("healthy call: %+v", out)
		}
	}
	s := p.Snapshot().Adaptive
	limit, slowest := fromMS(s.AttemptTimeoutMs), fromMS(s.P999Ms)
	if want := coldWant([]time.Duration{slowest, 0, 0}, cfg.Adaptive, cfg.AttemptTimeout); !s.Cold || s.Samples != 3 || !near(limit, want) {
		t.Fatalf("after 3 good calls: %+v; want cold, with the cold estimate of 3 calls whose slowest took %v: %v", s, slowest, want)
	}

	var calls atomic.Int64
	out := p.Execute(context.Background(), silentCall(&calls))
	if out.Source != SourceFallback || out.Attempts != 1 || calls.Load() != 1 || out.State != StateOpen {
		t.Fatalf("silent backend: %+v after %d calls; want the fallback after exactly 1 call, breaker OPEN", out, calls.Load())
	}
	if !errors.Is(out.Err, ErrAttemptTimeout) || !strings.Contains(out.Err.Error(), "adaptive timeout while cold") ||
		!strings.Contains(out.Err.Error(), fmt.Sprintf("after %s", limit)) {
		t.Errorf("error %q, want the cold attempt timeout of %s", out.Err, limit)
	}
	if got, want := lines(t, logs)[3:], []string{
		"Backend call #1: failure",
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		"Fallback response due to error: " + out.Err.Error(),
	}; !slices.Equal(got, want) {
		t.Errorf("after the good calls the log says\n%q\nwant\n%q", got, want)
	}
	if n := p.Snapshot().Adaptive.ColdOpenings; n != 1 {
		t.Errorf("coldOpenings %d, want 1", n)
	}
	testutil.WaitFor(t, 2*time.Second, "the probe at the opening", func() bool { return probes.Load() == 1 })
}

// TestColdStartNoSilenceNoTrip: while cold, failures that are not a silent call alone with no
// success meanwhile do not open the breaker by themselves: an answer cut while its body was
// read, an error answer, a call cut by the request deadline, a silent call while another call
// succeeded, and a silent call once warm. Each request is retried and answered by the backend.
func TestColdStartNoSilenceNoTrip(t *testing.T) {
	slowBody := func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %w", ErrReadingBody, ctx.Err())
	}
	failing := func(context.Context) ([]byte, error) { return nil, &StatusError{Code: 503} }
	tests := []struct {
		name  string
		tweak func(*Config)
		first func(p *Pipeline) Call // the first attempt; the retry answers
	}{
		{"body cut", nil, func(*Pipeline) Call { return slowBody }},
		{"503", nil, func(*Pipeline) Call { return failing }},
		{"request deadline", func(c *Config) {
			c.RequestTimeout, c.Adaptive.TimeoutFloor, c.MaxRetries = 40*time.Millisecond, 100*time.Millisecond, 0
		},
			func(*Pipeline) Call { return silentCall(new(atomic.Int64)) }},
		{"another call succeeded meanwhile", func(c *Config) { c.Adaptive.TimeoutFloor = 300 * time.Millisecond },
			func(p *Pipeline) Call {
				return func(ctx context.Context) ([]byte, error) {
					if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
						return nil, fmt.Errorf("the other call: %+v", out)
					}
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}},
		{"warm", func(c *Config) { c.Adaptive.TimeoutWindow = 10 }, func(*Pipeline) Call { return silentCall(new(atomic.Int64)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := coldConfig()
			cfg.MaxRetries = 1
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			p, _ := newAdaptivePipeline(t, cfg, func(context.Context) error { return nil })
			if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
				t.Fatalf("healthy call: %+v", out)
			}
			first := tt.first(p)
			var n atomic.Int64
			out := p.Execute(context.Background(), func(ctx context.Context) ([]byte, error) {
				if n.Add(1) == 1 {
					return first(ctx)
				}
				return okCall(ctx)
			})
			if p.State() != StateClosed || p.Snapshot().Adaptive.ColdOpenings != 0 {
				t.Fatalf("state %s, %d cold openings after %+v; want CLOSED, none", p.State(), p.Snapshot().Adaptive.ColdOpenings, out)
			}
			if cfg.MaxRetries > 0 && (out.Source != SourceBackend || out.Attempts != 2) {
				t.Errorf("outcome %+v, want the backend's answer to the retry", out)
			}
		})
	}
}

// TestColdStartFalseOpeningUndone: one silent call while cold, on a backend that is in fact
// there, opens the breaker; the probe at the opening finds the backend ready at once (no
// PROBE_INTERVAL, which is an hour here), and the HALF_OPEN trials close it again.
func TestColdStartFalseOpeningUndone(t *testing.T) {
	cfg := coldConfig()
	cfg.Adaptive.ProbeInterval = time.Hour
	// the trials answer at once: a floor well above a loaded machine's stalls keeps their
	// timeout from cutting them (with 20 ms, a -race run on a busy machine cut one)
	cfg.Adaptive.TimeoutFloor = 500 * time.Millisecond
	p, logs := newAdaptivePipeline(t, cfg, func(context.Context) error { return nil })
	p.Execute(context.Background(), okCall)
	if out := p.Execute(context.Background(), silentCall(new(atomic.Int64))); out.Source != SourceFallback {
		t.Fatalf("silent call: %+v, want the fallback", out)
	}
	testutil.WaitFor(t, 2*time.Second, "HALF_OPEN after the probe at the opening", func() bool { return p.State() == StateHalfOpen })
	for range cfg.HalfOpenCalls {
		if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
			t.Fatalf("trial: %+v", out)
		}
	}
	// The probe at the opening may finish before the breaker has recorded the silent call that
	// opened it; that failure then lands in HALF_OPEN and reopens it once, and the next probe at
	// the opening undoes it again. Either way it ends CLOSED after its trials.
	once := []string{
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN",
		"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"}
	twice := slices.Insert(slices.Clone(once), 2,
		"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> OPEN",
		"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN")
	if got := stateLines(logs.messages(t)); !slices.Equal(got, once) && !slices.Equal(got, twice) {
		t.Errorf("state changes %q", got)
	}
}

// delayedCall answers after d, or fails when its deadline comes first; cut counts those.
func delayedCall(d time.Duration, cut *atomic.Int64) Call {
	return func(ctx context.Context) ([]byte, error) {
		if d == 0 {
			return []byte(`{}`), nil
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return []byte(`{}`), nil
		case <-ctx.Done():
			cut.Add(1)
			return nil, ctx.Err()
		}
	}
}

// TestColdStartNoFalseTimeouts: healthy backends whose latency changes do not get a call cut,
// counted by the calls themselves and by the pipeline. Cold: the first calls are slow (40 ms),
// then fast with a 35 ms call every tenth; a timeout learned from the fast calls alone would be
// the 30 ms floor, and cut those. Warm: slow for 20 calls (the window is warm after 10), then
// fast again with the same tail, past the moment the slow calls leave the window of 100.
func TestColdStartNoFalseTimeouts(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name         string
		window       int
		slow, calls  int
		coldAtTheEnd bool
	}{
		{"cold: slow first calls, then fast", 1000, 5, 95, true},
		{"warm: slow, then fast again", 100, 20, 140, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := coldConfig()
			cfg.Adaptive.TimeoutWindow, cfg.Adaptive.TimeoutFloor = tt.window, 30*ms
			p, _ := newAdaptivePipeline(t, cfg, func(context.Context) error { return nil })
			var cut atomic.Int64
			for i := range tt.calls {
				d := time.Duration(0)
				switch {
				case i < tt.slow:
					d = 40 * ms
				case i%10 == 9:
					d = 35 * ms
				}
				if out := p.Execute(context.Background(), delayedCall(d, &cut)); out.Source != SourceBackend || out.Attempts != 1 {
					t.Fatalf("call %d (%v): %+v, want the backend's answer at the first attempt", i+1, d, out)
				}
			}
			s := p.Snapshot()
			if n := cut.Load(); n != 0 || s.Retry.SuccessfulWithRetry+s.Retry.FailedWithRetry+s.Retry.FailedWithoutRetry != 0 {
				t.Errorf("%d calls cut by their timeout (retry counters %+v), want none", n, s.Retry)
			}
			if s.Retry.SuccessfulWithoutRetry != int64(tt.calls) || s.Adaptive.Cold != tt.coldAtTheEnd {
				t.Errorf("snapshot %+v, %+v: want %d successes at the first try, cold %v", s.Retry, s.Adaptive, tt.calls, tt.coldAtTheEnd)
			}
		})
	}
}
