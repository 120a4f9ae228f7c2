package resilience

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"chaoslab/internal/results"
)

// observer turns events into the log records, the metrics and the snapshot counters.
type observer struct {
	log      *slog.Logger
	attempts *slog.Logger // log, and while an AttemptLease is in force debug records too
	counts   counters
	metrics  *metrics // nil when no registry was given
	pipeline *Pipeline
	breaker  bool // the pipeline has a breaker (on, adaptive): its calls are counted

	// Budget refusals are logged at most once a second, with how many there were since.
	refusals     sync.Mutex
	refusedLog   time.Time // when the last line was written
	refusedSince int       // refusals not yet logged
}

// counters are the running totals the snapshot reports.
type counters struct {
	notPermitted, ignored, retries, fallbacks    atomic.Int64
	okWithout, okWith, failedWithout, failedWith atomic.Int64
	probesOK, probesFailed, budgetRefused        atomic.Int64 // adaptive profile
	retriesSkipped, expired                      atomic.Int64 // Config.Propagation
}

func newObserver(opts Options, p *Pipeline) (*observer, error) {
	o := &observer{log: opts.Logger.With("component", "resilience"), pipeline: p, breaker: p.cfg.hasBreaker()}
	o.attempts = o.log
	if opts.AttemptRecords != nil {
		o.attempts = slog.New(leaseHandler{Handler: opts.Logger.Handler(), lease: opts.AttemptRecords}).With("component", "resilience")
	}
	if opts.Registry != nil {
		m, err := newMetrics(opts.Registry, p)
		if err != nil {
			return nil, err
		}
		o.metrics = m
	}
	return o, nil
}

func (o *observer) observe(e Event) {
	o.logEvent(e)
	traceEvent(e)
	if e.Kind == EventAttempt && !o.breaker {
		return // without a breaker (off, retry) the calls are logged, not counted
	}
	o.count(e)
	if o.metrics != nil {
		o.metrics.observe(e)
	}
}

// logEvent writes the log records of DESIGN.md §2: the three human lines operators grep for,
// and the attempt records; each carries the structured attributes of results/logline.go, which
// programs read (results.DecodeLogLine).
func (o *observer) logEvent(e Event) {
	ctx := context.Background()
	switch e.Kind {
	case EventRetryScheduled:
		o.log.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf("Retry '%s' - Attempt #%d", RetryName, e.Attempt),
			withID(e, slog.String(results.AttrEvent, results.LogRetry), slog.Int(results.AttrAttempt, e.Attempt),
				slog.Duration("wait", e.Wait), slog.Float64(results.AttrWaitMS, ms(e.Wait)),
				slog.String(results.AttrError, errText(e.Err)))...)
	case EventStateChanged:
		level := slog.LevelInfo
		if e.To == StateOpen {
			level = slog.LevelWarn
		}
		o.log.LogAttrs(ctx, level, fmt.Sprintf("CircuitBreaker '%s' changed state: %s -> %s", BreakerName, e.From, e.To),
			slog.String(results.AttrEvent, results.LogBreaker),
			slog.String(results.AttrFrom, string(e.From)), slog.String(results.AttrTo, string(e.To)))
	case EventFallback:
		o.log.LogAttrs(ctx, slog.LevelWarn, "Fallback response due to error: "+errText(e.Err),
			withID(e, slog.String(results.AttrEvent, results.LogFallback), slog.String(results.AttrError, errText(e.Err)))...)
	case EventAttempt:
		o.logAttempt(ctx, e)
	case EventProbe:
		o.logProbe(ctx, e)
	case EventBudgetRefused:
		o.logRefusal(ctx, e)
	}
}

