package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// silenceConfig is adaptiveConfig warm after 10 good calls, with a floor of floor (so the
// attempt timeout of fast calls is floor and the silence rule judges at floor/2), no retry,
// and neither the breaker's window (100 calls) nor a probe interval (an hour) nor its wait
// that could act within a test: only the silence rule opens, and only the probe at the
// opening probes.
func silenceConfig(floor time.Duration) Config {
	c := adaptiveConfig()
	c.Adaptive.TimeoutWindow, c.Adaptive.TimeoutFloor = 100, floor
	c.Adaptive.ProbeInterval, c.WaitDuration, c.MaxRetries = time.Hour, time.Hour, 0
	return c
}

// warmUp makes the 10 good calls that warm a silenceConfig pipeline and checks its timeout is
// the floor.
func warmUp(t *testing.T, p *Pipeline, floor time.Duration) {
	t.Helper()
	for range 10 {
		if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
			t.Fatalf("healthy call: %+v", out)
		}
	}
	if s := p.Snapshot().Adaptive; s.Cold || fromMS(s.AttemptTimeoutMs) != floor {
		t.Fatalf("after the warm-up: %+v, want warm with the floor %v", s, floor)
	}
}

// hangingProbe hangs until its deadline, as in a partition, and counts its probes.
func hangingProbe(probes *atomic.Int64) Probe {
	return func(ctx context.Context) error {
		probes.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
}

// TestSilenceOpensOnThreeSilentCalls: warm, with an attempt timeout of 400 ms. Two requests go
// into a silent backend together: each is cut at its timeout and gets the fallback, and the
// breaker stays CLOSED (two silent calls are not enough). A good call ends that streak. Three
// requests then go in together: the breaker opens half a timeout after the first began, while
// all three calls are still waiting (none is cut early: each still ends at its own timeout),
// the next request gets the fallback without a call, and the first probe goes at the opening.
func TestSilenceOpensOnThreeSilentCalls(t *testing.T) {
	const floor = 400 * time.Millisecond
	var probes atomic.Int64
	p, logs := newAdaptivePipeline(t, silenceConfig(floor), hangingProbe(&probes))
	warmUp(t, p, floor)

	silentTogether := func(n int) (outs []Outcome, took []time.Duration, calls int64) {
		var wg sync.WaitGroup
		var count atomic.Int64
		outs, took = make([]Outcome, n), make([]time.Duration, n)
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				outs[i] = p.Execute(context.Background(), silentCall(&count))
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		return outs, took, count.Load()
	}
	outs, took, calls := silentTogether(2)
	for _, out := range outs {
		if out.Source != SourceFallback || !errors.Is(out.Err, ErrAttemptTimeout) || out.Attempts != 1 {
			t.Fatalf("silent request: %+v, want the fallback after its one call timed out", out)
		}
	}
	if p.State() != StateClosed || p.adaptive.silenceOpenings.Load() != 0 || calls != 2 {
		t.Fatalf("after 2 silent calls: %s, %d silence openings, %d calls; want CLOSED, none, 2", p.State(), p.adaptive.silenceOpenings.Load(), calls)
	}
	if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
		t.Fatalf("healthy call: %+v", out)
	}

	outs, took, calls = silentTogether(3)
	if p.State() != StateOpen || p.adaptive.silenceOpenings.Load() != 1 || calls != 3 {
		t.Fatalf("after 3 silent calls: %s, %d silence openings, %d calls; want OPEN, 1, 3", p.State(), p.adaptive.silenceOpenings.Load(), calls)
	}
	for i, out := range outs {
		if out.Source != SourceFallback || !errors.Is(out.Err, ErrAttemptTimeout) || out.Attempts != 1 || took[i] < floor {
			t.Errorf("silent request %d: %+v after %v; want the fallback once its call timed out at %v, not before", i+1, out, took[i], floor)
		}
	}
	if out := p.Execute(context.Background(), okCall); out.Source != SourceFallback || out.Attempts != 0 || !errors.Is(out.Err, ErrBreakerOpen) {
		t.Errorf("request after the opening: %+v, want the fallback at once, no call", out)
	}
	testutil.WaitFor(t, 2*time.Second, "the probe at the opening", func() bool { return probes.Load() == 1 })
	// The opening came before the calls were cut: in the log it precedes every attempt record
	// of the three.
	var order []string
	for _, m := range logs.messages(t) {
		if strings.HasPrefix(m, "Backend call #") || strings.HasPrefix(m, "CircuitBreaker ") {
			order = append(order, m)
		}
	}
	order = order[10:] // the warm-up's calls
	if want := "CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN"; len(order) < 6 || order[3] != want {
		t.Errorf("records after the warm-up: %q; want the opening after the 2 silent calls and the good one, before the 3 silent calls end", order)
	}
}

