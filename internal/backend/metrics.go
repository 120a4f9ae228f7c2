package backend

import (
	"chaoslab/internal/capacity"

	"github.com/prometheus/client_golang/prometheus"
)

// capacityMetric is one metric of the capacity model and how it is read from a snapshot.
type capacityMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(capacity.Settings, capacity.Stats) float64
}

// capacityCollector exports the capacity model's figures, all read from one snapshot, so they
// agree with each other and with GET /api/capacity.
type capacityCollector struct {
	pool    *capacity.Pool
	metrics []capacityMetric
}

func newCapacityCollector(p *capacity.Pool) *capacityCollector {
	m := func(name, help string, kind prometheus.ValueType, value func(capacity.Settings, capacity.Stats) float64) capacityMetric {
		return capacityMetric{prometheus.NewDesc(name, help, nil, nil), kind, value}
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	return &capacityCollector{pool: p, metrics: []capacityMetric{
		m("backend_workers", "Requests served at once (0 = unlimited).", gauge,
			func(s capacity.Settings, _ capacity.Stats) float64 { return float64(s.Workers) }),
		m("backend_requests_in_service", "Requests holding a worker.", gauge,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.InService) }),
		m("backend_requests_queued", "Requests waiting for a worker.", gauge,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.Queued) }),
		m("backend_requests_rejected_total", "Requests answered 503 at once because the queue was full.", counter,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.Rejected) }),
		m("backend_requests_expired_total", "Requests dropped from the queue when their deadline passed.", counter,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.Expired) }),
		m("backend_requests_completed_total", "Requests served for a caller still waiting.", counter,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.Completed) }),
		m("backend_requests_wasted_total", "Requests served, in full or until their deadline, for a caller that had gone.", counter,
			func(_ capacity.Settings, st capacity.Stats) float64 { return float64(st.Wasted) }),
	}}
}

// Describe sends the descriptions of the capacity metrics.
func (c *capacityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect sends the capacity metrics of one snapshot.
func (c *capacityCollector) Collect(ch chan<- prometheus.Metric) {
	s, st := c.pool.Snapshot()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s, st))
	}
}
