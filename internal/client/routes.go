package client

import (
	"net/http"

	"chaoslab/internal/httpserve"
)

// addRoutes maps client-service's whole API.
func addRoutes(mux *http.ServeMux, d Deps) {
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, d.Metrics.Wrap(pattern, h)) }
	route("GET /api/data", handleData(d.Pipeline, d.Backend, d.Config.DeadlinePropagation))
	route("GET /api/resilience", handleResilience(d.Pipeline, d.Config))
	route("GET /api/diagnostics/backend", handleDiagnostics(d.Backend))
	route("GET /api/attempt-records", handleAttemptRecords(d.Pipeline, d.AttemptRecords))
	route("PUT /api/attempt-records", handleLeaseAttemptRecords(d.Pipeline, d.AttemptRecords)) // ?for=2m, for=0 = off
	route("GET /healthz", httpserve.HandleHealthz())
	route("GET /readyz", httpserve.HandleReadyz(d.Ready))
	mux.Handle("GET /metrics", httpserve.HandleMetrics(d.Registry))
}