// TestSilenceNeedsNoAnswer: requests one after the other, each call lasting longer than the
// rule's half timeout. Silent calls open the breaker as the third begins; calls that end with
// any answer (an error status, a reset connection, a body cut while read) never do, however
// many: each answer ends the streak.
func TestSilenceNeedsNoAnswer(t *testing.T) {
	const floor = 60 * time.Millisecond
	after := func(d time.Duration, err func(ctx context.Context) error) Call {
		return func(ctx context.Context) ([]byte, error) {
			select {
			case <-time.After(d):
				return nil, err(ctx)
			case <-ctx.Done():
				return nil, err(ctx)
			}
		}
	}
	ansAfter := func(err error) Call {
		return after(floor/2+10*time.Millisecond, func(context.Context) error { return err })
	}
	tests := []struct {
		name  string
		call  Call
		opens bool
	}{
		{"silent", silentCall(new(atomic.Int64)), true},
		{"503", ansAfter(&StatusError{Code: 503}), false},
		{"connection reset", ansAfter(errors.New("read: connection reset by peer")), false},
		{"body cut", after(time.Hour, func(ctx context.Context) error { return fmt.Errorf("%w: %w", ErrReadingBody, ctx.Err()) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes atomic.Int64
			p, _ := newAdaptivePipeline(t, silenceConfig(floor), hangingProbe(&probes))
			warmUp(t, p, floor)
			for i := range 5 {
				out := p.Execute(context.Background(), tt.call)
				wantCall := !tt.opens || i < 3
				if out.Source != SourceFallback || (out.Attempts == 1) != wantCall {
					t.Fatalf("request %d: %+v; want the fallback, after a call: %v", i+1, out, wantCall)
				}
			}
			want, wantOpenings := StateClosed, int64(0)
			if tt.opens {
				want, wantOpenings = StateOpen, 1
			}
			if p.State() != want || p.adaptive.silenceOpenings.Load() != wantOpenings {
				t.Errorf("after 5 requests: %s, %d silence openings; want %s, %d", p.State(), p.adaptive.silenceOpenings.Load(), want, wantOpenings)
			}
		})
	}
}

// jitteryBackend answers /api/data after a latency drawn by its latency function for the
// n-th request, and counts the requests it received and those whose caller went away before
// the answer (cut): the backend's own count of calls and of calls cut by a timeout.
type jitteryBackend struct {
	srv           *httptest.Server
	received, cut atomic.Int64
}

func newJitteryBackend(t *testing.T, latency func(n int64) time.Duration) *jitteryBackend {
	b := &jitteryBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/data" { // a probe
			return
		}
		d := latency(b.received.Add(1))
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			w.Write([]byte(`{}`))
		case <-r.Context().Done():
			b.cut.Add(1)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// productionConfig is the adaptive profile with the client's defaults (ATTEMPT_TIMEOUT 1s, a
// 50 ms floor, × 3, a window of 1000 calls, the cold start with a margin of 10, probes every
// 100 ms, 5 retries 0-25 ms apart, the breaker's window of 10 at 50 %).
func productionConfig() Config {
	return Config{Enabled: true, AttemptTimeout: time.Second, RequestTimeout: 15 * time.Second,
		MaxRetries: 5, SlidingWindow: 10, MinimumCalls: 5, FailureRateThreshold: 50,
		WaitDuration: 10 * time.Second, HalfOpenCalls: 3,
		Adaptive: Adaptive{Enabled: true, TimeoutFloor: 50 * time.Millisecond, TimeoutFactor: 3, TimeoutWindow: 1000,
			ColdStart: true, ColdMargin: 10, ProbeInterval: 100 * time.Millisecond, BudgetPercent: 20, BudgetMin: 3,
			RetryBackoff: 25 * time.Millisecond, RetryMaxBackoff: 250 * time.Millisecond}}
}

// TestSilenceNoFalseTimeoutsUnderJitter: a hand-made open-loop run at 500 requests/s from a
// cold start, with the client's defaults, against healthy backends whose latency jitters (5 ms
// + exponential of mean 5 ms) or is slow (40-60 ms) for the first 300 calls and then fast (1 ms
// + exponential of mean 1 ms). Counted from the pipeline's attempt records and checked against
// the backend's own count of the requests it received: at most 0.1 % of the calls time out,
// the breaker never opens (by the silence rule, the cold rule or the window), every other
// request is answered by the backend. A machine that stalls the test process for longer than
// the floor (a heartbeat every 5 ms comes 50 ms late) cuts calls whatever the rule: such a run
// is made again, up to three times, and the test is skipped, saying so, if every run stalled.
func TestSilenceNoFalseTimeoutsUnderJitter(t *testing.T) {
	ms := float64(time.Millisecond)
	tests := []struct {
		name    string
		latency func(rnd *rand.Rand, n int64) time.Duration
	}{
		{"jitter", func(rnd *rand.Rand, _ int64) time.Duration { return time.Duration(5*ms + rnd.ExpFloat64()*5*ms) }},
		{"slow then fast", func(rnd *rand.Rand, n int64) time.Duration {
			if n <= 300 {
				return time.Duration(40*ms + rnd.Float64()*20*ms)
			}
			return time.Duration(ms + rnd.ExpFloat64()*ms)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stalls []time.Duration
			for range 3 {
				r := jitterRun(t, tt.latency)
				if r.stall < 50*time.Millisecond {
					r.check(t)
					return
				}
				stalls = append(stalls, r.stall)
				t.Logf("the machine stalled the test for %v: %s", r.stall, r)
			}
			t.Skipf("the machine stalled every run (%v): the test needs a process that runs within 50 ms of its schedule", stalls)
		})
	}
}

// jitterResult is one hand-made run's counts.
type jitterResult struct {
	requests, calls, timedOut, fromBackend int
	received, cut                          int64         // the backend's own counts
	stall                                  time.Duration // the longest a 5 ms heartbeat was late
	silenceOpenings, coldOpenings          int64
	state                                  State
	moves                                  []string
}

// jitterRun sends 1000 requests at 500 requests/s through a fresh pipeline with the client's
// defaults to a backend with the given latency.
func jitterRun(t *testing.T, latency func(rnd *rand.Rand, n int64) time.Duration) jitterResult {
	const requests, interval = 1000, 2 * time.Millisecond
	var mu sync.Mutex
	rnd := newRand(7)
	be := newJitteryBackend(t, func(n int64) time.Duration { mu.Lock(); defer mu.Unlock(); return latency(rnd, n) })
	p, logs := newAdaptivePipeline(t, productionConfig(), func(ctx context.Context) error {
		_, err := getCall(ctx, be.srv, "/healthz", nil)
		return err
	})
	defer p.Close()
	call := func(ctx context.Context) ([]byte, error) { return getCall(ctx, be.srv, "/api/data", nil) }

	beat := make(chan time.Duration, 1)
	done := make(chan struct{})
	go func() { beat <- heartbeat(done, 5*time.Millisecond) }()
	outs := make([]Outcome, requests)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range requests {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval))) // the open loop's schedule
		wg.Go(func() { outs[i] = p.Execute(context.Background(), call) })
	}
	wg.Wait()
	close(done)

	r := jitterResult{requests: requests, stall: <-beat, received: be.received.Load(), cut: be.cut.Load(),
		silenceOpenings: p.adaptive.silenceOpenings.Load(), coldOpenings: p.Snapshot().Adaptive.ColdOpenings,
		state: p.State(), moves: stateLines(logs.messages(t))}
	for line := range strings.Lines(logs.String()) {
		e, ok := results.DecodeLogLine([]byte(line))
		if !ok || e.Kind != results.KindAttempt {
			continue
		}
		r.calls++
		if e.Outcome == results.OutcomeFailure && (strings.Contains(e.Error, ErrAttemptTimeout.Error()) || strings.Contains(e.Error, ErrRequestTimeout.Error())) {
			r.timedOut++
		}
	}
	for _, out := range outs {
		if out.Source == SourceBackend {
			r.fromBackend++
		}
	}
	return r
}

