package resilience

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is what the pipeline needs to trace; the zero value traces nothing.
//
// With a Tracer, every backend call is a CLIENT span, child of the span in Execute's context
// (the incoming request's SERVER span), and the call's context carries it, so the call sends
// its trace context on; its http.request.resend_count is the number of calls before it in the
// request, its error.type and status say how it failed. The policies' decisions are span events
// on the request's span, in the order they happened: a retry scheduled (SpanEventRetry), a
// call the breaker refused (SpanEventRejected), a retry the budget refused or the caller's
// deadline left no room for, a caller's deadline already passed, the fallback
// (SpanEventFallback). Each adaptive probe is a span of its own, the root of its trace. All of
// it is made from the pipeline's Events (observe.go), like the log records and the metrics.
type Tracing struct {
	Tracer trace.Tracer // nil: no spans
	Call   SpanStart    // the CLIENT span of a backend call
	Probe  SpanStart    // the span of an adaptive probe of the backend
}

// SpanStart is a span's name and the attributes known before it starts (for an HTTP call: its
// method, url.full, server.address and server.port).
type SpanStart struct {
	Name       string
	Attributes []attribute.KeyValue
}

// Attributes of the pipeline's spans and span events.
const (
	AttrState     = "chaoslab.state"      // the breaker's state: a call was permitted in, a call was refused in
	AttrAttempt   = "chaoslab.attempt"    // a retry's number (1 = the first retry)
	AttrWaitMS    = "chaoslab.wait_ms"    // the wait before a retry, in milliseconds
	AttrReason    = "chaoslab.reason"     // the error behind a decision
	AttrOutcome   = "chaoslab.outcome"    // a call's or a probe's outcome for the breaker: success, failure, ignored
	AttrTimeoutMS = "chaoslab.timeout_ms" // how long this hop would wait for a call, in milliseconds
	AttrAttempts  = "chaoslab.attempts"   // on the request's span: the backend calls it made
	AttrRequestID = "chaoslab.request_id" // on the request's span: its X-Request-Id, when a number
)

// Names of the span events on a request's span.
const (
	SpanEventRetry         = "chaoslab.retry"                // a retry was scheduled: attempt, wait_ms, reason
	SpanEventRejected      = "chaoslab.breaker.rejected"     // the breaker refused a call or woke the request: state, reason
	SpanEventBudgetRefused = "chaoslab.retry.budget_refused" // adaptive: the retry budget refused a retry: attempt, reason
	SpanEventRetrySkipped  = "chaoslab.retry.skipped"        // too little of the caller's deadline was left for a retry: reason
	SpanEventExpired       = "chaoslab.deadline.expired"     // the caller's deadline had passed on arrival: reason
	SpanEventFallback      = "chaoslab.fallback"             // the fallback answered: reason
)

// annotate puts a request's id on its span (the span of ctx) as chaoslab.request_id, when the
// pipeline traces and the request has one.
func (p *Pipeline) annotate(ctx context.Context, id uint64) {
	if p.tracing.Tracer == nil || id == 0 {
		return
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		s.SetAttributes(attribute.Int64(AttrRequestID, int64(id)))
	}
}

// spanOf is the span of request r (the caller's span, in its context), nil when the pipeline
// does not trace.
func (p *Pipeline) spanOf(r *request) trace.Span {
	if p.tracing.Tracer == nil {
		return nil
	}
	return trace.SpanFromContext(r.caller)
}

// startCall starts the CLIENT span of call n, permitted in the breaker's state ("" = no
// breaker), which will wait until deadline; ctx carries it. Without a tracer: ctx and nil. The
// attributes are set once the span is known to be recorded (no sampler here reads them), so an
// unsampled call costs little more than its trace context.
func (p *Pipeline) startCall(ctx context.Context, n int, state State, deadline time.Time) (context.Context, trace.Span) {
	if p.tracing.Tracer == nil {
		return ctx, nil
	}
	ctx, s := p.tracing.Tracer.Start(ctx, p.tracing.Call.Name, trace.WithSpanKind(trace.SpanKindClient))
	if !s.IsRecording() {
		return ctx, s
	}
	s.SetAttributes(p.tracing.Call.Attributes...)
	if n > 1 {
		s.SetAttributes(semconv.HTTPRequestResendCount(n - 1))
	}
	if state == "" {
		state = StateDisabled
	}
	s.SetAttributes(attribute.String(AttrState, string(state)), attribute.Float64(AttrTimeoutMS, ms(time.Until(deadline))))
	return ctx, s
}

// startProbe starts the span of a probe, the root of a trace of its own; ctx carries it.
func (p *Pipeline) startProbe(ctx context.Context) (context.Context, trace.Span) {
	if p.tracing.Tracer == nil {
		return ctx, nil
	}
	ctx, s := p.tracing.Tracer.Start(ctx, p.tracing.Probe.Name, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient))
	if s.IsRecording() {
		s.SetAttributes(p.tracing.Probe.Attributes...)
		s.SetAttributes(attribute.String(AttrState, string(StateOpen)))
	}
	return ctx, s
}

// traceEvent puts e on its span: it ends a call's or a probe's span with its outcome, and adds
// the policies' decisions to the request's span.
func traceEvent(e Event) {
	s := e.span
	switch {
	case s == nil:
		return
	case e.Kind == EventAttempt, e.Kind == EventProbe:
		endSpan(s, e)
		return
	case !s.IsRecording():
		return
	}
	at := trace.WithTimestamp(e.Time)
	reason := attribute.String(AttrReason, errText(e.Err))
	switch e.Kind {
	case EventRetryScheduled:
		s.AddEvent(SpanEventRetry, at, trace.WithAttributes(attribute.Int(AttrAttempt, e.Attempt),
			attribute.Float64(AttrWaitMS, ms(e.Wait)), reason))
	case EventNotPermitted:
		s.AddEvent(SpanEventRejected, at, trace.WithAttributes(attribute.String(AttrState, string(e.State)), reason))
	case EventBudgetRefused:
		s.AddEvent(SpanEventBudgetRefused, at, trace.WithAttributes(attribute.Int(AttrAttempt, e.Attempt), reason))
	case EventRetrySkipped:
		s.AddEvent(SpanEventRetrySkipped, at, trace.WithAttributes(reason))
	case EventExpired:
		s.AddEvent(SpanEventExpired, at, trace.WithAttributes(reason))
	case EventFallback:
		s.AddEvent(SpanEventFallback, at, trace.WithAttributes(reason))
	case EventRequestDone:
		s.SetAttributes(attribute.Int(AttrAttempts, e.Attempts))
	}
}

// endSpan ends the span of a call or a probe: its outcome, and on an error its error.type and
// an Error status with the error's text.
func endSpan(s trace.Span, e Event) {
	if s.IsRecording() {
		s.SetAttributes(attribute.String(AttrOutcome, e.Outcome))
		if e.Err != nil {
			s.SetAttributes(semconv.ErrorTypeKey.String(errorType(e.Err)))
			s.SetStatus(codes.Error, errText(e.Err))
		}
	}
	s.End(trace.WithTimestamp(e.Time))
}

// errorType is the error.type of a failed call: the status code of an answer, or a short name
// of the failure; "_OTHER" for the rest.
func errorType(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, ErrAttemptTimeout), errors.Is(err, ErrRequestTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection_reset"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}
