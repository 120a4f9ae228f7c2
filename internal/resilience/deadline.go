package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"

	"chaoslab/internal/results"
)

// ErrDeadlineExceeded is the error of a request whose caller's deadline (WithCallerTimeout) left
// no room: it had passed on arrival, or too little of it was left for a retry (Config.MinAttempt).
var ErrDeadlineExceeded = errors.New("deadline exceeded")

type callerTimeoutKey struct{}

// WithCallerTimeout returns ctx carrying d, the time the caller of the incoming request will still
// wait for its answer, read on arrival (results.DeadlineHeader); d <= 0 means it has passed.
// With Config.Propagation, Execute ends the request within min(RequestTimeout, d) of its start,
// never starts a retry with less than Config.MinAttempt of it left, and answers at once, without
// calling the backend, when d <= 0. Without Propagation it is ignored.
func WithCallerTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, callerTimeoutKey{}, d)
}

func callerTimeout(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(callerTimeoutKey{}).(time.Duration)
	return d, ok
}

// newRequest starts the request of ctx: its deadline is REQUEST_TIMEOUT from now, or the
// caller's when that is shorter (with Propagation).
func (p *Pipeline) newRequest(ctx context.Context) *request {
	r := &request{id: requestID(ctx), caller: ctx, start: time.Now(), timeout: p.cfg.RequestTimeout, errRequest: p.errRequest}
	p.annotate(ctx, r.id)
	d, ok := callerTimeout(ctx)
	if !ok || !p.cfg.Propagation {
		return r
	}
	r.propagated = true
	if d < r.timeout {
		r.timeout = d
		r.errRequest = fmt.Errorf("%w of %s (the caller's %s)", ErrRequestTimeout, d, results.DeadlineHeader)
	}
	return r
}

// expired reports whether r's caller had given up before it arrived.
func (r *request) expired() bool { return r.propagated && r.timeout <= 0 }

// expire answers a request whose caller had given up before it arrived, without calling the
// backend: the fallback's answer, or the error where there is no fallback (off, retry).
func (p *Pipeline) expire(r *request) Outcome {
	err := fmt.Errorf("%w: the caller had no time left on arrival (%s: %s); the backend was not called",
		ErrDeadlineExceeded, results.DeadlineHeader, r.timeout)
	p.emit(Event{Kind: EventExpired, Err: err, RequestID: r.id, span: p.spanOf(r)})
	out := Outcome{Source: SourceError, Err: err, State: p.State()}
	if p.cfg.hasBreaker() {
		out.Source, out.Err = SourceFallback, p.fallback(r, err).err
	}
	if p.cfg.Enabled {
		p.emit(Event{Kind: EventRequestDone, Err: out.Err, span: p.spanOf(r)})
	}
	return out
}

// noRoomForRetry decides, for a request with a caller's deadline, the retry that err (the error
// of r's last attempt) calls for: it draws the retry's wait now (retryWait hands it to the
// retry), and when less than MinAttempt of the caller's deadline would be left after it, it
// returns err wrapped with ErrDeadlineExceeded, which is not retried: work that cannot finish in
// time is not started. err is returned as it is when no retry would follow anyway.
func (p *Pipeline) noRoomForRetry(r *request, err error) error {
	if !r.propagated || !Retryable(err) || r.tries > p.cfg.MaxRetries || p.State() == StateOpen {
		return err
	}
	wait := p.wait(r.tries, time.Since(r.start))
	left := time.Until(r.start.Add(r.timeout))
	if left-wait >= p.cfg.MinAttempt {
		r.planned, r.nextWait = true, wait
		return err
	}
	err = fmt.Errorf("%w: %s left, a retry needs %s (its wait) + %s (DEADLINE_MIN_ATTEMPT); the last attempt: %w",
		ErrDeadlineExceeded, max(0, left).Truncate(time.Millisecond), wait.Truncate(time.Millisecond), p.cfg.MinAttempt, err)
	p.emit(Event{Kind: EventRetrySkipped, Err: err, RequestID: r.id, span: p.spanOf(r)})
	return err
}

// retryWait is the wait before retry n of r, elapsed into it: the one noRoomForRetry drew for a
// request with a caller's deadline, or the profile's backoff, drawn now.
func (p *Pipeline) retryWait(r *request, n int, elapsed time.Duration) time.Duration {
	if r.planned {
		r.planned = false
		return r.nextWait
	}
	return p.wait(n, elapsed)
}
