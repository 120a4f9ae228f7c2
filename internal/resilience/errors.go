package resilience

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrBreakerOpen is the error of a call the circuit breaker did not permit.
var ErrBreakerOpen = errors.New("CircuitBreaker '" + BreakerName + "' is OPEN and does not permit further calls")

// refusal is the error of a call the breaker refused: ErrBreakerOpen, as it reads, with the
// state it was refused in (OPEN, or HALF_OPEN with every trial out) for the request's span.
type refusal struct{ state State }

func (r *refusal) Error() string { return ErrBreakerOpen.Error() }
func (r *refusal) Unwrap() error { return ErrBreakerOpen }

// The refusals, made once: a rejection allocates nothing.
var refusedOpen, refusedHalfOpen = &refusal{StateOpen}, &refusal{StateHalfOpen}

// refused is the error of a call refused in state.
func refused(state State) error {
	if state == StateHalfOpen {
		return refusedHalfOpen
	}
	return refusedOpen
}

// ErrAttemptTimeout is the error of an attempt cut by ATTEMPT_TIMEOUT.
var ErrAttemptTimeout = errors.New("backend call timed out")

// ErrRequestTimeout is the error of an attempt cut by the request's deadline (REQUEST_TIMEOUT),
// when less than ATTEMPT_TIMEOUT was left (or in the baseline, which has no attempt timeout).
var ErrRequestTimeout = errors.New("backend call cut by the request deadline")

// ErrReadingBody marks a call that failed after the answer's headers, while its body was read (a
// Call wraps it); an attempt cut by a deadline then says so.
var ErrReadingBody = errors.New("reading the backend answer")

// StatusError is the error a Call returns for a backend answer whose status is not 2xx.
type StatusError struct {
	Code   int
	Reason string // the first line of a plain-text answer (a proxy's "upstream connect error ..."), if any
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("backend answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Retryable reports whether err is worth another attempt and counts as a failure for the breaker:
// connection errors, timeouts, 5xx and 429 are; other statuses, a cancelled caller, a rejection
// by the breaker and a caller's deadline with no room left are not. (A call cut because its caller went away is neither: see classify.)
func Retryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, ErrBreakerOpen), errors.Is(err, ErrDeadlineExceeded):
		return false
	}
	if se, ok := statusOf(err); ok {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	return true
}

// statusOf is the *StatusError in err's chain, if any. It is a function of its own so that the
// target errors.As needs is allocated only when there is an error to look into, not on every
// call of its callers (a healthy call has none).
func statusOf(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}
