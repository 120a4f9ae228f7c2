package client

import (
	"net/http"
	"sync/atomic"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
	"chaoslab/internal/tracing"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what client-service's handlers need.
type Deps struct {
	Config   Config
	Pipeline *resilience.Pipeline
	Backend  *backendClient
	// AttemptRecords is the lease of PUT /api/attempt-records, given to the pipeline too.
	AttemptRecords *resilience.AttemptLease
	Ready          *atomic.Bool           // readiness, owned by the server lifecycle
	Metrics        *httpserve.HTTPMetrics // request metrics
	Registry       prometheus.Gatherer    // served on /metrics
	Tracing        *tracing.Provider      // a SERVER span per request; nil = tracing off
}

// NewServer returns client-service's handler. It never listens.
func NewServer(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return d.Tracing.Handler(mux)
}
