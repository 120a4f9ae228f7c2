package backend

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/httpserve"

	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite testdata/default-metrics.golden from the current output")

// TestDefaultAnswerUnchanged pins the /api/data answer of the default configuration, byte for byte.
func TestDefaultAnswerUnchanged(t *testing.T) {
	cfg, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	hm, err := httpserve.NewHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }
	h := NewServer(Deps{Instance: "i", Ready: new(atomic.Bool), Metrics: hm, Now: now, PayloadBytes: cfg.PayloadBytes})
	const want = `{"service":"backend-service","instance":"i","message":"Hello from backend-service","timestamp":"2026-01-02T03:04:05.000000006Z"}` + "\n"
	// Without a capacity model the deadline header means nothing, even one of no time left.
	for _, deadline := range []string{"", "0"} {
		t.Run("deadline header "+deadline, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/data", nil)
			if deadline != "" {
				req.Header.Set(deadlineHeader, deadline)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != want || len(rec.Header()) != 1 ||
				rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("answer %d %v %q, want 200, only Content-Type application/json, %q", rec.Code, rec.Header(), rec.Body, want)
			}
		})
	}
}

// durationValue is the value of a bucket or sum line of the latency histogram: the measured
// durations, the figures that vary from run to run.
var durationValue = regexp.MustCompile(`(?m)^(http_server_requests_seconds_(?:bucket|sum)\{.*\}) \S+$`)

// TestDefaultMetricsUnchanged pins /metrics of backend-service started with the default
// configuration after a fixed set of requests, byte for byte but for the measured durations.
func TestDefaultMetricsUnchanged(t *testing.T) {
	url, logs, stop := startBackend(t, "json")
	defer stop()
	for _, path := range []string{"/api/data", "/api/data", "/healthz", "/readyz", "/nope"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := durationValue.ReplaceAll(body, []byte("$1 <duration>"))
	golden := filepath.Join("testdata", "default-metrics.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "capacity") {
		t.Errorf("the default configuration logged a capacity record: %s", logs)
	}
	if string(got) != string(want) {
		t.Errorf("/metrics of the default configuration changed:\n%s\nwant:\n%s", got, want)
	}
}
