package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// One request per kind of answer: the record's source, status, attempts (from the client's JSON,
// unknown without it), breaker and error.
func TestSendClassifies(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	reply := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	mux.Handle("/backend", reply(200, `{"source":"backend","attempts":2,"circuitBreakerState":"CLOSED"}`))
	mux.Handle("/fallback", reply(200, `{"source":"fallback","error":"circuit breaker open","attempts":0,"circuitBreakerState":"OPEN"}`))
	mux.Handle("/bad", reply(502, `{"source":"error","error":"connection refused","attempts":6,"circuitBreakerState":"CLOSED"}`))
	mux.Handle("/proxy-error", reply(502, `{"error":"no upstream"}`))
	mux.Handle("/plain", reply(200, "ok"))
	// chain-3's edge relaying mid's answer, itself relaying client's fallback; and the same chain
	// ending at the backend's own JSON.
	mux.Handle("/lower-fallback", reply(200, `{"source":"backend","data":{"source":"backend","data":{"source":"fallback","data":null,"error":"circuit breaker open","attempts":0,"circuitBreakerState":"OPEN"},"error":"","attempts":1,"circuitBreakerState":"CLOSED"},"error":"","attempts":1,"circuitBreakerState":"CLOSED"}`))
	mux.Handle("/chain", reply(200, `{"source":"backend","data":{"source":"backend","data":{"service":"backend-service","message":"ok"},"error":"","attempts":3,"circuitBreakerState":"CLOSED"},"error":"","attempts":1,"circuitBreakerState":"CLOSED"}`))
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	const unknown = results.UnknownAttempts
	tests := []struct {
		path              string
		status            int
		source            string
		attempts          int
		breaker, errorHas string
	}{
		{"/backend", 200, results.SourceBackend, 2, "CLOSED", ""},
		{"/fallback", 200, results.SourceFallback, 0, "OPEN", "circuit breaker open"},
		{"/bad", 502, results.SourceError, 6, "CLOSED", "HTTP 502: connection refused"},
		{"/proxy-error", 502, results.SourceError, unknown, "", "HTTP 502: no upstream"},
		{"/plain", 200, results.SourceBackend, unknown, "", ""},
		{"/lower-fallback", 200, results.SourceFallback, 1, "CLOSED", "circuit breaker open"},
		{"/chain", 200, results.SourceBackend, 1, "CLOSED", ""},
		{"/hang", 0, results.SourceError, unknown, "", "timeout: no answer within 200ms"},
	}
	for i, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			cfg := Config{Target: srv.URL + tt.path, RPS: 1, Timeout: 200 * time.Millisecond}
			s := newSender(context.Background(), cfg, nil, nil)
			id := uint64(i + 1)
			rec := s.send(id, time.Now())
			if rec.ID != id || rec.Status != tt.status || rec.Source != tt.source || rec.Attempts != tt.attempts || rec.Breaker != tt.breaker {
				t.Errorf("record = %+v, want ID %d status %d source %s attempts %d breaker %q", rec, id, tt.status, tt.source, tt.attempts, tt.breaker)
			}
			if !strings.Contains(rec.Error, tt.errorHas) || (tt.errorHas == "" && rec.Error != "") {
				t.Errorf("error = %q, want it to contain %q", rec.Error, tt.errorHas)
			}
			if rec.Latency <= 0 || rec.Latency < rec.SendLag {
				t.Errorf("latency = %v, send lag %v: want a latency > 0 that includes the lag", rec.Latency, rec.SendLag)
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

// stallingTarget answers nothing until released, then the client's JSON. It remembers the
// X-Request-Id of every request it received.
type stallingTarget struct {
	release chan struct{}
	mu      sync.Mutex
	seen    map[string]bool
	arrived func(id string) // called as each request arrives (nil = nothing)
}

func newStallingTarget(t *testing.T) (*stallingTarget, string) {
	st := &stallingTarget{release: make(chan struct{}), seen: map[string]bool{}}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return st, srv.URL
}

func (st *stallingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(results.RequestIDHeader)
	st.mu.Lock()
	st.seen[id] = true
	st.mu.Unlock()
	if st.arrived != nil {
		st.arrived(id)
	}
	select {
	case <-st.release:
	case <-r.Context().Done():
		return
	}
	w.Write([]byte(`{"source":"backend","attempts":3,"circuitBreakerState":"CLOSED"}`))
}

func (st *stallingTarget) saw() map[string]bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]bool, len(st.seen))
	for k, v := range st.seen {
		out[k] = v
	}
	return out
}

