package backend

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/results"
)

// deadlineHeader carries the milliseconds a caller will still wait, measured when it sent the
// request (Envoy's name), as client-service sends it.
const deadlineHeader = results.DeadlineHeader

// maxDeadlineMs bounds the deadline header; a longer one is as good as none.
const maxDeadlineMs = 24 * 60 * 60 * 1000

// Data is the answer of GET /api/data.
type Data struct {
	Service   string `json:"service"`
	Instance  string `json:"instance"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	Padding   string `json:"padding,omitempty"` // PAYLOAD_BYTES of filler, absent when 0
}

// handleData answers GET /api/data: at once, or through the capacity model when there is one.
func handleData(d Deps) http.Handler {
	answer := handleAnswer(d)
	if d.Capacity == nil {
		return answer
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := d.Capacity.Do(r.Context(), deadlineOf(r, time.Now()))
		switch out {
		case capacity.Completed, capacity.Wasted:
			answer.ServeHTTP(w, r)
			return
		case capacity.Rejected:
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, refusal(out), http.StatusServiceUnavailable)
	})
}

// refusal is the plain-text reason of a 503 answer of the capacity model.
func refusal(out capacity.Outcome) string {
	switch out {
	case capacity.Rejected:
		return "backend-service is at capacity: every worker is busy and the queue is full"
	case capacity.Expired:
		return "the request's deadline (" + deadlineHeader + ") passed while it waited for a worker"
	case capacity.Cut:
		return "the request's deadline (" + deadlineHeader + ") passed in service: its work was stopped"
	}
	return "backend-service is shutting down"
}

func handleAnswer(d Deps) http.Handler {
	padding := strings.Repeat("x", d.PayloadBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, Data{
			Service:   "backend-service",
			Instance:  d.Instance,
			Message:   "Hello from backend-service",
			Timestamp: d.Now().UTC().Format(time.RFC3339Nano),
			Padding:   padding,
		})
	})
}

// deadlineOf is the time after which r's caller no longer wants the answer: its arrival plus
// the deadline header's milliseconds. Zero (none) without the header or with a value that is
// not a whole number from 0 to a day.
func deadlineOf(r *http.Request, arrived time.Time) time.Time {
	ms, err := strconv.ParseInt(r.Header.Get(deadlineHeader), 10, 64)
	if err != nil || ms < 0 || ms > maxDeadlineMs {
		return time.Time{}
	}
	return arrived.Add(time.Duration(ms) * time.Millisecond)
}
