package resilience

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// observer turns events into the log lines, the metrics and the snapshot counters.
type observer struct {
	log      *slog.Logger
	counts   counters
	metrics  *metrics // nil when no registry was given
	pipeline *Pipeline
}

// counters are the running totals the snapshot reports.
type counters struct {
	notPermitted, retries, fallbacks             atomic.Int64
	okWithout, okWith, failedWithout, failedWith atomic.Int64
}

func newObserver(log *slog.Logger, reg prometheus.Registerer, p *Pipeline) (*observer, error) {
	o := &observer{log: log.With("component", "resilience"), pipeline: p}
	if reg != nil {
		m, err := newMetrics(reg, p)
		if err != nil {
			return nil, err
		}
		o.metrics = m
	}
	return o, nil
}

func (o *observer) observe(e Event) {
	o.logEvent(e)
	o.count(e)
	if o.metrics != nil {
		o.metrics.observe(e)
	}
}

// logEvent writes the three log lines of DESIGN.md §2; operators and the lab grep for them.
func (o *observer) logEvent(e Event) {
	ctx := context.Background()
	switch e.Kind {
	case EventRetryScheduled:
		o.log.Warn(fmt.Sprintf("Retry '%s' - Attempt #%d", RetryName, e.Attempt),
			slog.Duration("wait", e.Wait), slog.String("error", errText(e.Err)))
	case EventStateChanged:
		level := slog.LevelInfo
		if e.To == StateOpen {
			level = slog.LevelWarn
		}
		o.log.Log(ctx, level, fmt.Sprintf("CircuitBreaker '%s' changed state: %s -> %s", BreakerName, e.From, e.To),
			slog.String("from", string(e.From)), slog.String("to", string(e.To)))
	case EventFallback:
		o.log.Warn("Fallback response due to error: "+errText(e.Err), slog.String("error", errText(e.Err)))
	}
}

func (o *observer) count(e Event) {
	c := &o.counts
	switch e.Kind {
	case EventRetryScheduled:
		c.retries.Add(1)
	case EventNotPermitted:
		c.notPermitted.Add(1)
	case EventFallback:
		c.fallbacks.Add(1)
	case EventRequestDone:
		c.retryCounter(e).Add(1)
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
	kind := "successful"
	if e.Err != nil {
		kind = "failed"
	}
	if e.Attempts > 1 {
		return kind + "_with_retry"
	}
	return kind + "_without_retry"
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