// logProbe writes a probe's record: a good probe at info (it ends the OPEN state), a failed one
// at debug (one per PROBE_INTERVAL while the backend is down).
func (o *observer) logProbe(ctx context.Context, e Event) {
	level, msg := slog.LevelInfo, fmt.Sprintf("Probe '%s' - backend /readyz answered in %s", BreakerName, e.Duration.Round(time.Microsecond))
	if e.Err != nil {
		level, msg = slog.LevelDebug, fmt.Sprintf("Probe '%s' - backend /readyz failed: %s", BreakerName, errText(e.Err))
	}
	if !o.log.Enabled(ctx, level) {
		return
	}
	o.log.LogAttrs(ctx, level, msg, slog.String(results.AttrEvent, results.LogProbe),
		slog.String(results.AttrOutcome, e.Outcome), slog.Float64(results.AttrDuration, ms(e.Duration)),
		slog.String(results.AttrError, errText(e.Err)))
}

// logRefusal writes at most one line a second about the retries the budget refused, with their
// number since the previous line and the last one's error.
func (o *observer) logRefusal(ctx context.Context, e Event) {
	o.refusals.Lock()
	o.refusedSince++
	if e.Time.Sub(o.refusedLog) < time.Second {
		o.refusals.Unlock()
		return
	}
	n := o.refusedSince
	o.refusedSince, o.refusedLog = 0, e.Time
	o.refusals.Unlock()
	o.log.LogAttrs(ctx, slog.LevelWarn,
		fmt.Sprintf("Retry '%s' budget exceeded: %d retries refused since the last such line, answered by the fallback; the last after: %s", RetryName, n, errText(e.Err)),
		withID(e, slog.String(results.AttrEvent, results.LogBudget), slog.Int(results.AttrRefused, n),
			slog.String(results.AttrError, errText(e.Err)))...)
}

// logAttempt writes one backend call's record, at debug level: one per call would flood the
// info logs at high rates. An AttemptLease in force writes it whatever the level.
func (o *observer) logAttempt(ctx context.Context, e Event) {
	if !o.attempts.Enabled(ctx, slog.LevelDebug) {
		return
	}
	o.attempts.LogAttrs(ctx, slog.LevelDebug, fmt.Sprintf("Backend call #%d: %s", e.Attempt, e.Outcome),
		withID(e, slog.String(results.AttrEvent, results.LogAttempt), slog.Int(results.AttrAttempt, e.Attempt),
			slog.String(results.AttrOutcome, e.Outcome), slog.Float64(results.AttrDuration, ms(e.Duration)),
			slog.String(results.AttrError, errText(e.Err)))...)
}

// withID appends the request id to attrs, when the request has one.
func withID(e Event, attrs ...slog.Attr) []slog.Attr {
	if e.RequestID != 0 {
		attrs = append(attrs, slog.Uint64(results.AttrRequestID, e.RequestID))
	}
	return attrs
}

// ms is d in milliseconds, the unit of the *_ms attributes.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (o *observer) count(e Event) {
	c := &o.counts
	switch e.Kind {
	case EventRetryScheduled:
		c.retries.Add(1)
	case EventAttempt:
		if e.Outcome == results.OutcomeIgnored {
			c.ignored.Add(1)
		}
	case EventNotPermitted:
		c.notPermitted.Add(1)
	case EventFallback:
		c.fallbacks.Add(1)
	case EventRequestDone:
		c.retryCounter(e).Add(1)
	case EventProbe:
		if e.Err == nil {
			c.probesOK.Add(1)
		} else {
			c.probesFailed.Add(1)
		}
	case EventBudgetRefused:
		c.budgetRefused.Add(1)
	case EventRetrySkipped:
		c.retriesSkipped.Add(1)
	case EventExpired:
		c.expired.Add(1)
	}
}

// retryCounter picks the Resilience4j retry outcome a finished request counts as.
func (c *counters) retryCounter(e Event) *atomic.Int64 {
	switch {
	case e.Err == nil && e.Attempts <= 1:
		return &c.okWithout
	case e.Err == nil:
		return &c.okWith
	case e.Attempts <= 1:
		return &c.failedWithout
	default:
		return &c.failedWith
	}
}

// retryKind is the Resilience4j label of a finished request.
func retryKind(e Event) string {
	switch {
	case e.Err == nil && e.Attempts <= 1:
		return "successful_without_retry"
	case e.Err == nil:
		return "successful_with_retry"
	case e.Attempts <= 1:
		return "failed_without_retry"
	default:
		return "failed_with_retry"
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
