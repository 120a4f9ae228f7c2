package httpserve

import (
	"net/http"
	"strconv"
	"sync/atomic"
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
	var last atomic.Pointer[routeMeters] // the meters of the last answer's method and status
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rm := last.Load()
		if rm == nil || rm.status != sw.status || rm.method != r.Method {
			rm = m.meters(uri, r.Method, sw.status)
			last.Store(rm)
		}
		rm.requests.Inc()
		rm.duration.Observe(time.Since(start).Seconds())
	})
}

// routeMeters are the series of one route, method and status: a route's answers mostly share
// them, so Wrap keeps the last ones instead of looking them up by their labels every time.
type routeMeters struct {
	method   string
	status   int
	requests prometheus.Counter
	duration prometheus.Observer
}

// meters looks up (and so creates, at the first answer that needs them) the series of uri,
// method and status.
func (m *HTTPMetrics) meters(uri, method string, status int) *routeMeters {
	code := strconv.Itoa(status)
	return &routeMeters{method: method, status: status,
		requests: m.requests.WithLabelValues(uri, method, code), duration: m.duration.WithLabelValues(uri, method, code)}
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
