package resilience

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// r4jStates are Resilience4j's six circuit breaker states (CircuitBreaker.State; the state
// label is their name in lower case). This breaker enters the first four; FORCED_OPEN and
// METRICS_ONLY (Resilience4j's manual states) are exported at 0 so that dashboards find all six.
func r4jStates() []State {
	return []State{StateClosed, StateOpen, StateHalfOpen, StateDisabled, "FORCED_OPEN", "METRICS_ONLY"}
}

// breakerCollector exports the circuit breaker's gauges as resilience4j-micrometer's
// TaggedCircuitBreakerMetrics does, every value of one scrape read from one BreakerSnapshot so
// that they agree with each other and with GET /api/resilience:
//
//   - resilience4j_circuitbreaker_state{state}: 1 for the current state, 0 for the other five.
//   - resilience4j_circuitbreaker_buffered_calls{kind="successful"|"failed"}: the calls that
//     judge the current state (Resilience4j's getNumberOfSuccessfulCalls/FailedCalls): the
//     sliding window when CLOSED, the window that opened the breaker when OPEN, the trials when
//     HALF_OPEN; 0 without a breaker.
//   - resilience4j_circuitbreaker_failure_rate: percent of those calls that failed; -1 until the
//     minimum number of calls is buffered (MINIMUM_CALLS when CLOSED, the trials when HALF_OPEN).
//   - resilience4j_circuitbreaker_slow_calls{kind} and _slow_call_rate: this breaker has no
//     slow-call threshold (Resilience4j's slowCallDurationThreshold; its default of 60 s is
//     longer than any attempt here), so no call is slow: the counts are 0, and the rate is 0
//     once the failure rate is defined, -1 while it is not.
//
// The removed max_buffered_calls is not exported.
type breakerCollector struct {
	p                                *Pipeline
	state, buffered, slow, rate, slr *prometheus.Desc
}

func newBreakerCollector(p *Pipeline) *breakerCollector {
	cb := prometheus.Labels{"name": BreakerName}
	return &breakerCollector{p: p,
		state: prometheus.NewDesc("resilience4j_circuitbreaker_state",
			"The circuit breaker's state: 1 for the current state, 0 for the others.", []string{"state"}, cb),
		buffered: prometheus.NewDesc("resilience4j_circuitbreaker_buffered_calls",
			"Calls buffered in the window that judges the current state, by outcome (successful, failed).", []string{"kind"}, cb),
		slow: prometheus.NewDesc("resilience4j_circuitbreaker_slow_calls",
			"Buffered calls slower than the slow-call threshold, by outcome; always 0: this breaker judges no slow calls.", []string{"kind"}, cb),
		rate: prometheus.NewDesc("resilience4j_circuitbreaker_failure_rate",
			"Failure rate of the calls in the window, in percent; -1 below the minimum number of calls.", nil, cb),
		slr: prometheus.NewDesc("resilience4j_circuitbreaker_slow_call_rate",
			"Slow-call rate of the calls in the window, in percent; -1 below the minimum number of calls; 0 above it, as no call is judged slow.", nil, cb),
	}
}

// Describe sends the descriptions of the breaker's gauges.
func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.buffered, c.slow, c.rate, c.slr} {
		ch <- d
	}
}

// Collect sends the breaker's gauges, read from one snapshot.
func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.breakerSnapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range r4jStates() {
		v := 0.0
		if s.State == st {
			v = 1
		}
		gauge(c.state, v, strings.ToLower(string(st)))
	}
	gauge(c.buffered, float64(s.BufferedCalls-s.FailedCalls), "successful")
	gauge(c.buffered, float64(s.FailedCalls), "failed")
	gauge(c.slow, 0, "successful")
	gauge(c.slow, 0, "failed")
	gauge(c.rate, s.FailureRate)
	slow := 0.0
	if s.FailureRate < 0 {
		slow = -1
	}
	gauge(c.slr, slow)
}
