package results

import (
	"encoding/json"
	"time"
)

// Attribute keys of the structured log records the client writes next to its human lines
// (DESIGN.md §2). Programs read these, never the sentence. internal/resilience writes them and
// DecodeLogLine reads them; a test in each package pins the other side.
const (
	AttrEvent     = "event"       // LogRetry, LogBreaker, LogFallback, LogAttempt, LogProbe or LogBudget
	AttrAttempt   = "attempt"     // retry: the retry's number; attempt: the call's number (1 = first)
	AttrWaitMS    = "wait_ms"     // retry: the wait before it, in ms
	AttrFrom      = "from"        // breaker: the previous state
	AttrTo        = "to"          // breaker: the new state
	AttrError     = "error"       // retry, fallback, attempt: the error text
	AttrOutcome   = "outcome"     // attempt: OutcomeSuccess, OutcomeFailure or OutcomeIgnored
	AttrDuration  = "duration_ms" // attempt: how long the call took, in ms
	AttrRequestID = "request_id"  // the X-Request-Id of the incoming request, when it had one
	AttrRefused   = "refused"     // retry_budget: retries refused since the previous retry_budget line
	AttrTier      = "tier"        // every record of a client-service whose TIER is set: the tier's name; also the metrics' constant label
)

// Values of AttrEvent.
const (
	LogRetry    = "retry"
	LogBreaker  = "breaker"
	LogFallback = "fallback"
	LogAttempt  = "attempt"
	LogProbe    = "probe"        // adaptive profile: a probe of the backend while OPEN (outcome, duration_ms, error)
	LogBudget   = "retry_budget" // adaptive profile: retries the budget refused (refused: how many since the last such line)
)

// RequestIDHeader carries the load's Record.ID to the client, which logs it with each event of
// that request, so attempts are counted per load request.
const RequestIDHeader = "X-Request-Id"

// DeadlineHeader carries the milliseconds a caller will still wait for its answer, counted from
// the moment it sends (Envoy's name; gRPC's grpc-timeout does the same). client-service reads it
// on arrival and sends each backend attempt the time it will wait for that attempt
// (DEADLINE_PROPAGATION); backend-service may drop queued work whose caller has given up.
const DeadlineHeader = "X-Envoy-Expected-Rq-Timeout-Ms"

// logLine is the part of a JSON log line that DecodeLogLine reads.
type logLine struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Attempt   int       `json:"attempt"`
	WaitMS    float64   `json:"wait_ms"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Error     string    `json:"error"`
	Outcome   string    `json:"outcome"`
	Duration  float64   `json:"duration_ms"`
	RequestID uint64    `json:"request_id"`
	Tier      string    `json:"tier"`
}

// DecodeLogLine turns one JSON log line of client-service into the results event it records,
// with the tier (AttrTier) of a client-service whose TIER is set.
// ok is false for a line that is not JSON or carries no known event attribute.
func DecodeLogLine(line []byte) (e Event, ok bool) {
	var l logLine
	if json.Unmarshal(line, &l) != nil {
		return Event{}, false
	}
	e = Event{Time: l.Time, RequestID: l.RequestID, Error: l.Error, Tier: l.Tier}
	switch l.Event {
	case LogRetry:
		e.Kind, e.Attempt, e.WaitMS = KindRetry, l.Attempt, l.WaitMS
	case LogBreaker:
		e.Kind, e.From, e.To, e.Error = KindBreaker, l.From, l.To, ""
	case LogFallback:
		e.Kind = KindFallback
	case LogAttempt:
		e.Kind, e.Attempt, e.Outcome, e.DurationMS = KindAttempt, l.Attempt, l.Outcome, l.Duration
	default:
		return Event{}, false
	}
	return e, true
}
