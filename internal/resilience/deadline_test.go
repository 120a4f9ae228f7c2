package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"chaoslab/internal/results"
)

// propagation turns Config.Propagation on, with a minimum attempt of min.
func propagation(min time.Duration) func(*Config) {
	return func(c *Config) { c.Propagation, c.MinAttempt = true, min }
}

// scenarioOutput is what the failing scenario shows, with what changes from run to run blanked.
type scenarioOutput struct {
	log     string
	metrics map[string]float64 // "name{labels}" -> value; a histogram's count
	snap    Snapshot
}

func runScenario(t *testing.T, tune ...func(*Config)) scenarioOutput {
	t.Helper()
	var buf logBuffer
	blank := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey:
			return slog.Attr{}
		case "duration_ms":
			return slog.Float64(a.Key, 0)
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: blank}))
	reg := prometheus.NewRegistry()
	p := failingScenarioWith(t, Options{Logger: logger, Registry: reg}, tune...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	snap.CircuitBreaker.RemainingWaitMs = 0
	return scenarioOutput{log: buf.String(), metrics: samples(families), snap: snap}
}

// samples flattens metric families to "name{labels}" -> value (a histogram's sample count).
func samples(families []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestPropagationWithoutCallerDeadline: with Propagation on, a request that carries no caller's
// deadline gives the log byte for byte, the metrics and the snapshot of Propagation off; on adds
// only its own two counters and the snapshot's deadline part.
func TestPropagationWithoutCallerDeadline(t *testing.T) {
	off := runScenario(t)
	on := runScenario(t, propagation(5*time.Millisecond))
	if on.log != off.log {
		t.Errorf("log with Propagation on:\n%s\nwant, as off:\n%s", on.log, off.log)
	}
	added := map[string]float64{
		"client_retries_skipped_deadline_total{name=backendRetry}": 0,
		"client_requests_expired_on_arrival_total{}":               0,
	}
	want := maps.Clone(off.metrics)
	maps.Copy(want, added)
	if !maps.Equal(on.metrics, want) {
		t.Errorf("metrics with Propagation on:\n%v\nwant those of off and\n%v", on.metrics, added)
	}
	if d := on.snap.Deadline; d == nil || *d != (DeadlineSnapshot{MinAttemptMs: 5}) {
		t.Errorf("deadline snapshot = %+v, want 5ms and no counts", d)
	}
	on.snap.Deadline = nil
	if on.snap != off.snap || off.snap.Deadline != nil {
		t.Errorf("snapshot with Propagation on = %+v\nwant, as off: %+v", on.snap, off.snap)
	}
}

// TestCallerDeadlineBoundsAttempts: an attempt's deadline (what the client sends on) is the
// attempt timeout, or the caller's time left when shorter and Propagation is on.
func TestCallerDeadlineBoundsAttempts(t *testing.T) {
	tests := []struct {
		name        string
		propagation bool
		caller      time.Duration // 0 = no caller's deadline
		lo, hi      time.Duration // of the call's deadline, from its start
	}{
		{"no caller's deadline: the attempt timeout", true, 0, 90 * time.Millisecond, 100 * time.Millisecond},
		{"a shorter caller's deadline", true, 60 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond},
		{"a longer caller's deadline", true, time.Second, 90 * time.Millisecond, 100 * time.Millisecond},
		{"off: the caller's deadline ignored", false, 60 * time.Millisecond, 90 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Propagation, cfg.MinAttempt = tt.propagation, 5*time.Millisecond
			p, _, _ := newTestPipeline(t, cfg)
			var budget time.Duration
			call := func(ctx context.Context) ([]byte, error) {
				dl, ok := ctx.Deadline()
				if !ok {
					t.Errorf("the call has no deadline")
				}
				budget = time.Until(dl)
				return []byte(`{}`), nil
			}
			ctx := context.Background()
			if tt.caller != 0 {
				ctx = WithCallerTimeout(ctx, tt.caller)
			}
			if out := p.Execute(ctx, call); out.Source != SourceBackend {
				t.Fatalf("outcome %+v", out)
			}
			if budget < tt.lo || budget > tt.hi {
				t.Errorf("the call had %v, want within [%v, %v]", budget, tt.lo, tt.hi)
			}
		})
	}
}

// failAtOnce is a Call the backend answers 500 at once.
func failAtOnce(context.Context) ([]byte, error) { return nil, &StatusError{Code: 500} }

