package httpserve

import (
	"net/http"
	"sync/atomic"
)

// HandleHealthz answers liveness: 200 while the process runs.
func HandleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
}

// HandleReadyz answers readiness: 200 while ready is set, 503 before listening and once shutdown
// has begun. It never depends on anything outside the process.
func HandleReadyz(ready *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("shutting down\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
}
