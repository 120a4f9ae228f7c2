package fault

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/backend"
	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
)

// startCapacityBackend serves the real backend-service handler with a capacity model (workers
// 4, a fixed 1 ms service time) and returns its URL and its pool.
func startCapacityBackend(t *testing.T) (string, *capacity.Pool) {
	t.Helper()
	st, err := capacity.ParseServiceTime("1ms")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := capacity.New(capacity.Settings{Workers: 4, Queue: 10, Order: capacity.FIFO, ServiceTime: st, Factor: 1}, capacity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	hm, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(backend.NewServer(backend.Deps{Instance: "i", Ready: new(atomic.Bool), Metrics: hm, Registry: reg,
		Now: time.Now, Capacity: pool}))
	t.Cleanup(func() { srv.Close(); pool.Close() })
	return srv.URL, pool
}

// startCapacityAPI starts the fault API with the backend at backendURL.
func startCapacityAPI(t *testing.T, backendURL string) (*API, *changes) {
	t.Helper()
	var ch changes
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fakePartitioner{}}),
		OnChange: ch.add, Backend: backendURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a, &ch
}

// A capacity fault changes the backend's capacity through its own API for as long as it is in
// effect, and is a fault window like any other: on at POST, off at DELETE, which puts the
// backend's start-up settings back; GET /faults reports it as a leftover meanwhile.
func TestCapacityFault(t *testing.T) {
	backendURL, pool := startCapacityBackend(t)
	a, ch := startCapacityAPI(t, backendURL)
	code, body := call(t, "POST", a.URL()+"/faults/capacity", `{"name":"drop","workers":1,"service_time_factor":5}`)
	if code != 201 || !strings.Contains(body, `"workers":1`) {
		t.Fatalf("POST = %d %s", code, body)
	}
	s, _ := pool.Snapshot()
	if s.Workers != 1 || s.Factor != 5 || s.ServiceTime.String() != "1ms" {
		t.Errorf("the backend's settings after the fault = %+v, want 1 worker, factor 5, the service time untouched", s)
	}
	if on, detail := a.Active(); !on || detail != "backend capacity: workers 1, service time x5 (capacity fault drop)" {
		t.Errorf("Active() = %t %q", on, detail)
	}
	if code, body := call(t, "GET", a.URL()+"/faults", ""); code != 200 || !strings.Contains(body, `"leftover":true`) {
		t.Errorf("GET /faults = %d %s, want the capacity fault as a leftover", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/capacity", `{"name":"other","workers":2}`); code != 409 || !strings.Contains(body, "DELETE /faults/capacity/drop") {
		t.Errorf("a second fault = %d %s, want 409", code, body)
	}
	if code, body := call(t, "GET", a.URL()+"/faults/capacity", ""); code != 200 || !strings.Contains(body, `"name":"drop"`) {
		t.Errorf("GET /faults/capacity = %d %s", code, body)
	}
	if code, body := call(t, "DELETE", a.URL()+"/faults/capacity/other", ""); code != 404 {
		t.Errorf("DELETE of another name = %d %s, want 404", code, body)
	}
	if code, body := call(t, "DELETE", a.URL()+"/faults/capacity/drop", ""); code != 204 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if s, _ := pool.Snapshot(); s.Workers != 4 || s.Factor != 1 {
		t.Errorf("the backend's settings after DELETE = %+v, want the start-up ones back", s)
	}
	got := ch.list()
	if len(got) != 2 || got[0].Kind != KindCapacity || !got[0].Active || got[1].Active || !strings.HasPrefix(got[1].Detail, "removed: backend capacity") {
		t.Errorf("changes = %+v, want the capacity fault on, then off", got)
	}
}

// POST /reset and Close put the backend's capacity back too.
func TestCapacityFaultResetAndClose(t *testing.T) {
	backendURL, pool := startCapacityBackend(t)
	a, _ := startCapacityAPI(t, backendURL)
	if code, body := call(t, "POST", a.URL()+"/faults/capacity", `{"name":"slow","service_time":"exp:3ms"}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/reset", ""); code != 204 {
		t.Fatalf("reset = %d %s", code, body)
	}
	if s, _ := pool.Snapshot(); s.ServiceTime.String() != "1ms" {
		t.Errorf("service time after reset = %s, want 1ms", s.ServiceTime)
	}
	if left, what := a.Leftover(); left {
		t.Errorf("after reset: %s", what)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/capacity", `{"name":"fewer","workers":2}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, _ := pool.Snapshot(); s.Workers != 4 {
		t.Errorf("workers after Close = %d, want 4", s.Workers)
	}
}

// Bad requests are refused with a JSON error naming the mistake, ours or the backend's; the
// backend's refusals keep their meaning (400 a bad value, 409 no capacity model), and an
// unreachable backend is a 502. Nothing is in effect afterwards.
func TestCapacityFaultRefused(t *testing.T) {
	backendURL, _ := startCapacityBackend(t)
	noModel := httptest.NewServer(backend.NewServer(backend.Deps{Instance: "i", Ready: new(atomic.Bool), Now: time.Now, Metrics: mustMetrics(t)}))
	t.Cleanup(noModel.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name, backend, body string
		code                int
		want                string
	}{
		{"no name", backendURL, `{"workers":1}`, 400, `name ""`},
		{"nothing to change", backendURL, `{"name":"x"}`, 400, "nothing to change"},
		{"unknown field", backendURL, `{"name":"x","threads":1}`, 400, "unknown field"},
		{"bad factor", backendURL, `{"name":"x","service_time_factor":0}`, 400, "service_time_factor"},
		{"bad service time", backendURL, `{"name":"x","service_time":"soon"}`, 400, "service_time"},
		{"no capacity model", noModel.URL, `{"name":"x","workers":1}`, 409, "without a capacity model"},
		{"backend gone", gone.URL, `{"name":"x","workers":1}`, 502, "is the backend running?"},
		{"no backend", "", `{"name":"x","workers":1}`, 501, "does not know the backend's URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ch := startCapacityAPI(t, tt.backend)
			code, body := call(t, "POST", a.URL()+"/faults/capacity", tt.body)
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if code != tt.code || json.Unmarshal([]byte(body), &e) != nil || e.Status != code || !strings.Contains(e.Error, tt.want) {
				t.Errorf("POST %s = %d %s, want %d with %q", tt.body, code, body, tt.code, tt.want)
			}
			if on, what := a.Active(); on || len(ch.list()) != 0 {
				t.Errorf("a refused fault is in effect: %s", what)
			}
		})
	}
}

func mustMetrics(t *testing.T) *httpserve.HTTPMetrics {
	t.Helper()
	hm, err := httpserve.NewHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return hm
}
