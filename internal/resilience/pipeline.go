package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/prometheus/client_golang/prometheus"
)

// Call makes one attempt at the backend. It returns the body of a 2xx answer, a *StatusError for
// any other status, or the transport error; it must stop when ctx is done and must have drained
// and closed the response body before it returns.
type Call func(ctx context.Context) ([]byte, error)

// Source says where an Outcome's answer came from.
type Source string

// Sources of an answer.
const (
	SourceBackend  Source = "backend"  // the backend answered
	SourceFallback Source = "fallback" // the fallback answered for the backend
	SourceError    Source = "error"    // no answer: baseline mode, or the caller went away
)

// Outcome is what Execute made of one request.
type Outcome struct {
	Source   Source
	Data     []byte // the backend's body when Source is SourceBackend
	Err      error  // why, when Source is not SourceBackend
	Attempts int    // backend calls actually made (0 when the breaker rejected the first)
	State    State  // the breaker's state once the request was done
}

// Options are a Pipeline's dependencies.
type Options struct {
	Logger   *slog.Logger          // where the log records go; nil discards them
	Registry prometheus.Registerer // where the metrics are registered; nil registers nothing
	Rand     *rand.Rand            // source of the jitter; nil seeds one from the clock
	Probe    Probe                 // the adaptive profile's probe of the backend; required by it
	// AttemptRecords, while in force, writes the attempt records whatever the logger's level;
	// nil = only at debug level.
	AttemptRecords *AttemptLease
	// Tracing makes the spans of the backend calls, the probes and the policies' decisions
	// (trace.go); the zero value makes none.
	Tracing Tracing
}

// Pipeline runs backend calls through the policies. It is safe for concurrent use.
type Pipeline struct {
	cfg      Config
	obs      *observer
	breaker  *breaker  // nil without patterns
	adaptive *adaptive // nil unless the adaptive profile
	policies []failsafe.Policy[*result]
	exec     failsafe.Executor[*result]                       // the policies' executor, made once; each request runs a copy WithContext
	wait     func(n int, elapsed time.Duration) time.Duration // the profile's backoff before retry n
	tracing  Tracing
	// Causes of the two deadlines an attempt runs under, and the errors it reports for them.
	errAttempt, errRequest error
}

// result is what flows through failsafe-go: the backend's body, or the fallback's answer.
type result struct {
	body     []byte
	fallback bool
	err      error
}

// New builds the pipeline and registers its metrics.
func New(cfg Config, opts Options) (*Pipeline, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	}
	p := &Pipeline{cfg: cfg, tracing: opts.Tracing,
		errAttempt: fmt.Errorf("%w after %s (ATTEMPT_TIMEOUT)", ErrAttemptTimeout, cfg.AttemptTimeout),
		errRequest: fmt.Errorf("%w of %s (REQUEST_TIMEOUT)", ErrRequestTimeout, cfg.RequestTimeout),
	}
	obs, err := newObserver(opts, p)
	if err != nil {
		return nil, fmt.Errorf("registering resilience metrics: %w", err)
	}
	p.obs = obs
	if !cfg.Enabled {
		return p, nil
	}
	if cfg.RetryOnly {
		p.build((&backoff{cfg: cfg, rnd: opts.Rand}).wait, nil)
		return p, nil
	}
	p.breaker = newBreaker(cfg, p.onStateChanged)
	if !cfg.Adaptive.Enabled {
		p.build((&backoff{cfg: cfg, rnd: opts.Rand}).wait, nil)
		return p, nil
	}
	if opts.Probe == nil {
		return nil, errors.New("the adaptive profile needs a probe of the backend (Options.Probe)")
	}
	p.adaptive = newAdaptive(cfg, opts.Probe, p.onBudgetExceeded)
	p.breaker.onOpen = p.onOpen
	p.build((&adaptiveBackoff{cfg: cfg, rnd: opts.Rand}).wait, p.adaptive.budget)
	return p, nil
}

