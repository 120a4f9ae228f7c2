package backend

import (
	"net/http"
	"strings"
	"time"

	"chaoslab/internal/httpserve"
)

// Data is the answer of GET /api/data.
type Data struct {
	Service   string `json:"service"`
	Instance  string `json:"instance"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	Padding   string `json:"padding,omitempty"` // PAYLOAD_BYTES of filler, absent when 0
}

func handleData(d Deps) http.Handler {
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
