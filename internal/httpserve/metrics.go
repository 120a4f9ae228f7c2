package httpserve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPMetrics counts and times the requests a server answers, by route pattern, method and
// status (http_server_requests_total and the http_server_requests_seconds histogram).
// It is safe for concurrent use.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers the HTTP server metrics on reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	labels := []string{"uri", "method", "status"}
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_server_requests_total", Help: "HTTP requests answered.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_server_requests_seconds", Help: "Time to answer HTTP requests.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, labels),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Wrap instruments h, served under the route pattern uri.
func (m *HTTPMetrics) Wrap(uri string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		status := strconv.Itoa(sw.status)
		m.requests.WithLabelValues(uri, r.Method, status).Inc()
		m.duration.WithLabelValues(uri, r.Method, status).Observe(time.Since(start).Seconds())
	})
}

// HandleMetrics serves the registry g in the Prometheus text format.
func HandleMetrics(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
