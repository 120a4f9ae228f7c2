package client

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// TestRequestIDForwarded: every backend attempt carries the incoming X-Request-Id as it came;
// a request without one sends none.
func TestRequestIDForwarded(t *testing.T) {
	tests := []struct {
		name, header string
	}{
		{"a numeric id", "17"},
		{"any other id, as it came", "edge-4f2a"},
		{"none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(modeFail)
			cl := start(t, Run, fastEnv(f.srv.URL, "RETRY_MAX_RETRIES", "2"))
			req, err := http.NewRequest(http.MethodGet, cl.URL+"/api/data", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set(results.RequestIDHeader, tt.header)
			}
			decodeAnswer(t, req, nil)
			seen := f.seen()
			if len(seen) != 3 {
				t.Fatalf("%d backend calls, want 3", len(seen))
			}
			for i, h := range seen {
				if got := h.Values(results.RequestIDHeader); (tt.header == "" && len(got) != 0) ||
					(tt.header != "" && (len(got) != 1 || got[0] != tt.header)) {
					t.Errorf("attempt %d sent %s %q, want %q", i+1, results.RequestIDHeader, got, tt.header)
				}
			}
		})
	}
}

// rawJSON fetches url and returns its JSON object's keys and values, undecoded.
func rawJSON(t *testing.T, url string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	getJSON(t, url, &m)
	return m
}

// TestTierUnset: without TIER no record, answer or metric mentions a tier.
func TestTierUnset(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "LOG_LEVEL", "debug", "CB_SLIDING_WINDOW", "5"))
	for range 5 {
		getJSON(t, cl.URL+"/api/data", nil)
	}
	if _, ok := rawJSON(t, cl.URL+"/api/resilience")["tier"]; ok {
		t.Errorf("/api/resilience has a tier without TIER")
	}
	if strings.Contains(scrapeMetrics(t, cl.URL), "tier") {
		t.Errorf("/metrics mentions a tier without TIER")
	}
	for _, r := range cl.Logs.records() {
		if _, ok := r[results.AttrTier]; ok {
			t.Errorf("record %v has a tier without TIER", r)
		}
	}
}

// TestTierSet: with TIER=edge every record of the service carries tier=edge (retry, breaker,
// fallback and attempt records included), /api/resilience says it, and every metric has it as
// a constant label.
func TestTierSet(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "TIER", "edge", "LOG_LEVEL", "debug", "CB_SLIDING_WINDOW", "5"))
	for range 5 { // the breaker opens
		getJSON(t, cl.URL+"/api/data", nil)
	}
	if got := string(rawJSON(t, cl.URL+"/api/resilience")["tier"]); got != `"edge"` {
		t.Errorf("/api/resilience tier = %s, want \"edge\"", got)
	}
	kinds := map[string]bool{}
	for _, r := range cl.Logs.records() {
		if r[results.AttrTier] != "edge" {
			t.Errorf("record without tier=edge: %v", r)
		}
		if e, _ := r[results.AttrEvent].(string); e != "" {
			kinds[e] = true
		}
	}
	for _, k := range []string{results.LogRetry, results.LogBreaker, results.LogFallback, results.LogAttempt} {
		if !kinds[k] {
			t.Errorf("no %s record to check", k)
		}
	}
	samples := 0
	for line := range strings.Lines(scrapeMetrics(t, cl.URL)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		samples++
		if !strings.Contains(line, `tier="edge"`) {
			t.Errorf("metric without tier=\"edge\": %s", strings.TrimSpace(line))
		}
	}
	if samples == 0 {
		t.Errorf("no metric samples")
	}
}

func TestTierNames(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"a word", "edge", true},
		{"with digits, dash, dot, underscore", "mid-2.b_c", true},
		{"capitals", "Edge", true},
		{"63 characters", strings.Repeat("a", 63), true},
		{"64 characters", strings.Repeat("a", 64), false},
		{"a space", "mid tier", false},
		{"a quote", `e"dge`, false},
		{"starts with a dash", "-edge", false},
		{"ends with a dot", "edge.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := envOf(map[string]string{"TIER": tt.value})
			c, err := LoadConfig(env)
			if tt.ok {
				if err != nil || c.Tier != tt.value || c.Effective()["TIER"] != tt.value {
					t.Errorf("TIER=%q: %v, tier %q", tt.value, err, c.Tier)
				}
				return
			}
			checkUsageError(t, err, "TIER")
			checkUsageError(t, Run(t.Context(), nil, env, io.Discard, io.Discard), "TIER")
		})
	}
}