// TestRetryNotStartedWhenDeadlineCannotFit: caller's deadline 180ms, backoff 80ms then 160ms,
// DEADLINE_MIN_ATTEMPT 40ms. Attempt 1 at 0 fails: after the 80ms wait 100ms would be left, so
// retry #1 goes. Attempt 2 at 80ms fails: after a 160ms wait nothing would be left, so retry #2
// is not started: the request ends with the last error at once, long before the caller's deadline.
func TestRetryNotStartedWhenDeadlineCannotFit(t *testing.T) {
	tests := []struct {
		name       string
		retryOnly  bool
		wantSource Source
	}{
		{"on: the fallback", false, SourceFallback},
		{"retry: the error", true, SourceError},
	}
	msg := regexp.MustCompile(`^deadline exceeded: (\d+)ms left, a retry needs 160ms \(its wait\) \+ 40ms \(DEADLINE_MIN_ATTEMPT\); the last attempt: backend answered 500 Internal Server Error$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RetryOnly, cfg.AttemptTimeout, cfg.InitialBackoff = tt.retryOnly, 40*time.Millisecond, 80*time.Millisecond
			propagation(40 * time.Millisecond)(&cfg)
			p, logs, reg := newTestPipeline(t, cfg)
			start := time.Now()
			out := p.Execute(WithCallerTimeout(WithRequestID(context.Background(), 5), 180*time.Millisecond), failAtOnce)
			took := time.Since(start)
			var se *StatusError
			if out.Source != tt.wantSource || out.Attempts != 2 || !errors.Is(out.Err, ErrDeadlineExceeded) ||
				!errors.As(out.Err, &se) || se.Code != 500 || !msg.MatchString(out.Err.Error()) {
				t.Fatalf("outcome %+v (%v), want %s after 2 attempts, error matching %s", out, out.Err, tt.wantSource, msg)
			}
			if left, _ := strconv.Atoi(msg.FindStringSubmatch(out.Err.Error())[1]); left > 100 || left < 60 {
				t.Errorf("%dms left reported, want about 100ms", left)
			}
			if took < 80*time.Millisecond || took > 120*time.Millisecond {
				t.Errorf("the request took %v, want about 80ms (the first wait), not the caller's 180ms", took)
			}
			checkSkipCounts(t, p, logs, reg, tt.retryOnly)
		})
	}
}

// checkSkipCounts: one retry skipped in the snapshot and the metric; one retry record, with the
// wait drawn; the fallback record (with a fallback) says why.
func checkSkipCounts(t *testing.T, p *Pipeline, logs *logBuffer, reg *prometheus.Registry, retryOnly bool) {
	t.Helper()
	if d := p.Snapshot().Deadline; d == nil || d.RetriesSkipped != 1 || d.ExpiredOnArrival != 0 {
		t.Errorf("deadline snapshot %+v, want 1 retry skipped", d)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := find(families, "client_retries_skipped_deadline_total", nil); n != 1 {
		t.Errorf("client_retries_skipped_deadline_total = %v, want 1", n)
	}
	kinds := map[string]int{}
	for _, e := range logs.events(t) {
		kinds[e.Kind]++
		if e.Kind == results.KindFallback && !strings.Contains(e.Error, "+ 40ms (DEADLINE_MIN_ATTEMPT)") {
			t.Errorf("fallback record's error %q does not say why", e.Error)
		}
		if e.Kind == results.KindRetry && e.WaitMS != 80 {
			t.Errorf("retry record's wait %vms, want 80ms", e.WaitMS)
		}
	}
	wantFallbacks := map[bool]int{false: 1, true: 0}[retryOnly]
	if kinds[results.KindRetry] != 1 || kinds[results.KindAttempt] != 2 || kinds[results.KindFallback] != wantFallbacks {
		t.Errorf("records %v, want 1 retry, 2 attempts, %d fallbacks", kinds, wantFallbacks)
	}
}

// TestExpiredOnArrival: a caller's deadline of 0 or less is answered at once without calling the
// backend: the fallback (on), the error (off, retry); counted.
func TestExpiredOnArrival(t *testing.T) {
	profiles := []struct {
		name                string
		enabled, retryOnly  bool
		wantSource          Source
		wantFallbacks       float64
		wantFailedNoRetries float64 // resilience4j_retry_calls_total{kind="failed_without_retry"}
	}{
		{"on", true, false, SourceFallback, 1, 1},
		{"retry", true, true, SourceError, 0, 1},
		{"off", false, false, SourceError, 0, 0},
	}
	for _, pr := range profiles {
		for _, caller := range []time.Duration{0, -time.Millisecond} {
			t.Run(fmt.Sprintf("%s/%v", pr.name, caller), func(t *testing.T) {
				f := newFakeBackend(t)
				cfg := testConfig()
				cfg.Enabled, cfg.RetryOnly = pr.enabled, pr.retryOnly
				propagation(5 * time.Millisecond)(&cfg)
				p, _, reg := newTestPipeline(t, cfg)
				out := p.Execute(WithCallerTimeout(context.Background(), caller), f.call)
				if out.Source != pr.wantSource || out.Attempts != 0 || f.calls.Load() != 0 ||
					!errors.Is(out.Err, ErrDeadlineExceeded) || !strings.Contains(out.Err.Error(), "no time left on arrival") {
					t.Fatalf("outcome %+v (%v), backend calls %d; want %s at once, without a call", out, out.Err, f.calls.Load(), pr.wantSource)
				}
				families, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				for name, want := range map[string]float64{"client_requests_expired_on_arrival_total": 1,
					"client_fallback_responses_total": pr.wantFallbacks, "resilience4j_retry_calls_total": pr.wantFailedNoRetries} {
					labels := map[string]string(nil)
					if name == "resilience4j_retry_calls_total" {
						labels = map[string]string{"kind": "failed_without_retry"}
					}
					if got, _ := find(families, name, labels); got != want {
						t.Errorf("%s = %v, want %v", name, got, want)
					}
				}
				if d := p.Snapshot().Deadline; d == nil || d.ExpiredOnArrival != 1 {
					t.Errorf("deadline snapshot %+v, want 1 expired on arrival", d)
				}
			})
		}
	}
}

// TestPropagationOff: without Propagation a caller's deadline is ignored, even an expired one,
// and there are no deadline counters.
func TestPropagationOff(t *testing.T) {
	f := newFakeBackend(t)
	p, _, reg := newTestPipeline(t, testConfig())
	if out := p.Execute(WithCallerTimeout(context.Background(), 0), f.call); out.Source != SourceBackend || f.calls.Load() != 1 {
		t.Errorf("outcome %+v, want the backend's answer", out)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"client_retries_skipped_deadline_total", "client_requests_expired_on_arrival_total"} {
		if _, ok := find(families, name, nil); ok {
			t.Errorf("%s registered without Propagation", name)
		}
	}
	if d := p.Snapshot().Deadline; d != nil {
		t.Errorf("deadline snapshot %+v without Propagation", d)
	}
}
