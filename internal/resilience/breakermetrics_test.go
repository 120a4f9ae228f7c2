package resilience

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves reg as a Prometheus server would scrape it, and parses the text exposition.
func scrape(t *testing.T, reg *prometheus.Registry) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, req)
	text := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, text)
	}
	return families, text
}

// sample is the value of the series of family name with exactly labels, and whether it exists.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) || !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// r4jWant is one series resilience4j-micrometer exports, with its Prometheus type and value.
type r4jWant struct {
	name   string
	typ    dto.MetricType
	labels map[string]string
	value  float64
}

// breakerSeries are the breaker's Resilience4j gauges for a state and the calls that judge it.
func breakerSeries(state string, successful, failed int, rate, slowRate float64) []r4jWant {
	cb := func(kv ...string) map[string]string {
		m := map[string]string{"name": BreakerName}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	g := dto.MetricType_GAUGE
	var ws []r4jWant
	for _, s := range []string{"closed", "open", "half_open", "disabled", "forced_open", "metrics_only"} {
		v := 0.0
		if s == state {
			v = 1
		}
		ws = append(ws, r4jWant{"resilience4j_circuitbreaker_state", g, cb("state", s), v})
	}
	return append(ws,
		r4jWant{"resilience4j_circuitbreaker_buffered_calls", g, cb("kind", "successful"), float64(successful)},
		r4jWant{"resilience4j_circuitbreaker_buffered_calls", g, cb("kind", "failed"), float64(failed)},
		r4jWant{"resilience4j_circuitbreaker_slow_calls", g, cb("kind", "successful"), 0},
		r4jWant{"resilience4j_circuitbreaker_slow_calls", g, cb("kind", "failed"), 0},
		r4jWant{"resilience4j_circuitbreaker_failure_rate", g, cb(), rate},
		r4jWant{"resilience4j_circuitbreaker_slow_call_rate", g, cb(), slowRate},
	)
}

func checkSeries(t *testing.T, families map[string]*dto.MetricFamily, want []r4jWant) {
	t.Helper()
	for _, w := range want {
		mf := families[w.name]
		if mf == nil {
			t.Errorf("%s: missing", w.name)
			continue
		}
		if mf.GetType() != w.typ {
			t.Errorf("%s: type %v, want %v", w.name, mf.GetType(), w.typ)
		}
		got, ok := sample(families, w.name, w.labels)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
}

// TestResilience4jMeters checks every meter resilience4j-micrometer exports for a circuit
// breaker and a retry against the pipeline's own counts: the fake backend's calls, the
// snapshot's counters.
func TestResilience4jMeters(t *testing.T) {
	tune := func(c *Config) { c.SlidingWindow, c.MinimumCalls = 10, 5 }

	t.Run("before the minimum calls", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		f := newFakeBackend(t)
		f.mode.Store(modeFail)
		cfg := testConfig()
		cfg.MaxRetries = 0
		tune(&cfg)
		p, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		families, _ := scrape(t, reg)
		checkSeries(t, families, breakerSeries("closed", 0, 0, -1, -1))
		for range 4 { // one call each, no retry: 4 failed calls, below MinimumCalls (5)
			p.Execute(context.Background(), f.call)
		}
		families, _ = scrape(t, reg)
		if n := f.calls.Load(); n != 4 {
			t.Fatalf("backend saw %d calls, want 4", n)
		}
		checkSeries(t, families, breakerSeries("closed", 0, 4, -1, -1))
		checkSeries(t, families, []r4jWant{{"resilience4j_retry_calls_total", dto.MetricType_COUNTER,
			map[string]string{"name": RetryName, "kind": "failed_without_retry"}, 4}})
	})

	t.Run("opened after the minimum calls", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		f := newFakeBackend(t)
		cfg := testConfig()
		cfg.MaxRetries = 0
		tune(&cfg)
		p, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		p.Execute(context.Background(), f.call) // 1 success
		families, _ := scrape(t, reg)
		checkSeries(t, families, breakerSeries("closed", 1, 0, -1, -1))
		f.mode.Store(modeFail)
		for range 4 { // 4 failures: 5 calls buffered (MinimumCalls), 4/5 failed >= 50 %: OPEN
			p.Execute(context.Background(), f.call)
		}
		p.Execute(context.Background(), f.call) // rejected
		families, text := scrape(t, reg)
		if n := f.calls.Load(); n != 5 {
			t.Fatalf("backend saw %d calls, want 5", n)
		}
		s := p.Snapshot()
		if s.CircuitBreaker.State != StateOpen || s.CircuitBreaker.BufferedCalls != 5 || s.CircuitBreaker.FailedCalls != 4 {
			t.Fatalf("snapshot %+v, want OPEN with 5 buffered, 4 failed", s.CircuitBreaker)
		}
		checkSeries(t, families, breakerSeries("open", 1, 4, 80, 0))
		rc := func(kind string) map[string]string { return map[string]string{"name": RetryName, "kind": kind} }
		c := dto.MetricType_COUNTER
		checkSeries(t, families, []r4jWant{
			{"resilience4j_circuitbreaker_not_permitted_calls_total", c, map[string]string{"name": BreakerName}, float64(s.CircuitBreaker.NotPermittedCalls)},
			{"resilience4j_retry_calls_total", c, rc("successful_without_retry"), 1},
			{"resilience4j_retry_calls_total", c, rc("successful_with_retry"), 0},
			{"resilience4j_retry_calls_total", c, rc("failed_without_retry"), 5}, // 4 failed + 1 rejected
			{"resilience4j_retry_calls_total", c, rc("failed_with_retry"), 0},
		})
		if s.CircuitBreaker.NotPermittedCalls != 1 {
			t.Errorf("not permitted = %d, want 1", s.CircuitBreaker.NotPermittedCalls)
		}
		if h := families["resilience4j_circuitbreaker_calls_seconds"]; h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("resilience4j_circuitbreaker_calls_seconds missing or not a histogram")
		}
		if strings.Contains(text, "max_buffered_calls") {
			t.Errorf("the removed max_buffered_calls is exported")
		}
		promtoolCheck(t, text)
	})

	t.Run("without a breaker", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(retryOnlyConfig(), Options{Logger: slog.New(slog.DiscardHandler), Registry: reg}); err != nil {
			t.Fatal(err)
		}
		families, _ := scrape(t, reg)
		checkSeries(t, families, breakerSeries("disabled", 0, 0, -1, -1))
	})
}

// promtoolCheck runs `promtool check metrics` on an exposition, when promtool is installed.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (apt-get install prometheus): exposition lint skipped")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