// Close stops what the pipeline runs in the background (the adaptive profile's probes) and waits
// for it. Execute must not be called after Close.
func (p *Pipeline) Close() {
	if p.adaptive != nil {
		p.adaptive.close()
	}
}

// build makes the policies, once. Order, outermost first:
//
//	fallback( retry( circuit breaker( per-attempt timeout( call ))))
//
// failsafe-go runs the outer two. The inner two run in attempt, the function the retry runs
// each time: the breaker's permit (breaker.go), then the call under its own deadline (callOnce).
// A request asleep for a retry is woken when the breaker opens (breaker.sleep, Execute).
// The request deadline bounds the whole: it is retry's maximum duration, it cuts the waits
// (backoff.wait) and every attempt's deadline. A caller's shorter deadline (deadline.go) cuts
// the attempts too, and a retry that would not have Config.MinAttempt of it left after its wait
// is not started.
//
// The adaptive profile adds a retry budget (budget non-nil): a retry it refuses ends the request
// with the fallback, and the retry line is logged only for a retry that goes ahead.
// RESILIENCE=retry (RetryOnly) has neither breaker (p.breaker is nil: every attempt is permitted)
// nor fallback: the retry's last error is the request's.
func (p *Pipeline) build(wait func(n int, elapsed time.Duration) time.Duration, b budget.Budget) {
	p.wait = wait
	rb := retrypolicy.NewBuilder[*result]().
		HandleIf(func(_ *result, err error) bool { return Retryable(err) }).
		AbortIf(func(*result, error) bool { return p.State() == StateOpen }).
		WithMaxRetries(p.cfg.MaxRetries).
		WithMaxDuration(p.cfg.RequestTimeout).
		WithDelayFunc(func(e failsafe.ExecutionAttempt[*result]) time.Duration {
			return p.retryWait(requestOf(e.Context()), e.Attempts(), e.ElapsedTime())
		}).
		ReturnLastFailure().
		OnRetryScheduled(p.onRetryScheduled)
	if b != nil {
		rb = rb.WithBudget(b).OnRetry(p.onRetry)
	}
	retry := rb.Build()
	fb := fallback.NewBuilderWithFunc(func(exec failsafe.Execution[*result]) (*result, error) {
		return p.fallback(requestOf(exec.Context()), exec.LastError()), nil
	}).
		HandleIf(func(_ *result, err error) bool { return err != nil }).
		Build()
	p.policies = []failsafe.Policy[*result]{fb, retry}
	if p.cfg.RetryOnly {
		p.policies = []failsafe.Policy[*result]{retry}
	}
	p.exec = failsafe.With(p.policies...)
}

// Execute runs one request's backend call through the pipeline. The request's id, if any, is
// read from ctx (WithRequestID), and so is its caller's deadline (WithCallerTimeout).
func (p *Pipeline) Execute(ctx context.Context, call Call) Outcome {
	r := p.newRequest(ctx)
	if r.expired() {
		return p.expire(r)
	}
	if !p.cfg.Enabled {
		return p.baseline(r, call)
	}
	// failsafe-go's retry sleeps until wctx is done: the breaker cancels it, with ErrBreakerOpen
	// as the cause, to wake the request when it opens. Attempts run under r.caller instead, so
	// a wake never cuts a call in flight.
	wctx, wake := context.WithCancelCause(ctx)
	defer wake(nil)
	r.wake = wake
	defer p.breaker.rise(&r.sleeper)
	res, err := p.exec.WithContext(context.WithValue(wctx, requestKey{}, r)).
		Get(func() (*result, error) { return p.attempt(r, call) })
	if err != nil && errors.Is(context.Cause(wctx), ErrBreakerOpen) {
		// Woken: failsafe-go answers a done context with its error and skips the fallback.
		res, err = p.fallback(r, ErrBreakerOpen), nil
	}
	out := Outcome{Attempts: r.calls, State: p.State()}
	switch {
	case err != nil: // no fallback (RetryOnly), or the caller went away: failsafe-go answers with its context's error
		out.Source, out.Err = SourceError, err
	case res.fallback:
		out.Source, out.Err = SourceFallback, res.err
	default:
		out.Source, out.Data = SourceBackend, res.body
	}
	p.emit(Event{Kind: EventRequestDone, Attempts: out.Attempts, Err: out.Err, span: p.spanOf(r)})
	return out
}

