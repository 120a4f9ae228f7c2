package client

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"chaoslab/internal/backend"
)

// BenchmarkHotPath prices one healthy GET /api/data (RESILIENCE=on, the breaker CLOSED, the
// backend answering 200), the path every request takes while nothing is wrong:
//
//   - handler: client-service's whole handler as Run builds it (routes, HTTP metrics, the
//     pipeline, the backend call up to its transport, the answer), the backend answering in
//     memory and the answer written to a writer that keeps nothing, so allocs/op and B/op are
//     the service's own work per request (plus the in-memory backend's answer: 6 allocations);
//   - loopback: the real services over loopback, client-service in front of backend-service, 16
//     requests at a time from a keep-alive client; ns/op is the wall time of the whole run per
//     request (its inverse is the throughput on this machine), allocs/op counts everything the
//     process allocated per request: the benchmark's client, client-service and backend-service.
//
// Compare before and after with
//
//	go test -run '^$' -bench HotPath -benchmem -count 5 ./internal/client/
func BenchmarkHotPath(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		h, rt, _ := benchServer(b, map[string]string{"BACKEND_URL": "http://backend.invalid:8081"})
		req := httptest.NewRequest(http.MethodGet, "/api/data", nil)
		w := &nullWriter{header: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.header)
			w.status, w.n = 0, 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK || w.header.Get("X-Fallback") != "" || w.n == 0 {
				b.Fatalf("status %d, X-Fallback %q, %d bytes", w.status, w.header.Get("X-Fallback"), w.n)
			}
		}
		b.StopTimer()
		if got := rt.calls.Load(); got < int64(b.N) {
			b.Fatalf("%d backend calls for %d requests", got, b.N)
		}
	})
	b.Run("loopback", func(b *testing.B) {
		be := start(b, backend.Run, nil)
		cl := start(b, Run, map[string]string{"BACKEND_URL": be.URL})
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		defer hc.CloseIdleConnections()
		url := cl.URL + "/api/data"
		b.SetParallelism(8) // 16 requests at a time on 2 cores
		b.ReportAllocs()
		b.ResetTimer()
		getHealthyInParallel(b, hc, url)
		b.StopTimer()
		cl.shutdown(b)
		be.shutdown(b)
	})
}

// nullWriter is an http.ResponseWriter that keeps the status and the number of bytes written.
type nullWriter struct {
	header http.Header
	status int
	n      int
}

func (w *nullWriter) Header() http.Header { return w.header }

func (w *nullWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *nullWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
