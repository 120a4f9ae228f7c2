package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/budget"

	"chaoslab/internal/results"
)

// ErrRetryBudget is the error of a request whose retry the budget refused (RESILIENCE=adaptive).
var ErrRetryBudget = errors.New("retry budget exceeded")

// Probe asks the backend whether it is ready, over a fresh connection; nil means ready. It must
// stop when ctx is done.
type Probe func(ctx context.Context) error

// adaptive holds the adaptive profile's parts of a Pipeline.
type adaptive struct {
	cfg       Adaptive
	timeout   *timeoutEstimator
	probe     Probe
	budget    budget.Budget
	errBudget error // ErrRetryBudget, with the budget's terms

	coldOpenings atomic.Int64 // openings by a silent call while cold (Adaptive.ColdStart)

	silence         *silence      // opens the breaker on silentCalls unanswered calls in a row (adaptive_silence.go)
	bind            sync.Once     // gives silence the pipeline's breaker, at the first attempt
	silenceOpenings atomic.Int64  // openings by the silence rule
	silenceGen      atomic.Uint64 // the OPEN generation the silence rule opened last; 0 once it is left
	probeNow        atomic.Bool   // the opening under way is the silence rule's: probe at once

	ctx    context.Context // cancelled by Close: probes stop
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	work   sync.WaitGroup // probe loops and probes in flight
}

func newAdaptive(cfg Config, probe Probe, onExceeded func(budget.ExceededEvent)) *adaptive {
	a := &adaptive{cfg: cfg.Adaptive, timeout: newTimeoutEstimator(cfg.Adaptive, cfg.AttemptTimeout), probe: probe,
		budget: budget.NewBuilder().WithMaxRate(cfg.Adaptive.BudgetPercent / 100).
			WithMinConcurrency(uint(cfg.Adaptive.BudgetMin)).OnBudgetExceeded(onExceeded).Build(),
		errBudget: fmt.Errorf("%w (at most %g%% of the requests in flight may be retrying, or %d; RETRY_BUDGET_PERCENT, RETRY_BUDGET_MIN)",
			ErrRetryBudget, cfg.Adaptive.BudgetPercent, cfg.Adaptive.BudgetMin),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.silence = newSilence()
	return a
}

// start runs f in the background unless the pipeline is closed, and reports whether it did.
func (a *adaptive) start(f func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		f()
	}()
	return true
}

// close stops the probes and waits for those in flight.
func (a *adaptive) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.silence.stop()
	a.cancel()
	a.work.Wait()
}

// onOpen is the breaker's hook at every opening (b.mu held: it must not block): it starts the
// probing of that OPEN state. While cold (Adaptive.ColdStart), and at an opening by the silence
// rule, the first probe goes at once: an opening on so little evidence must be cheap to undo.
func (p *Pipeline) onOpen(gen uint64) {
	now := p.adaptive.timeout.coldLimit() != nil || p.adaptive.probeNow.Load()
	p.adaptive.start(func() { p.probeWhileOpen(gen, now) })
}

// tripSilence is the silence rule's opening: the breaker opens if it is still in the CLOSED
// state of generation gen, and its first probe goes at once.
func (p *Pipeline) tripSilence(gen uint64) {
	a := p.adaptive
	a.probeNow.Store(true)
	if p.breaker.trip(permit{gen: gen, state: StateClosed}) {
		a.silenceOpenings.Add(1)
		a.silenceGen.Store(gen + 1) // move's: every transition bumps the generation by one
	}
	a.probeNow.Store(false)
}

// answeredInSilence undoes an opening by the silence rule as soon as any call answers, as a good
// probe does (HALF_OPEN): the backend was slow, not gone, and the calls in flight at the opening
// say so first. It is called for every answer.
func (p *Pipeline) answeredInSilence() {
	a := p.adaptive
	g := a.silenceGen.Load()
	if g == 0 {
		return
	}
	if !p.breaker.probed(g) {
		a.silenceGen.CompareAndSwap(g, 0) // left already: stop looking
	}
}

// silenceRules reports whether the silence rule judges the calls: always with
// Adaptive.ColdStart, and once warm without it (a cold client without it opens on the failure
// rate alone).
func (a *adaptive) silenceRules() bool {
	return a.cfg.ColdStart || a.timeout.warm.Load()
}

// probeWhileOpen probes the backend every ProbeInterval while the breaker stays in the OPEN
// state of generation gen, and once at the start when now is set. Probes overlap: one that
// hangs in a blackhole does not delay the next, so the heal is noticed within an interval. Each
// probe has the whole ATTEMPT_TIMEOUT.
func (p *Pipeline) probeWhileOpen(gen uint64, now bool) {
	a := p.adaptive
	if now && !a.start(func() { p.probeOnce(gen) }) {
		return
	}
	tick := time.NewTicker(a.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
		if !p.breaker.openIn(gen) || !a.start(func() { p.probeOnce(gen) }) {
			return
		}
	}
}

