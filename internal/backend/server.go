package backend

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/tracing"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what backend-service's handlers need.
type Deps struct {
	Instance string                 // this instance's name (the hostname)
	Ready    *atomic.Bool           // readiness, owned by the server lifecycle
	Metrics  *httpserve.HTTPMetrics // request metrics
	Registry prometheus.Gatherer    // served on /metrics
	Now      func() time.Time       // clock of the answers' timestamps
	// PayloadBytes is the size of the padding field of /api/data answers (0 = none).
	PayloadBytes int
	// Capacity is the finite capacity GET /api/data goes through; nil = none, answers at once
	// (the default). /api/capacity shows and changes it.
	Capacity *capacity.Pool
	Logger   *slog.Logger      // gets the changes of capacity; nil = none
	Tracing  *tracing.Provider // a SERVER span per request; nil = tracing off
}

// NewServer returns backend-service's handler. It never listens.
func NewServer(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return d.Tracing.Handler(mux)
}
