package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
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
	Logger   *slog.Logger          // where the three log lines go; nil discards them
	Registry prometheus.Registerer // where the metrics are registered; nil registers nothing
	Rand     *rand.Rand            // source of the jitter; nil seeds one from the clock
}

// Pipeline runs backend calls through the policies. It is safe for concurrent use.
type Pipeline struct {
	cfg      Config
	obs      *observer
	window   *window
	breaker  circuitbreaker.CircuitBreaker[*result]
	policies []failsafe.Policy[*result]
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
	p := &Pipeline{cfg: cfg}
	obs, err := newObserver(opts.Logger, opts.Registry, p)
	if err != nil {
		return nil, fmt.Errorf("registering resilience metrics: %w", err)
	}
	p.obs = obs
	if cfg.Enabled {
		p.window = newWindow(cfg.SlidingWindow, cfg.MinimumCalls, cfg.FailureRateThreshold)
		p.build(&backoff{cfg: cfg, rnd: opts.Rand})
	}
	return p, nil
}

// build makes the policies, once. Order, outermost first:
//
//	fallback( retry( circuit breaker( per-attempt timeout( call ))))
//
// The request deadline bounds the whole: it is retry's maximum duration, it cuts the waits
// (backoff.wait) and it is the deadline of every attempt's context (Execute).
func (p *Pipeline) build(bo *backoff) {
	p.breaker = circuitbreaker.NewBuilder[*result]().
		HandleIf(func(_ *result, err error) bool { return Retryable(p.translate(err)) }).
		// The window judges the CLOSED state (see window); failsafe-go's own threshold never trips.
		WithFailureThresholdRatio(math.MaxUint32, uint(p.cfg.SlidingWindow)).
		WithSuccessThresholdRatio(uint(p.cfg.HalfOpenCalls), uint(p.cfg.HalfOpenCalls)).
		WithDelay(p.cfg.WaitDuration).
		OnStateChanged(p.onStateChanged).
		OnSuccess(func(e failsafe.ExecutionEvent[*result]) { p.onCall(e, false) }).
		OnFailure(func(e failsafe.ExecutionEvent[*result]) { p.onCall(e, true) }).
		Build()
	retry := retrypolicy.NewBuilder[*result]().
		HandleIf(func(_ *result, err error) bool { return Retryable(p.translate(err)) }).
		AbortIf(func(*result, error) bool { return p.State() == StateOpen }).
		WithMaxRetries(p.cfg.MaxRetries).
		WithMaxDuration(p.cfg.RequestTimeout).
		WithDelayFunc(func(e failsafe.ExecutionAttempt[*result]) time.Duration {
			return bo.wait(e.Attempts(), e.ElapsedTime())
		}).
		ReturnLastFailure().
		OnRetryScheduled(p.onRetryScheduled).
		Build()
	fb := fallback.NewBuilderWithFunc(p.fallback).
		HandleIf(func(_ *result, err error) bool { return err != nil }).
		Build()
	p.policies = []failsafe.Policy[*result]{fb, retry, p.breaker, timeout.New[*result](p.cfg.AttemptTimeout)}
}

// Execute runs one request's backend call through the pipeline.
func (p *Pipeline) Execute(ctx context.Context, call Call) Outcome {
	if !p.cfg.Enabled {
		return p.baseline(ctx, call)
	}
	var attempts atomic.Int64
	res, err := failsafe.With(p.policies...).WithContext(ctx).GetWithExecution(
		func(exec failsafe.Execution[*result]) (*result, error) {
			attempts.Add(1)
			actx, cancel := context.WithDeadline(exec.Context(), exec.StartTime().Add(p.cfg.RequestTimeout))
			defer cancel()
			body, err := call(actx)
			if err != nil {
				return nil, err
			}
			return &result{body: body}, nil
		})
	out := Outcome{Attempts: int(attempts.Load()), State: p.State()}
	switch {
	case err != nil: // the caller went away: failsafe-go answers with its context's error
		out.Source, out.Err = SourceError, p.translate(err)
	case res.fallback:
		out.Source, out.Err = SourceFallback, res.err
	default:
		out.Source, out.Data = SourceBackend, res.body
	}
	p.emit(Event{Kind: EventRequestDone, Attempts: out.Attempts, Err: out.Err})
	return out
}

// baseline is the pipeline without patterns: one attempt under the request deadline.
func (p *Pipeline) baseline(ctx context.Context, call Call) Outcome {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	body, err := call(ctx)
	if err != nil {
		return Outcome{Source: SourceError, Err: err, Attempts: 1, State: StateDisabled}
	}
	return Outcome{Source: SourceBackend, Data: body, Attempts: 1, State: StateDisabled}
}

// State is the breaker's state as it truly is: failsafe-go moves OPEN -> HALF_OPEN only on the
// next call after the wait, so an OPEN breaker whose wait is over is reported HALF_OPEN.
func (p *Pipeline) State() State {
	if !p.cfg.Enabled {
		return StateDisabled
	}
	switch p.breaker.State() {
	case circuitbreaker.OpenState:
		if p.breaker.RemainingDelay() > 0 {
			return StateOpen
		}
		return StateHalfOpen
	case circuitbreaker.HalfOpenState:
		return StateHalfOpen
	default:
		return StateClosed
	}
}

// fallback makes the degraded answer for the error the inner policies ended with.
func (p *Pipeline) fallback(exec failsafe.Execution[*result]) (*result, error) {
	err := p.translate(exec.LastError())
	if errors.Is(err, ErrBreakerOpen) {
		p.emit(Event{Kind: EventNotPermitted, Err: err})
	}
	p.emit(Event{Kind: EventFallback, Err: err})
	return &result{fallback: true, err: err}, nil
}

// translate turns failsafe-go's errors into this package's.
func (p *Pipeline) translate(err error) error {
	switch {
	case errors.Is(err, circuitbreaker.ErrOpen):
		return ErrBreakerOpen
	case errors.Is(err, timeout.ErrExceeded):
		return fmt.Errorf("%w after %s (ATTEMPT_TIMEOUT)", ErrAttemptTimeout, p.cfg.AttemptTimeout)
	}
	return err
}

func (p *Pipeline) onStateChanged(e circuitbreaker.StateChangedEvent) {
	to := fromFailsafe(e.NewState)
	if to == StateClosed {
		p.window.reset()
	}
	p.emit(Event{Kind: EventStateChanged, From: fromFailsafe(e.OldState), To: to})
}

// onCall records one call the breaker permitted, and opens the breaker when the window says so.
func (p *Pipeline) onCall(e failsafe.ExecutionEvent[*result], failed bool) {
	if failed {
		p.emit(Event{Kind: EventCallFailed, Duration: e.ElapsedAttemptTime(), Err: p.translate(e.LastError())})
	} else {
		p.emit(Event{Kind: EventCallSucceeded, Duration: e.ElapsedAttemptTime()})
	}
	if p.breaker.IsClosed() && p.window.record(failed) {
		p.breaker.Open()
	}
}

func (p *Pipeline) onRetryScheduled(e failsafe.ExecutionScheduledEvent[*result]) {
	p.emit(Event{Kind: EventRetryScheduled, Attempt: e.Attempts(), Wait: e.Delay, Err: p.translate(e.LastError())})
}

func (p *Pipeline) emit(e Event) {
	e.Time = time.Now()
	p.obs.observe(e)
}

func fromFailsafe(s circuitbreaker.State) State {
	switch s {
	case circuitbreaker.OpenState:
		return StateOpen
	case circuitbreaker.HalfOpenState:
		return StateHalfOpen
	default:
		return StateClosed
	}
}
