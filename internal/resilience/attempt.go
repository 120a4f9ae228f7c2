package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"

	"chaoslab/internal/results"
)

// request is one Execute's state. failsafe-go's listeners reach it through the execution's
// context (requestOf); attempts of one request run one after another, so calls needs no lock.
type request struct {
	sleeper
	id     uint64          // WithRequestID's id, 0 if none
	caller context.Context // the caller's context: attempts run under it
	start  time.Time
	calls  int // backend calls made
	tries  int // attempts begun, the breaker's rejections included

	// The request's deadline is start+timeout: REQUEST_TIMEOUT, or the caller's when shorter
	// (propagated: WithCallerTimeout and Config.Propagation); an attempt it cuts reports errRequest.
	timeout    time.Duration
	errRequest error
	propagated bool
	planned    bool // nextWait was drawn for the next retry (noRoomForRetry)
	nextWait   time.Duration

	lastErr error         // the last attempt's error
	wait    time.Duration // adaptive: the wait before the retry scheduled last
}

type requestKey struct{}

// requestOf is the request whose failsafe-go execution runs under ctx.
func requestOf(ctx context.Context) *request {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		return r
	}
	return &request{}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying id, the incoming request's id (its X-Request-Id): Execute
// writes it on every log record of that request. 0 means none.
func WithRequestID(ctx context.Context, id uint64) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) uint64 {
	id, _ := ctx.Value(requestIDKey{}).(uint64)
	return id
}

// attempt is what the retry runs each time: the breaker's permit, then one backend call under
// its own deadline (the two inner policies of the pipeline).
func (p *Pipeline) attempt(r *request, call Call) (*result, error) {
	r.tries++
	if p.breaker.rise(&r.sleeper) {
		return nil, ErrBreakerOpen // woken by the opening: Execute answers with the fallback
	}
	pm, ok := p.breaker.acquire()
	if !ok {
		return nil, refused(pm.state)
	}
	limit, cold, cause := p.attemptLimit(pm.trial)
	var seen uint64
	if p.adaptive != nil {
		seen = p.adaptive.timeout.successes()
	}
	body, outcome, d, err := p.callOnce(r, call, pm.state, limit, cause)
	p.breaker.record(pm, outcome)
	if p.adaptive != nil {
		p.afterCall(pm, cold, seen, outcome, d, err)
	}
	r.lastErr = err
	if err != nil {
		return nil, p.noRoomForRetry(r, err)
	}
	return &result{body: body}, nil
}

// callOnce makes one backend call for r, permitted in the breaker's state ("" = no breaker),
// under limit (the attempt timeout, whose error is limitErr; 0 = none) cut to the request
// deadline, classifies it, reports it and says how long it took. The call's context has that
// deadline: the time this hop waits for this attempt.
func (p *Pipeline) callOnce(r *request, call Call, state State, limit time.Duration, limitErr error) (body []byte, outcome string, took time.Duration, err error) {
	r.calls++
	start := time.Now()
	deadline, cause := r.start.Add(r.timeout), r.errRequest
	if limit > 0 && start.Add(limit).Before(deadline) {
		deadline, cause = start.Add(limit), limitErr
	}
	ctx, cancel := context.WithDeadlineCause(r.caller, deadline, cause)
	defer cancel()
	callCtx, span := p.startCall(ctx, r.calls, state, deadline)
	body, err = call(callCtx)
	took = time.Since(start)
	outcome, err = p.classify(ctx, err)
	p.emit(Event{Kind: EventAttempt, Attempt: r.calls, Outcome: outcome, Duration: took,
		Err: err, RequestID: r.id, span: span})
	return body, outcome, took, err
}

// isStatus reports whether err is, or wraps, a *StatusError: the backend answered.
func isStatus(err error) bool {
	_, ok := statusOf(err)
	return ok
}

// classify says what a call made under ctx tells about the backend, and the error to report.
// An answer, or an error of the call's own, is judged by Retryable; a call cut by one of the
// pipeline's deadlines failed; a call cut because its caller went away first is ignored.
func (p *Pipeline) classify(ctx context.Context, err error) (outcome string, _ error) {
	if err == nil {
		return results.OutcomeSuccess, nil
	}
	switch cause := context.Cause(ctx); {
	case isStatus(err), ctx.Err() == nil:
		if Retryable(err) {
			return results.OutcomeFailure, err
		}
		return results.OutcomeSuccess, err
	case errors.Is(cause, ErrAttemptTimeout), errors.Is(cause, ErrRequestTimeout):
		if errors.Is(err, ErrReadingBody) {
			return results.OutcomeFailure, fmt.Errorf("%w, while %w", cause, ErrReadingBody)
		}
		return results.OutcomeFailure, cause
	default:
		return results.OutcomeIgnored, err
	}
}
