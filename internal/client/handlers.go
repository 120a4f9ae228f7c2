package client

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
)

// DataAnswer is the answer of GET /api/data.
type DataAnswer struct {
	Source              resilience.Source `json:"source"`
	Data                json.RawMessage   `json:"data"` // the backend's JSON, null unless source is backend
	Error               string            `json:"error"`
	Attempts            int               `json:"attempts"` // backend calls made for this request
	CircuitBreakerState resilience.State  `json:"circuitBreakerState"`
}

// handleData calls the backend through the pipeline, passing it the request's X-Request-Id (for
// its records, and as it came for every backend attempt). A fallback is 200 with X-Fallback: true;
// without a fallback (RESILIENCE=off or retry) an error is 502.
// With DEADLINE_PROPAGATION=on (propagate) the caller's deadline, if it sent one, bounds the request.
func handleData(p *resilience.Pipeline, b *backendClient, propagate bool) http.Handler {
	aw := &answerWriter{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if id := r.Header.Get(results.RequestIDHeader); id != "" { // none reads as "" and 0: no context values to make
			ctx = withForwarded(resilience.WithRequestID(ctx, requestID(r)), id)
		}
		if d, ok := callerTimeout(r); ok && propagate {
			ctx = resilience.WithCallerTimeout(ctx, d)
		}
		out := p.Execute(ctx, b.fetch)
		a := DataAnswer{Source: out.Source, Data: out.Data, Attempts: out.Attempts, CircuitBreakerState: out.State}
		if out.Err != nil {
			a.Error = out.Err.Error()
		}
		switch out.Source {
		case resilience.SourceBackend:
			aw.write(w, http.StatusOK, a)
		case resilience.SourceFallback:
			w.Header().Set("X-Fallback", "true")
			aw.write(w, http.StatusOK, a)
		default:
			aw.write(w, http.StatusBadGateway, a)
		}
	})
}

// requestID is the request's X-Request-Id when it is a positive integer, else 0 (none).
func requestID(r *http.Request) uint64 {
	v := r.Header.Get(results.RequestIDHeader)
	if v == "" {
		return 0 // without the parse's error, which allocates
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// callerTimeout reads results.DeadlineHeader, the whole milliseconds the caller will still wait:
// ok is false when it is absent or not a whole number (treated as absent); 0 or less is 0 (the
// caller has given up).
func callerTimeout(r *http.Request) (d time.Duration, ok bool) {
	v := r.Header.Get(results.DeadlineHeader)
	if v == "" {
		return 0, false // without the parse's error, which allocates
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(min(max(ms, 0), math.MaxInt64/int64(time.Millisecond))) * time.Millisecond, true
}

// ResilienceAnswer is the answer of GET /api/resilience: the pipeline's snapshot and the
// configuration in force.
type ResilienceAnswer struct {
	resilience.Snapshot
	Tier   string            `json:"tier,omitempty"` // TIER, when set
	Config map[string]string `json:"config"`
}

func handleResilience(p *resilience.Pipeline, cfg Config) http.Handler {
	eff := cfg.Effective()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, ResilienceAnswer{Snapshot: p.Snapshot(), Tier: cfg.Tier, Config: eff})
	})
}

func handleDiagnostics(b *backendClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, b.diagnose(r.Context()))
	})
}
