package resilience

import (
	"time"

	"go.opentelemetry.io/otel/trace"
)

// State is a circuit breaker state, spelled as in the log lines and the /api/data answer.
type State string

// Breaker states. StateDisabled is reported when the pipeline runs without patterns.
const (
	StateClosed   State = "CLOSED"
	StateOpen     State = "OPEN"
	StateHalfOpen State = "HALF_OPEN"
	StateDisabled State = "DISABLED"
)

// EventKind says what an Event reports.
type EventKind int

// Kinds of events, one per policy listener plus the backend calls and the end of a request.
const (
	EventRetryScheduled EventKind = iota // a retry was scheduled: Attempt, Wait, Err, RequestID
	EventStateChanged                    // the breaker changed state: From, To
	EventAttempt                         // one backend call ended: Attempt, Outcome, Duration, Err, RequestID
	EventNotPermitted                    // the breaker rejected a call, or woke a request asleep for a retry
	EventFallback                        // a fallback answer was made: Err, RequestID
	EventRequestDone                     // a request left the pipeline: Attempts, Err (nil = success)
	EventProbe                           // adaptive: a probe of the backend ended while OPEN: Outcome ("success" or "failure"), Duration, Err
	EventBudgetRefused                   // adaptive: the retry budget refused a request's retry: Attempt (the retry refused), Err, RequestID
	EventRetrySkipped                    // a retry was not started: the caller's deadline left less than MinAttempt: Err, RequestID
	EventExpired                         // a request arrived with its caller's deadline passed; the backend was not called: Err, RequestID
)

// Event is the one structured record every listener emits. Log lines, metrics and the snapshot
// counters are all derived from it (see observe.go).
type Event struct {
	Kind      EventKind
	Time      time.Time
	Attempt   int           // EventRetryScheduled: the retry's number (1 = first retry); EventAttempt: the call's number (1 = first call)
	Wait      time.Duration // EventRetryScheduled: the wait before that retry
	From, To  State         // EventStateChanged
	State     State         // EventNotPermitted: the state the breaker refused the call in (OPEN, or HALF_OPEN with its trials out)
	Outcome   string        // EventAttempt: results.OutcomeSuccess, OutcomeFailure or OutcomeIgnored
	Duration  time.Duration // EventAttempt: how long the call took
	Attempts  int           // EventRequestDone: backend calls actually made
	RequestID uint64        // the request's id (WithRequestID), 0 if none
	Err       error

	span trace.Span // the span the event goes on (trace.go): the call's, the probe's or the request's; nil = none
}
