package resilience

import (
	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/results"
)

// metrics are the pipeline's Prometheus metrics, named as Resilience4j's Micrometer binder names
// them so that existing dashboards work.
type metrics struct {
	calls        *prometheus.HistogramVec
	notPermitted prometheus.Counter
	retryCalls   *prometheus.CounterVec
	fallbacks    prometheus.Counter
	probes       *prometheus.CounterVec // adaptive profile
	refused      prometheus.Counter     // adaptive profile
	skipped      prometheus.Counter     // Config.Propagation
	expired      prometheus.Counter     // Config.Propagation

	// The children of calls and retryCalls, by label value, made once with the vectors (they
	// are exported from the start, at 0), so that counting a call looks nothing up.
	callsBy      map[string]prometheus.Observer // by results.Outcome*
	retryCallsBy map[string]prometheus.Counter  // by retryKind
}

func newMetrics(reg prometheus.Registerer, p *Pipeline) (*metrics, error) {
	cb := prometheus.Labels{"name": BreakerName}
	m := &metrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "resilience4j_circuitbreaker_calls_seconds", Help: "Calls the circuit breaker permitted, by outcome (ignored: cut by their caller).",
			ConstLabels: cb, Buckets: prometheus.DefBuckets,
		}, []string{"kind"}),
		notPermitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resilience4j_circuitbreaker_not_permitted_calls_total", Help: "Calls the circuit breaker rejected.",
			ConstLabels: cb,
		}),
		retryCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resilience4j_retry_calls_total", Help: "Requests through the retry, by outcome.",
			ConstLabels: prometheus.Labels{"name": RetryName},
		}, []string{"kind"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "client_fallback_responses_total", Help: "Answers made by the fallback.",
		}),
	}
	m.callsBy, m.retryCallsBy = map[string]prometheus.Observer{}, map[string]prometheus.Counter{}
	for _, o := range []string{results.OutcomeSuccess, results.OutcomeFailure, results.OutcomeIgnored} {
		m.callsBy[o] = m.calls.WithLabelValues(callKind(o))
	}
	for _, k := range []string{"successful_without_retry", "successful_with_retry", "failed_without_retry", "failed_with_retry"} {
		m.retryCallsBy[k] = m.retryCalls.WithLabelValues(k)
	}
	cs := []prometheus.Collector{m.calls, m.notPermitted, m.retryCalls, m.fallbacks}
	cs = append(cs, newBreakerCollector(p))
	if p.cfg.hasBreaker() && p.cfg.Adaptive.Enabled {
		cs = append(cs, m.adaptive(p)...)
	}
	if p.cfg.Propagation {
		cs = append(cs, m.deadline()...)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// callKind is Resilience4j's kind label of a call whose outcome is one of results.Outcome*.
func callKind(outcome string) string {
	switch outcome {
	case results.OutcomeFailure:
		return "failed"
	case results.OutcomeIgnored:
		return "ignored"
	}
	return "successful"
}

// adaptive makes the adaptive profile's metrics: the attempt timeout in force, the budget's
// use, its refusals and the probes' results.
func (m *metrics) adaptive(p *Pipeline) []prometheus.Collector {
	m.probes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "client_breaker_probes_total", Help: "Probes of the backend's /readyz while the breaker was OPEN, by result.",
		ConstLabels: prometheus.Labels{"name": BreakerName},
	}, []string{"result"})
	m.probes.WithLabelValues("success")
	m.probes.WithLabelValues("failure")
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "client_retry_budget_refused_total", Help: "Retries the retry budget refused (the request got the fallback).",
		ConstLabels: prometheus.Labels{"name": RetryName},
	})
	return []prometheus.Collector{m.probes, m.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "client_adaptive_attempt_timeout_seconds", Help: "The attempt timeout in force: clamp(p99.9 of recent successful calls × ADAPTIVE_TIMEOUT_FACTOR, ADAPTIVE_TIMEOUT_FLOOR, ATTEMPT_TIMEOUT).",
		}, func() float64 { return p.adaptive.timeout.current().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "client_retry_budget_rate", Help: "Share of the executions in flight that are retries, from 0 to 1 (the budget refuses above RETRY_BUDGET_PERCENT).",
			ConstLabels: prometheus.Labels{"name": RetryName},
		}, func() float64 { return p.adaptive.budget.Rate() }),
	}
}

// deadline makes the metrics of the caller's deadlines (Config.Propagation).
func (m *metrics) deadline() []prometheus.Collector {
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "client_retries_skipped_deadline_total", Help: "Retries not started: the caller's deadline left less than DEADLINE_MIN_ATTEMPT.",
		ConstLabels: prometheus.Labels{"name": RetryName},
	})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "client_requests_expired_on_arrival_total", Help: "Requests whose caller's deadline had passed on arrival, answered without calling the backend.",
	})
	return []prometheus.Collector{m.skipped, m.expired}
}

func (m *metrics) observe(e Event) {
	switch e.Kind {
	case EventAttempt:
		c, ok := m.callsBy[e.Outcome]
		if !ok {
			c = m.calls.WithLabelValues(callKind(e.Outcome))
		}
		c.Observe(e.Duration.Seconds())
	case EventNotPermitted:
		m.notPermitted.Inc()
	case EventFallback:
		m.fallbacks.Inc()
	case EventRequestDone:
		m.retryCallsBy[retryKind(e)].Inc()
	case EventProbe:
		m.probes.WithLabelValues(e.Outcome).Inc()
	case EventBudgetRefused:
		m.refused.Inc()
	case EventRetrySkipped:
		m.skipped.Inc()
	case EventExpired:
		m.expired.Inc()
	}
}
