package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

func TestDoClassifies(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/backend", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"source":"backend","attempts":2,"circuitBreakerState":"CLOSED"}`))
	})
	mux.HandleFunc("/fallback", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"source":"fallback","error":"circuit breaker open","attempts":0,"circuitBreakerState":"OPEN"}`))
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(`{"source":"error","error":"connection refused"}`))
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	tests := []struct {
		path              string
		status            int
		source            string
		attempts          int
		breaker, errorHas string
	}{
		{"/backend", 200, results.SourceBackend, 2, "CLOSED", ""},
		{"/fallback", 200, results.SourceFallback, 0, "OPEN", "circuit breaker open"},
		{"/bad", 502, results.SourceError, 0, "", "HTTP 502: connection refused"},
		{"/plain", 200, results.SourceBackend, 0, "", ""},
		{"/hang", 0, results.SourceError, 0, "", "timeout"},
	}
	client := NewHTTPClient()
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			rec := Do(context.Background(), client, srv.URL+tt.path, 200*time.Millisecond)
			if rec.Status != tt.status || rec.Source != tt.source || rec.Attempts != tt.attempts || rec.Breaker != tt.breaker {
				t.Errorf("record = %+v, want status %d source %s attempts %d breaker %q", rec, tt.status, tt.source, tt.attempts, tt.breaker)
			}
			if !strings.Contains(rec.Error, tt.errorHas) || (tt.errorHas == "" && rec.Error != "") {
				t.Errorf("error = %q, want it to contain %q", rec.Error, tt.errorHas)
			}
			if rec.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", rec.Latency)
			}
		})
	}
}

// A slow target must not lower the offered load: with answers taking longer than the arrival
// interval, a closed loop would send a handful of requests; the open loop sends one per interval.
func TestRunIsOpenLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(150 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var rec Recorder
	cfg := Config{Target: srv.URL, RPS: 100, Timeout: time.Second, Duration: 300 * time.Millisecond}
	if err := Run(context.Background(), cfg, nil, rec.Add); err != nil {
		t.Fatal(err)
	}
	recs := rec.Records()
	// 300ms at 100/s is 30 arrivals; a closed loop with one worker would manage 2.
	if len(recs) < 15 || len(recs) > 31 {
		t.Fatalf("sent %d requests in 300ms at 100 rps, want about 30", len(recs))
	}
	for i, r := range recs {
		if r.Source != results.SourceBackend || r.Latency < 150*time.Millisecond {
			t.Errorf("record %d = %+v, want a backend answer that took >= 150ms", i, r)
		}
		if i > 0 && r.Start.Before(recs[i-1].Start) {
			t.Errorf("records not sorted by start at %d", i)
		}
	}
	// Run returned only after the requests in flight finished: all of them are recorded.
	if tot := rec.Totals(); tot.Requests != len(recs) || tot.Backend != len(recs) {
		t.Errorf("totals = %+v, want %d backend requests", tot, len(recs))
	}
}

func TestRunSaturationIsRecorded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var rec Recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Target: srv.URL, RPS: 200, Timeout: 5 * time.Second, MaxInFlight: 2}, nil, rec.Add)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for rec.Totals().Errors < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising on time
	}
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var saturated int
	for _, r := range rec.Records() {
		if strings.Contains(r.Error, "saturated") {
			saturated++
		}
	}
	if saturated < 3 {
		t.Errorf("saturated records = %d, want >= 3 (2 slots, 200 rps, hanging target)", saturated)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Target: "http://x", RPS: 1, Timeout: time.Second}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no target", func(c *Config) { c.Target = "" }, "target URL is required"},
		{"zero rate", func(c *Config) { c.RPS = 0 }, "must be > 0"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mut(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}
