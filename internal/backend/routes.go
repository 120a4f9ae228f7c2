package backend

import (
	"net/http"

	"chaoslab/internal/httpserve"
)

// addRoutes maps backend-service's whole API.
func addRoutes(mux *http.ServeMux, d Deps) {
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, d.Metrics.Wrap(pattern, h)) }
	route("GET /api/data", handleData(d))
	route("GET /api/capacity", handleCapacityGet(d))
	route("PUT /api/capacity", handleCapacityPut(d))
	route("DELETE /api/capacity", handleCapacityReset(d))
	route("GET /healthz", httpserve.HandleHealthz())
	route("GET /readyz", httpserve.HandleReadyz(d.Ready))
	mux.Handle("GET /metrics", httpserve.HandleMetrics(d.Registry))
}