// heartbeat ticks every d until done and returns the longest any tick came late.
func heartbeat(done <-chan struct{}, d time.Duration) time.Duration {
	var worst time.Duration
	next := time.Now().Add(d)
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case <-done:
			return worst
		case now := <-tm.C:
			worst = max(worst, now.Sub(next))
			next = now.Add(d)
			tm.Reset(d)
		}
	}
}

func (r jitterResult) String() string {
	return fmt.Sprintf("%d requests, %d calls (the backend received %d), %d timed out (the backend saw %d cut), %d answered by the backend; "+
		"%d silence and %d cold openings, %s at the end",
		r.requests, r.calls, r.received, r.timedOut, r.cut, r.fromBackend, r.silenceOpenings, r.coldOpenings, r.state)
}

// check asserts what a run without a stall must show.
func (r jitterResult) check(t *testing.T) {
	t.Helper()
	t.Log(r)
	if int64(r.calls) != r.received {
		t.Errorf("the pipeline counts %d calls, the backend received %d", r.calls, r.received)
	}
	if 1000*r.timedOut > r.calls {
		t.Errorf("%d of %d healthy calls timed out, want at most 0.1 %%", r.timedOut, r.calls)
	}
	if r.silenceOpenings+r.coldOpenings != 0 || r.state != StateClosed || len(r.moves) != 0 {
		t.Errorf("the breaker moved: %s: %q", r, r.moves)
	}
	if r.fromBackend < r.requests-r.timedOut {
		t.Errorf("%d of %d answers from the backend", r.fromBackend, r.requests)
	}
}

