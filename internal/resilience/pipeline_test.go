package resilience

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

func TestRetryScheduleGrows(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig() // 10ms, x2, no jitter, 3 retries
	p, logs, _ := newTestPipeline(t, cfg)

	out := p.Execute(context.Background(), f.call)

	if out.Source != SourceFallback || out.Attempts != 4 {
		t.Fatalf("outcome = %s after %d attempts, want fallback after 4", out.Source, out.Attempts)
	}
	times := f.arrivals()
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	for i, w := range want {
		gap := times[i+1].Sub(times[i])
		if gap < w || gap > w+60*time.Millisecond {
			t.Errorf("gap before retry #%d = %v, want about %v", i+1, gap, w)
		}
	}
	var waits []time.Duration
	for _, r := range logs.records(t) {
		if w, ok := r["wait"].(float64); ok {
			waits = append(waits, time.Duration(w))
		}
	}
	if len(waits) != 3 || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("logged waits = %v, want %v", waits, want)
	}
}

func TestBackoffWait(t *testing.T) {
	cfg := Config{InitialBackoff: time.Second, Multiplier: 2, MaxBackoff: 16 * time.Second,
		AttemptTimeout: time.Second, RequestTimeout: time.Hour}
	tests := []struct {
		name    string
		jitter  float64
		retry   int
		elapsed time.Duration
		request time.Duration
		lo, hi  time.Duration
	}{
		{"retry 1 is the initial backoff", 0, 1, 0, time.Hour, time.Second, time.Second},
		{"retry 3 doubles twice", 0, 3, 0, time.Hour, 4 * time.Second, 4 * time.Second},
		{"retry 5 is 16s", 0, 5, 0, time.Hour, 16 * time.Second, 16 * time.Second},
		{"retry 6 is capped", 0, 6, 0, time.Hour, 16 * time.Second, 16 * time.Second},
		{"jitter stays within ±50%", 0.5, 2, 0, time.Hour, time.Second, 3 * time.Second},
		{"cut to leave one attempt before the deadline", 0, 4, 10 * time.Second, 15 * time.Second, 4 * time.Second, 4 * time.Second},
		{"no wait when less than one attempt is left", 0, 4, 14500 * time.Millisecond, 15 * time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Jitter, c.RequestTimeout = tt.jitter, tt.request
			b := &backoff{cfg: c, rnd: newRand(1)}
			for range 200 {
				if w := b.wait(tt.retry, tt.elapsed); w < tt.lo || w > tt.hi {
					t.Fatalf("wait = %v, want within [%v, %v]", w, tt.lo, tt.hi)
				}
			}
		})
	}
}

func TestWhatIsRetried(t *testing.T) {
	tests := []struct {
		name         string
		mode         int32
		wantAttempts int
	}{
		{"5xx is retried", modeFail, 4},
		{"429 is retried", mode429, 4},
		{"404 is not retried", mode404, 1},
		{"success needs one attempt", modeOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(tt.mode)
			p, _, _ := newTestPipeline(t, testConfig())
			out := p.Execute(context.Background(), f.call)
			if out.Attempts != tt.wantAttempts || f.calls.Load() != int64(tt.wantAttempts) {
				t.Errorf("attempts = %d, backend calls = %d, want %d", out.Attempts, f.calls.Load(), tt.wantAttempts)
			}
		})
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, _, _ := newTestPipeline(t, testConfig())
	out := p.Execute(context.Background(), func(ctx context.Context) ([]byte, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return nil, err
	})
	if out.Source != SourceFallback || out.Attempts != 4 {
		t.Errorf("outcome = %s after %d attempts, want fallback after 4", out.Source, out.Attempts)
	}
}

func TestBreakerOpensAtThreshold(t *testing.T) {
	tests := []struct {
		name     string
		outcomes string // s = success, f = failure, in order
		wantOpen int    // 1-based call after which the breaker is OPEN; 0 = never
	}{
		{"below the minimum calls nothing is judged", "ffff", 0},
		{"opens at the minimum calls when the rate is reached", "ssfff", 5},
		{"stays closed below the rate", "sssff", 0},
		{"rate counted over the whole window", "sssffssff", 0},
		{"the window slides: old successes leave", "ssssssffffff", 11},
		{"opens at exactly the threshold", "sfsfsf", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			cfg := testConfig()
			cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.FailureRateThreshold = 0, 10, 5, 50
			p, _, _ := newTestPipeline(t, cfg)
			opened := 0
			for i, o := range tt.outcomes {
				f.mode.Store(map[rune]int32{'s': modeOK, 'f': modeFail}[o])
				p.Execute(context.Background(), f.call)
				if p.State() == StateOpen {
					opened = i + 1
					break
				}
			}
			if opened != tt.wantOpen {
				t.Errorf("breaker opened after call %d, want %d", opened, tt.wantOpen)
			}
		})
	}
}

