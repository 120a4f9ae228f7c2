package resilience

import (
	"strings"

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
	for _, o := range []string{results.OutcomeSuccess, results.OutcomeFailure, results.OutcomeIgnored} {
		m.calls.WithLabelValues(callKind(o))
	}
	for _, k := range []string{"successful_without_retry", "successful_with_retry", "failed_without_retry", "failed_with_retry"} {
		m.retryCalls.WithLabelValues(k)
	}
	cs := []prometheus.Collector{m.calls, m.notPermitted, m.retryCalls, m.fallbacks}
	cs = append(cs, stateGauges(p)...)
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

// stateGauges are resilience4j_circuitbreaker_state: 1 for the current state, 0 for the others,
// read at scrape time from Pipeline.State.
func stateGauges(p *Pipeline) []prometheus.Collector {
	var gs []prometheus.Collector
	for _, s := range []State{StateClosed, StateOpen, StateHalfOpen, StateDisabled} {
		gs = append(gs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "resilience4j_circuitbreaker_state",
			Help:        "The circuit breaker's state: 1 for the current state, 0 for the others.",
			ConstLabels: prometheus.Labels{"name": BreakerName, "state": strings.ToLower(string(s))},
		}, func() float64 {
			if p.State() == s {
				return 1
			}
			return 0
		}))
	}
	gs = append(gs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "resilience4j_circuitbreaker_failure_rate",
		Help:        "Failure rate of the calls in the window, in percent; -1 below the minimum number of calls.",
		ConstLabels: prometheus.Labels{"name": BreakerName},
	}, func() float64 { return p.Snapshot().CircuitBreaker.FailureRate }))
	return gs
}

func (m *metrics) observe(e Event) {
	switch e.Kind {
	case EventAttempt:
		m.calls.WithLabelValues(callKind(e.Outcome)).Observe(e.Duration.Seconds())
	case EventNotPermitted:
		m.notPermitted.Inc()
	case EventFallback:
		m.fallbacks.Inc()
	case EventRequestDone:
		m.retryCalls.WithLabelValues(retryKind(e)).Inc()
	}
}
