package resilience

import "time"

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

// Kinds of events, one per policy listener plus the end of a request.
const (
	EventRetryScheduled EventKind = iota // a retry was scheduled: Attempt, Wait, Err
	EventStateChanged                    // the breaker changed state: From, To
	EventCallSucceeded                   // the breaker recorded a successful call: Duration
	EventCallFailed                      // the breaker recorded a failed call: Duration, Err
	EventNotPermitted                    // the breaker rejected a call without making it
	EventFallback                        // a fallback answer was made: Err
	EventRequestDone                     // a request left the pipeline: Attempts, Err (nil = success)
)

// Event is the one structured record every listener emits. Log lines, metrics and the snapshot
// counters are all derived from it (see observe.go).
type Event struct {
	Kind     EventKind
	Time     time.Time
	Attempt  int           // EventRetryScheduled: the retry's number, 1 for the first retry
	Wait     time.Duration // EventRetryScheduled: the wait before that retry
	From, To State         // EventStateChanged
	Duration time.Duration // EventCallSucceeded, EventCallFailed: time of the attempt
	Attempts int           // EventRequestDone: backend calls actually made
	Err      error
}