func TestOpenBreakerFallsBackWithoutCalling(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls = 2, 2
	p, _, _ := newTestPipeline(t, cfg)
	first := p.Execute(context.Background(), f.call)
	if first.State != StateOpen || first.Attempts != 2 {
		t.Fatalf("first request: state %s after %d attempts, want OPEN after 2 (no retry the breaker would reject)", first.State, first.Attempts)
	}
	before := f.calls.Load()
	start := time.Now()
	out := p.Execute(context.Background(), f.call)
	if el := time.Since(start); el > 10*time.Millisecond {
		t.Errorf("fallback took %v, want under 10ms", el)
	}
	if out.Source != SourceFallback || out.Attempts != 0 || !errors.Is(out.Err, ErrBreakerOpen) {
		t.Errorf("outcome = %+v, want fallback, 0 attempts, ErrBreakerOpen", out)
	}
	if f.calls.Load() != before {
		t.Errorf("backend was called %d times while OPEN", f.calls.Load()-before)
	}
	if s := p.Snapshot().CircuitBreaker; s.NotPermittedCalls != 1 {
		t.Errorf("not permitted calls = %d, want 1", s.NotPermittedCalls)
	}
}

func TestHalfOpenTrials(t *testing.T) {
	tests := []struct {
		name      string
		healed    bool
		wantState State
		wantLogs  []string
	}{
		{"trials succeed: CLOSED", true, StateClosed, []string{
			"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
			"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN",
			"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"}},
		{"a trial fails: OPEN again", false, StateOpen, []string{
			"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
			"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN",
			"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> OPEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(modeFail)
			cfg := testConfig()
			cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration = 0, 2, 2, 50*time.Millisecond
			p, logs, _ := newTestPipeline(t, cfg)
			p.Execute(context.Background(), f.call)
			p.Execute(context.Background(), f.call)
			if p.State() != StateOpen {
				t.Fatalf("state = %s, want OPEN", p.State())
			}
			testutil.WaitFor(t, time.Second, "HALF_OPEN once the wait is over", func() bool { return p.State() == StateHalfOpen })
			if n := countPrefix(logs.messages(t), "CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN"); n != 1 {
				t.Errorf("OPEN -> HALF_OPEN logged %d times before any call, want once, when the wait ended", n)
			}
			if tt.healed {
				f.mode.Store(modeOK)
			}
			for range cfg.HalfOpenCalls {
				out := p.Execute(context.Background(), f.call)
				if out.Attempts != 1 {
					t.Fatalf("trial call made %d attempts, want 1", out.Attempts)
				}
				if p.State() != StateHalfOpen {
					break
				}
			}
			if p.State() != tt.wantState {
				t.Errorf("state = %s, want %s", p.State(), tt.wantState)
			}
			if got := stateLines(logs.messages(t)); !slices.Equal(got, tt.wantLogs) {
				t.Errorf("state changes logged = %q, want %q", got, tt.wantLogs)
			}
		})
	}
}

func TestRequestDeadlineIsNeverExceeded(t *testing.T) {
	tests := []struct {
		name    string
		attempt time.Duration
		request time.Duration
	}{
		{"attempts shorter than the deadline", 50 * time.Millisecond, 200 * time.Millisecond},
		{"one attempt longer than what is left", 80 * time.Millisecond, 150 * time.Millisecond},
		{"attempt as long as the request", 120 * time.Millisecond, 120 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(modeHang)
			cfg := testConfig()
			cfg.AttemptTimeout, cfg.RequestTimeout, cfg.MaxRetries = tt.attempt, tt.request, 5
			p, _, _ := newTestPipeline(t, cfg)
			start := time.Now()
			out := p.Execute(context.Background(), f.call)
			el := time.Since(start)
			if out.Source != SourceFallback {
				t.Errorf("source = %s, want fallback", out.Source)
			}
			if el > tt.request+40*time.Millisecond {
				t.Errorf("request took %v, deadline %v", el, tt.request)
			}
		})
	}
}

func TestCancelledCallerIsNotAFailure(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeHang)
	p, _, _ := newTestPipeline(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		testutil.WaitFor(t, time.Second, "the backend call", func() bool { return f.calls.Load() > 0 })
		cancel()
	}()
	out := p.Execute(ctx, f.call)
	if out.Source != SourceError || !errors.Is(out.Err, context.Canceled) || out.Attempts != 1 {
		t.Errorf("outcome = %+v, want error source, context.Canceled, 1 attempt", out)
	}
	if s := p.Snapshot().CircuitBreaker; s.FailedCalls != 0 {
		t.Errorf("breaker counted %d failed calls for a cancelled caller", s.FailedCalls)
	}
}

func TestBaselineMakesOneAttempt(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.Enabled = false
	p, logs, reg := newTestPipeline(t, cfg)
	for range 10 {
		out := p.Execute(context.Background(), f.call)
		if out.Source != SourceError || out.Attempts != 1 || out.State != StateDisabled {
			t.Fatalf("outcome = %+v, want error after 1 attempt, DISABLED", out)
		}
	}
	if f.calls.Load() != 10 {
		t.Errorf("backend calls = %d, want 10", f.calls.Load())
	}
	for _, e := range logs.events(t) { // no retry, breaker or fallback: one record per call
		if e.Kind != results.KindAttempt || e.Attempt != 1 || e.Outcome != results.OutcomeFailure {
			t.Errorf("baseline logged %+v, want only failed attempt #1 records", e)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := find(families, "resilience4j_circuitbreaker_calls_seconds", map[string]string{"kind": "failed"}); n != 0 {
		t.Errorf("baseline counted %v breaker calls; it has no breaker", n)
	}
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func stateLines(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "CircuitBreaker ") {
			out = append(out, m)
		}
	}
	return out
}
