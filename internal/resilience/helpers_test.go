package resilience

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// Modes of the fake backend.
const (
	modeOK int32 = iota
	modeFail
	modeHang
	mode404
	mode429
)

// fakeBackend is an httptest backend that can answer, fail, hang (blackhole) or answer 4xx.
type fakeBackend struct {
	srv   *httptest.Server
	mode  atomic.Int32
	calls atomic.Int64
	mu    sync.Mutex
	times []time.Time // arrival time of each call
}

func newFakeBackend(t *testing.T) *fakeBackend {
	t.Helper()
	f := &fakeBackend{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		f.times = append(f.times, time.Now())
		f.mu.Unlock()
		switch f.mode.Load() {
		case modeFail:
			http.Error(w, "boom", http.StatusInternalServerError)
		case modeHang:
			<-r.Context().Done()
		case mode404:
			http.Error(w, "nope", http.StatusNotFound)
		case mode429:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			w.Write([]byte(`{"service":"backend-service"}`))
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBackend) arrivals() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.times...)
}

// call is a minimal Call against the fake backend, with the same contract as the client's.
func (f *fakeBackend) call(ctx context.Context) ([]byte, error) {
	return getCall(ctx, f.srv, "/api/data", nil)
}

// getCall GETs path from srv as a Call does: the body of a 200, a *StatusError otherwise;
// header, when set, adds to the request (a trace context).
func getCall(ctx context.Context, srv *httptest.Server, path string, header func(http.Header)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if header != nil {
		header(req.Header)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode}
	}
	return body, err
}

// testConfig has tiny durations, no jitter, and a breaker that never opens unless a test says so.
func testConfig() Config {
	return Config{
		Enabled: true, AttemptTimeout: 100 * time.Millisecond, RequestTimeout: 2 * time.Second,
		MaxRetries: 3, InitialBackoff: 10 * time.Millisecond, Multiplier: 2, MaxBackoff: time.Second,
		SlidingWindow: 100, MinimumCalls: 100, FailureRateThreshold: 50,
		WaitDuration: time.Minute, HalfOpenCalls: 2,
	}
}

// logBuffer collects JSON log lines; safe for concurrent use.
type logBuffer struct{ testutil.SyncBuffer }

// records returns the JSON log records.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// messages returns the msg of every JSON log record.
func (b *logBuffer) messages(t *testing.T) []string {
	var out []string
	for _, r := range b.records(t) {
		out = append(out, r["msg"].(string))
	}
	return out
}

// newTestPipeline builds a pipeline logging JSON, debug level included (the attempt records),
// into the returned buffer.
func newTestPipeline(t *testing.T, cfg Config) (*Pipeline, *logBuffer, *prometheus.Registry) {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	p, err := New(cfg, Options{Logger: debugLogger(logs), Registry: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, logs, reg
}

// debugLogger logs JSON into w, debug level included.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// events decodes the log with the lab's decoder, results.DecodeLogLine; a line it cannot read
// fails the test.
func (b *logBuffer) events(t *testing.T) []results.Event {
	t.Helper()
	var out []results.Event
	for line := range strings.Lines(b.String()) {
		e, ok := results.DecodeLogLine([]byte(line))
		if !ok {
			t.Fatalf("results.DecodeLogLine cannot read %q", line)
		}
		out = append(out, e)
	}
	return out
}

// executeCancelled runs one request whose caller gives up after d.
func executeCancelled(p *Pipeline, ctx context.Context, call Call, d time.Duration) Outcome {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := time.AfterFunc(d, cancel)
	defer stop.Stop()
	return p.Execute(ctx, call)
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
