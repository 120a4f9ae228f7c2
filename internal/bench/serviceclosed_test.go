package bench

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/httpserve"
)

// counting is an upstream that counts the requests it answered, and answers every third with
// X-Fallback when fallbacks is set.
func counting(t *testing.T, fallbacks bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := n.Add(1); fallbacks && i%3 == 0 {
			w.Header().Set("X-Fallback", "true")
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Every request a slice sends is counted once, inside the slice or late: the server's own count
// is the independent one. (What ends inside a 50 ms slice depends on the machine; the sums do not.)
func TestClosedSliceCountsEveryAnswer(t *testing.T) {
	srv, served := counting(t, true)
	client := newLoopClient(4)
	defer client.CloseIdleConnections()
	c, err := closedSlice(t.Context(), client, srv.URL, 4, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	all := c.backend + c.late + c.fallback + c.lateOther
	if got := served.Load(); got != all || c.errors != 0 {
		t.Errorf("server served %d, the slice counted %d (%+v), want the same and no errors", got, all, c)
	}
	// Each of the 4 workers sends at least once, so the third request is a fallback.
	if c.fallback+c.lateOther == 0 || c.backend+c.late == 0 {
		t.Errorf("want backend and fallback answers: %+v", c)
	}
}

func TestClosedSliceStopsOnNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := closedSlice(t.Context(), newLoopClient(2), url, 2, 20*time.Millisecond); err == nil {
		t.Errorf("a closed port gave no error")
	}
}

func TestClosedSliceCountsOtherStatusesAsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	c, err := closedSlice(t.Context(), newLoopClient(2), srv.URL, 2, 20*time.Millisecond)
	if err != nil || c.errors+c.lateOther == 0 || c.backend+c.late+c.fallback != 0 {
		t.Errorf("502s: %+v, %v; want errors only", c, err)
	}
}

func TestRatio(t *testing.T) {
	a := ClosedTarget{Backend: 60, Slices: []int64{10, 20, 30}}
	ref := ClosedTarget{Backend: 120, Slices: []int64{40, 40, 40}}
	all, lo, hi := a.Ratio(ref)
	if all != 0.5 || lo != 0.25 || hi != 0.75 {
		t.Errorf("got %v [%v - %v], want 0.5 [0.25 - 0.75]", all, lo, hi)
	}
	if all, _, _ := a.Ratio(ClosedTarget{}); all != 0 {
		t.Errorf("against nothing: %v, want 0", all)
	}
}

// ServedFromMetrics reads what the backend's own HTTP metrics count, and only GET /api/data.
func TestServedFromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(DataRoute, m.Wrap(DataRoute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("fail") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})))
	mux.Handle("GET /healthz", m.Wrap("GET /healthz", httpserve.HandleHealthz()))
	mux.Handle("GET /metrics", httpserve.HandleMetrics(reg))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/api/data", "/api/data", "/api/data?fail", "/healthz", "/healthz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, page, err := do(t.Context(), http.MethodGet, srv.URL+"/metrics", "", http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ServedFromMetrics(page); err != nil || n != 3 {
		t.Errorf("got %d, %v; want 3 (two 200s and a 503 on /api/data, not the health checks)", n, err)
	}
	if n, err := ServedFromMetrics([]byte("# nothing yet\n")); err != nil || n != 0 {
		t.Errorf("empty page: %d, %v", n, err)
	}
}

func TestFailedFromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resilience4j_circuitbreaker_calls_seconds"}, []string{"name", "kind"})
	reg.MustRegister(h)
	for kind, n := range map[string]int{"successful": 7, "failed": 3, "ignored": 2} {
		for range n {
			h.WithLabelValues("backendCB", kind).Observe(0.001)
		}
	}
	srv := httptest.NewServer(httpserve.HandleMetrics(reg))
	defer srv.Close()
	_, page, err := do(t.Context(), http.MethodGet, srv.URL, "", http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := FailedFromMetrics(page); err != nil || n != 5 {
		t.Errorf("got %d, %v; want 5 (3 failed + 2 ignored)", n, err)
	}
}

func TestCountCheckAgree(t *testing.T) {
	for _, tc := range []struct {
		c    CountCheck
		want bool
	}{
		{CountCheck{Served: 10, Counted: 10}, true},
		{CountCheck{Served: 12, Counted: 10, Failed: 2}, true}, // both failed calls reached the backend
		{CountCheck{Served: 10, Counted: 10, Failed: 2}, true}, // neither did
		{CountCheck{Served: 13, Counted: 10, Failed: 2}, false},
		{CountCheck{Served: 9, Counted: 10, Failed: 5}, false}, // an answer the backend never served
	} {
		if got := tc.c.Agree(); got != tc.want {
			t.Errorf("%+v: Agree = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestProxiesForwardEveryRequest(t *testing.T) {
	srv, served := counting(t, false)
	upstream := strings.TrimPrefix(srv.URL, "http://")
	rp, err := StartReverseProxy(upstream, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	proxies := map[string]*Proxy{TargetReverseProxy: rp}
	if path, err := exec.LookPath(DefaultHAProxyForTests); err == nil {
		hp, err := StartHAProxy(t.Context(), path, upstream, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer hp.Close()
		proxies[TargetHAProxy] = hp
	} else {
		t.Logf("haproxy not installed (%v): only the reverse proxy is tested (CI installs Debian's haproxy)", err)
	}
	for name, p := range proxies {
		before := served.Load()
		client := newLoopClient(4)
		c, err := closedSlice(t.Context(), client, p.URL+"/api/data", 4, 50*time.Millisecond)
		client.CloseIdleConnections()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := served.Load() - before; got == 0 || got != c.backend+c.late {
			t.Errorf("%s: upstream served %d, the slice counted %d + %d late", name, got, c.backend, c.late)
		}
	}
}

func TestHAProxyStartFails(t *testing.T) {
	if _, err := os.Stat(DefaultHAProxyForTests); err != nil {
		t.Skipf("haproxy not installed at %s (CI installs Debian's haproxy)", DefaultHAProxyForTests)
	}
	// An upstream that is no address makes haproxy refuse its configuration: the error says so.
	_, err := StartHAProxy(t.Context(), DefaultHAProxyForTests, "127.0.0.1:notaport", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "notaport") {
		t.Errorf("got %v, want haproxy's own complaint", err)
	}
}

// DefaultHAProxyForTests is where Debian's haproxy package puts the binary.
const DefaultHAProxyForTests = "/usr/sbin/haproxy"