// baseline is the pipeline without patterns: one attempt under the request deadline.
func (p *Pipeline) baseline(r *request, call Call) Outcome {
	body, _, _, err := p.callOnce(r, call, "", 0, nil)
	if err != nil {
		return Outcome{Source: SourceError, Err: err, Attempts: 1, State: StateDisabled}
	}
	return Outcome{Source: SourceBackend, Data: body, Attempts: 1, State: StateDisabled}
}

// AttemptRecords reports whether a record of every backend call is written now: the logger is
// at debug level, or an AttemptLease is in force.
func (p *Pipeline) AttemptRecords() bool {
	return p.obs.attempts.Enabled(context.Background(), slog.LevelDebug)
}

// State is the breaker's state. The breaker moves from OPEN to HALF_OPEN when the wait ends.
func (p *Pipeline) State() State {
	if p.breaker == nil {
		return StateDisabled
	}
	return p.breaker.State()
}

// fallback makes the degraded answer of request r for err, the error the inner policies ended
// with. It is the fallback policy's function, and Execute's for a request the breaker woke.
func (p *Pipeline) fallback(r *request, err error) *result {
	if errors.Is(err, budget.ErrExceeded) {
		err = fmt.Errorf("%w; the last attempt: %w", p.adaptive.errBudget, r.lastErr)
	}
	if errors.Is(err, ErrBreakerOpen) {
		state := StateOpen                // woken by the opening, or refused in OPEN or HALF_OPEN (refusal)
		if rf, ok := err.(*refusal); ok { // as attempt returned it: the retry hands it on unwrapped
			state = rf.state
		}
		p.emit(Event{Kind: EventNotPermitted, State: state, Err: err, RequestID: r.id, span: p.spanOf(r)})
	}
	p.emit(Event{Kind: EventFallback, Err: err, RequestID: r.id, span: p.spanOf(r)})
	return &result{fallback: true, err: err}
}

func (p *Pipeline) onStateChanged(from, to State) {
	p.emit(Event{Kind: EventStateChanged, From: from, To: to})
}

// onRetryScheduled reports the retry and puts the request to sleep until it: from now until its
// next attempt begins, the breaker wakes it if it opens.
// With a retry budget the line waits for the budget's permit (onRetry): a refused retry is not
// reported as one.
func (p *Pipeline) onRetryScheduled(e failsafe.ExecutionScheduledEvent[*result]) {
	r := requestOf(e.Context())
	if p.adaptive == nil {
		p.emit(Event{Kind: EventRetryScheduled, Attempt: e.Attempts(), Wait: e.Delay, Err: e.LastError(), RequestID: r.id, span: p.spanOf(r)})
	} else {
		r.wait = e.Delay
	}
	p.breaker.sleep(&r.sleeper)
}

// onRetry reports a retry the budget permitted, just before it goes (adaptive profile).
func (p *Pipeline) onRetry(e failsafe.ExecutionEvent[*result]) {
	r := requestOf(e.Context())
	p.emit(Event{Kind: EventRetryScheduled, Attempt: e.Attempts(), Wait: r.wait, Err: e.LastError(), RequestID: r.id, span: p.spanOf(r)})
}

// onBudgetExceeded reports a retry the budget refused (adaptive profile).
func (p *Pipeline) onBudgetExceeded(e budget.ExceededEvent) {
	r := requestOf(e.Context())
	p.emit(Event{Kind: EventBudgetRefused, Attempt: e.Attempts(), Err: r.lastErr, RequestID: r.id, span: p.spanOf(r)})
}

func (p *Pipeline) emit(e Event) {
	e.Time = time.Now()
	p.obs.observe(e)
}
