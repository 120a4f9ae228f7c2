package client

import (
	"fmt"
	"net/http"
	"time"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
)

// maxAttemptLease bounds PUT /api/attempt-records?for=: a lease ends by itself, so a run that is
// killed never leaves the records on for long.
const maxAttemptLease = time.Hour

// AttemptRecordsAnswer is the answer of GET and PUT /api/attempt-records.
type AttemptRecordsAnswer struct {
	Enabled bool      `json:"enabled"`        // a record of every backend call is written now (a lease, or LOG_LEVEL=debug)
	Until   time.Time `json:"until,omitzero"` // when the lease in force ends; absent without one
}

// ErrorAnswer is the answer of a request the client refuses (400).
type ErrorAnswer struct {
	Error string `json:"error"`
}

// handleAttemptRecords answers whether the attempt records are written, and until when.
func handleAttemptRecords(p *resilience.Pipeline, l *resilience.AttemptLease) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, attemptRecords(p, l))
	})
}

// handleLeaseAttemptRecords turns the attempt records on for ?for= (a Go duration up to
// maxAttemptLease), whatever LOG_LEVEL, or off with for=0: a run on a cluster whose ConfigMap
// says LOG_LEVEL=info counts the calls per request exactly for its duration, without a restart.
func handleLeaseAttemptRecords(p *resilience.Pipeline, l *resilience.AttemptLease) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := leaseDuration(r.URL.Query().Get("for"))
		if err != nil {
			httpserve.WriteJSON(w, http.StatusBadRequest, ErrorAnswer{Error: err.Error()})
			return
		}
		l.Grant(d)
		httpserve.WriteJSON(w, http.StatusOK, attemptRecords(p, l))
	})
}

func attemptRecords(p *resilience.Pipeline, l *resilience.AttemptLease) AttemptRecordsAnswer {
	a := AttemptRecordsAnswer{Enabled: p.AttemptRecords()}
	if until := l.Until(); !until.IsZero() {
		a.Until = until.UTC()
	}
	return a
}

// leaseDuration reads the for parameter of PUT /api/attempt-records.
func leaseDuration(v string) (time.Duration, error) {
	if v == "" {
		return 0, fmt.Errorf("for is required: how long to write the attempt records, a Go duration up to %s such as ?for=2m (0 turns them off)", maxAttemptLease)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("for=%q: not a duration; use a Go duration such as 30s, 2m or 1h (0 turns the records off)", v)
	}
	if d < 0 || d > maxAttemptLease {
		return 0, fmt.Errorf("for=%q: must be from 0 (off) to %s", v, maxAttemptLease)
	}
	return d, nil
}