// Against a target that answers nothing until released, with room for 3 requests in flight:
// arrivals 1-3 are sent and held, 4-10 find the cap reached and are dropped. The test stops the
// load from the callback of record 10 and only then releases the target, so what was sent and
// what was dropped does not depend on timing.
func TestRunAgainstAStallingTarget(t *testing.T) {
	const rps, capacity, last = 100, 3, 10
	st, url := newStallingTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rec Recorder
	onRecord := func(r results.Record) {
		rec.Add(r)
		if r.ID == last {
			cancel()
			close(st.release)
		}
	}
	cfg := Config{Target: url, RPS: rps, Timeout: 10 * time.Second, MaxInFlight: capacity}
	if err := Run(ctx, cfg, nil, onRecord); err != nil {
		t.Fatal(err)
	}
	recs := rec.Records()
	if len(recs) != last {
		t.Fatalf("%d records, want %d (IDs 1..%d)", len(recs), last, last)
	}
	t.Run("arrivals are scheduled, not measured", func(t *testing.T) { checkSchedule(t, recs, rps) })
	t.Run("beyond the cap requests are dropped", func(t *testing.T) { checkDropped(t, recs, capacity) })
	t.Run("sent requests carry their ID and answer", func(t *testing.T) { checkSent(t, recs, capacity, st.saw()) })
	want := Totals{Requests: last, Backend: capacity, Dropped: last - capacity, Breaker: "CLOSED"}
	if got := rec.Totals(); got.Requests != want.Requests || got.Backend != want.Backend || got.Dropped != want.Dropped ||
		got.Errors != 0 || got.Fallbacks != 0 || got.Breaker != want.Breaker {
		t.Errorf("totals = %+v, want %+v (dropped counted apart, not as errors)", got, want)
	}
}

// checkSchedule: record i starts exactly (i-1)/rps after record 1, to the nanosecond.
func checkSchedule(t *testing.T, recs []results.Record, rps int) {
	for i, r := range recs {
		if r.ID != uint64(i+1) {
			t.Fatalf("record %d has ID %d, want %d", i, r.ID, i+1)
		}
		want := time.Duration(i) * time.Second / time.Duration(rps)
		if got := r.Start.Sub(recs[0].Start); got != want {
			t.Errorf("ID %d starts %v after ID 1, want exactly %v", r.ID, got, want)
		}
	}
}

func checkDropped(t *testing.T, recs []results.Record, capacity int) {
	for _, r := range recs[capacity:] {
		if r.Source != results.SourceDropped || r.Answered() || r.Latency != 0 || r.SendLag != 0 || r.Status != 0 ||
			r.Attempts != results.UnknownAttempts || !strings.Contains(r.Error, "in flight") {
			t.Errorf("ID %d = %+v, want dropped: no latency, no lag, no status, attempts unknown, the reason", r.ID, r)
		}
	}
}

func checkSent(t *testing.T, recs []results.Record, capacity int, seen map[string]bool) {
	if len(seen) != capacity {
		t.Errorf("the target received IDs %v, want exactly the %d sent", seen, capacity)
	}
	for _, r := range recs[:capacity] {
		if !seen[strconv.FormatUint(r.ID, 10)] {
			t.Errorf("the target never received %s: %d", results.RequestIDHeader, r.ID)
		}
		if r.Source != results.SourceBackend || r.Attempts != 3 || r.Latency < r.SendLag {
			t.Errorf("ID %d = %+v, want a backend answer with attempts 3 and latency >= send lag", r.ID, r)
		}
	}
}

// The latency counts from the scheduled arrival, so a sender that falls behind adds its lag to
// the latency. The lag is made deterministic with the beforeSend hook: the sender of request 1
// is held until the target has received request 3, which was due 2 intervals later; so request
// 1 leaves at least 2 intervals late, whatever the machine's speed.
func TestLatencyIncludesSendLag(t *testing.T) {
	const rps = 100
	const interval = time.Second / rps
	st, url := newStallingTarget(t)
	close(st.release) // answers at once
	third := make(chan struct{})
	var once sync.Once
	st.arrived = func(id string) {
		if id == "3" {
			once.Do(func() { close(third) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rec Recorder
	cfg := Config{Target: url, RPS: rps, Timeout: 10 * time.Second, beforeSend: func(id uint64) {
		if id == 1 {
			<-third
		}
	}}
	err := Run(ctx, cfg, nil, func(r results.Record) {
		rec.Add(r)
		if r.ID == 1 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := rec.Records()
	first := recs[0]
	if first.ID != 1 || first.SendLag < 2*interval || first.Latency < first.SendLag {
		t.Errorf("request 1 = %+v: want a send lag >= %v (held until request 3 arrived) included in its latency", first, 2*interval)
	}
	for _, r := range recs {
		if r.SendLag < 0 || r.Latency < r.SendLag || r.Start.Sub(first.Start) != time.Duration(r.ID-1)*interval {
			t.Errorf("ID %d = %+v: want 0 <= send lag <= latency, start at its scheduled arrival", r.ID, r)
		}
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
		{"target without scheme", func(c *Config) { c.Target = "127.0.0.1:8080/api/data" }, "want an http:// or https:// URL"},
		{"zero rate", func(c *Config) { c.RPS = 0 }, "must be > 0"},
		{"rate too high", func(c *Config) { c.RPS = 10001 }, "<= 10000"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "duration"},
		{"negative cap", func(c *Config) { c.MaxInFlight = -1 }, "in-flight cap"},
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

// The Counter counts a dropped record apart: not a request error, not a latency.
func TestCounterCountsDroppedApart(t *testing.T) {
	var c Counter
	c.Add(results.Record{Source: results.SourceBackend, Latency: time.Second, Breaker: "CLOSED"})
	c.Add(results.Record{Source: results.SourceError, Latency: 2 * time.Second})
	c.Add(dropped(3, time.Now(), 2))
	want := Totals{Requests: 3, Backend: 1, Errors: 1, Dropped: 1, Breaker: "CLOSED", MaxLatency: 2 * time.Second}
	if got := c.Totals(); got != want {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
}