// TestSilenceLateJudgement: a judgement that comes late (the process stood still: answers may
// wait unread) opens nothing and is made again a quarter of the half timeout later; an answer
// read meanwhile ends the streak, and without one the judgement on time opens.
func TestSilenceLateJudgement(t *testing.T) {
	const limit = 200 * time.Millisecond // the rule judges at 100 ms, late beyond 25 ms
	for _, answered := range []bool{true, false} {
		t.Run(fmt.Sprintf("answered=%v", answered), func(t *testing.T) {
			s := newSilence()
			defer s.stop()
			var trips atomic.Int64
			s.bind(func(uint64) { trips.Add(1) })
			for range silentCalls {
				s.begin(1, limit)
			}
			s.mu.Lock()
			s.timer.Stop()
			s.at = time.Now().Add(-limit/2/4 - 10*time.Millisecond) // as if the timer fired 35 ms late
			s.mu.Unlock()
			s.judgeLater()
			s.mu.Lock()
			late, calls := s.late, s.calls
			s.mu.Unlock()
			if trips.Load() != 0 || late != 1 || calls != silentCalls {
				t.Fatalf("late judgement: %d trips, %d put off, streak of %d; want none, 1, %d", trips.Load(), late, calls, silentCalls)
			}
			if answered {
				s.end(results.OutcomeSuccess, nil)
				time.Sleep(limit) // twice the judgement's delay: a trip would have come (asserting an absence)
				if trips.Load() != 0 {
					t.Errorf("an answer read after the late judgement: %d trips, want none", trips.Load())
				}
				return
			}
			testutil.WaitFor(t, 2*time.Second, "the judgement made again on time", func() bool { return trips.Load() == 1 })
		})
	}
}

// TestSilenceFalseOpeningUndoneByAnAnswer: three calls to a slow backend wait longer than half
// their timeout of 400 ms, until the rule has opened the breaker; the calls still run, and the
// first to answer moves it to HALF_OPEN (the probe at the opening hangs, so only the answer can);
// the three requests get the backend's answers, and the HALF_OPEN trials close it.
func TestSilenceFalseOpeningUndoneByAnAnswer(t *testing.T) {
	const floor = 400 * time.Millisecond
	var probes atomic.Int64
	p, logs := newAdaptivePipeline(t, silenceConfig(floor), hangingProbe(&probes))
	warmUp(t, p, floor)
	release := make(chan struct{})
	slow := func(ctx context.Context) ([]byte, error) {
		select {
		case <-release:
			return []byte(`{}`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var wg sync.WaitGroup
	outs := make([]Outcome, silentCalls)
	for i := range silentCalls {
		wg.Go(func() { outs[i] = p.Execute(context.Background(), slow) })
	}
	testutil.WaitFor(t, 2*time.Second, "the silence rule's opening", func() bool { return p.State() == StateOpen })
	close(release)
	wg.Wait()
	for i, out := range outs {
		if out.Source != SourceBackend || out.Attempts != 1 {
			t.Errorf("slow request %d: %+v, want the backend's answer at its one call", i+1, out)
		}
	}
	testutil.WaitFor(t, 2*time.Second, "HALF_OPEN after the first answer", func() bool { return p.State() == StateHalfOpen })
	if n := p.adaptive.silenceOpenings.Load(); n != 1 {
		t.Errorf("%d silence openings, want 1", n)
	}
	for range p.cfg.HalfOpenCalls {
		if out := p.Execute(context.Background(), okCall); out.Source != SourceBackend {
			t.Fatalf("trial: %+v", out)
		}
	}
	if got, want := stateLines(logs.messages(t)), []string{
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		"CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN",
		"CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"}; !slices.Equal(got, want) {
		t.Errorf("state changes %q, want %q", got, want)
	}
	if s := p.Snapshot().Adaptive; s.ProbesSucceeded != 0 {
		t.Errorf("%d good probes: the answer, not a probe, was to undo the opening", s.ProbesSucceeded)
	}
}
