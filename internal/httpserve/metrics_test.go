package httpserve

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestWrapCountsEveryAnswer: whatever the order of methods and statuses (Wrap keeps the last
// series it used), every answer is counted once in its own series, and timed once, as the test
// counts them itself; a series appears only once an answer needs it.
func TestWrapCountsEveryAnswer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap("GET /x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, _ := strconv.Atoi(r.URL.Query().Get("code")); code != 0 {
			w.WriteHeader(code)
		}
	}))
	if n, err := testutil.GatherAndCount(reg, "http_server_requests_total"); err != nil || n != 0 {
		t.Fatalf("%d series before the first request (%v), want none", n, err)
	}
	type key struct {
		method string
		code   int
	}
	sent := map[key]int{}
	for _, k := range []key{{"GET", 200}, {"GET", 200}, {"GET", 502}, {"GET", 200}, {"HEAD", 200}, {"HEAD", 200},
		{"GET", 0}, {"GET", 503}, {"GET", 502}, {"GET", 200}} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(k.method, "/x?code="+strconv.Itoa(k.code), nil))
		if k.code == 0 {
			k.code = 200 // no WriteHeader: 200
		}
		sent[k]++
	}
	if n, err := testutil.GatherAndCount(reg, "http_server_requests_total"); err != nil || n != len(sent) {
		t.Errorf("%d series (%v), want %d", n, err, len(sent))
	}
	for k, n := range sent {
		code := strconv.Itoa(k.code)
		if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /x", k.method, code)); got != float64(n) {
			t.Errorf("%s %s: counted %v, want %d", k.method, code, got, n)
		}
		if got := histogramCount(t, m.duration.WithLabelValues("GET /x", k.method, code)); got != uint64(n) {
			t.Errorf("%s %s: timed %d, want %d", k.method, code, got, n)
		}
	}
}

// TestWrapConcurrent: answers of two statuses served at once, so the series Wrap keeps keeps
// changing under it, are each counted once in their own series.
func TestWrapConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap("GET /y", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for range each {
				url := "/y"
				if i%2 == 1 {
					url = "/y?fail=1"
				}
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", url, nil))
			}
		})
	}
	wg.Wait()
	for _, code := range []string{"200", "502"} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /y", "GET", code)); got != workers/2*each {
			t.Errorf("status %s: counted %v, want %d", code, got, workers/2*each)
		}
	}
}

func histogramCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	c := make(chan prometheus.Metric, 1)
	o.(prometheus.Histogram).Collect(c)
	pb := &dto.Metric{}
	if err := (<-c).Write(pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}