// probeOnce makes one probe. A good one feeds its latency to the timeout's window (so the
// client learns a slower normal) and moves the breaker to HALF_OPEN.
func (p *Pipeline) probeOnce(gen uint64) {
	a := p.adaptive
	ctx, cancel := context.WithTimeout(a.ctx, p.cfg.AttemptTimeout)
	defer cancel()
	ctx, span := p.startProbe(ctx)
	start := time.Now()
	err := a.probe(ctx)
	d := time.Since(start)
	if a.ctx.Err() != nil {
		if span != nil {
			span.End()
		}
		return // shut down: the probe's failure says nothing of the backend
	}
	if err != nil {
		p.emit(Event{Kind: EventProbe, Outcome: "failure", Duration: d, Err: err, span: span})
		return
	}
	a.timeout.observe(d)
	p.emit(Event{Kind: EventProbe, Outcome: "success", Duration: d, span: span})
	p.breaker.probed(gen)
}

// attemptLimit is the timeout of an attempt: the adaptive one, except for a HALF_OPEN trial,
// which has the whole ATTEMPT_TIMEOUT so that a slower backend can prove itself; while cold with
// Adaptive.ColdStart, the cold limit it is (nil otherwise); and the error an attempt cut by it
// reports. It is called as the attempt begins, and notes a CLOSED-state one for the silence
// rule.
func (p *Pipeline) attemptLimit(trial bool) (time.Duration, *coldLimit, error) {
	if p.adaptive == nil || trial {
		return p.cfg.AttemptTimeout, nil, p.errAttempt
	}
	limit, cold, err := p.adaptiveLimit()
	if a := p.adaptive; a.silenceRules() {
		a.bind.Do(func() { a.silence.bind(p.tripSilence) })
		if gen, ok := p.breaker.closedGen(); ok {
			a.silence.begin(gen, limit)
		}
	}
	return limit, cold, err
}

// adaptiveLimit is attemptLimit's answer for a CLOSED-state attempt.
func (p *Pipeline) adaptiveLimit() (time.Duration, *coldLimit, error) {
	if c := p.adaptive.timeout.coldLimit(); c != nil {
		if c.err == nil {
			return c.timeout, c, p.errAttempt // no call has succeeded yet: ATTEMPT_TIMEOUT
		}
		return c.timeout, c, c.err
	}
	t := p.adaptive.timeout.current()
	if t == p.cfg.AttemptTimeout {
		return t, nil, p.errAttempt
	}
	return t, nil, fmt.Errorf("%w after %s (adaptive timeout: p99.9 of recent calls × %g, at least %s)",
		ErrAttemptTimeout, t, p.cfg.Adaptive.TimeoutFactor, p.cfg.Adaptive.TimeoutFloor)
}

// afterCall is the adaptive profile's part of an attempt once its call is done: an answer ends
// the silence rule's streak; a success's latency feeds the timeout's window; a silent call while
// cold opens the breaker (silentWhileCold). cold is the cold limit the call ran under (nil:
// none), seen the count of successes when it began.
func (p *Pipeline) afterCall(pm permit, cold *coldLimit, seen uint64, outcome string, d time.Duration, err error) {
	a := p.adaptive
	if a.silence.end(outcome, err) {
		p.answeredInSilence()
	}
	switch {
	case outcome == results.OutcomeSuccess:
		a.timeout.observe(d)
	case outcome == results.OutcomeFailure && a.silentWhileCold(pm, cold, seen, err):
		if p.breaker.trip(pm) {
			a.coldOpenings.Add(1)
		}
	}
}

// silentWhileCold reports whether an attempt's failure opens the breaker by itself
// (Adaptive.ColdStart): a CLOSED-state attempt that ran under the cold timeout (cold), got no
// answer at all before it (err is the attempt timeout's, not while reading a body), while no
// call succeeded since it began (the estimator's count of successes is still seen).
// A partition looks exactly like that; a slow call among good ones does not.
func (a *adaptive) silentWhileCold(pm permit, cold *coldLimit, seen uint64, err error) bool {
	return cold != nil && !pm.trial && errors.Is(err, ErrAttemptTimeout) && !errors.Is(err, ErrReadingBody) &&
		a.timeout.successes() == seen
}

// adaptiveBackoff is the adaptive profile's wait before retry n: full jitter, drawn uniformly
// from [0, min(RetryMaxBackoff, RetryBackoff·2^(n-1))], cut to fit the request deadline.
// It is safe for concurrent use.
type adaptiveBackoff struct {
	cfg Config
	mu  sync.Mutex
	rnd *rand.Rand
}

func (b *adaptiveBackoff) wait(n int, elapsed time.Duration) time.Duration {
	ceil := min(b.cfg.Adaptive.RetryBackoff, b.cfg.Adaptive.RetryMaxBackoff)
	for i := 1; i < n && ceil < b.cfg.Adaptive.RetryMaxBackoff; i++ {
		ceil = min(2*ceil, b.cfg.Adaptive.RetryMaxBackoff)
	}
	b.mu.Lock()
	w := time.Duration(b.rnd.Float64() * float64(ceil))
	b.mu.Unlock()
	return cut(w, b.cfg.RequestTimeout-elapsed, b.cfg.AttemptTimeout)
}
