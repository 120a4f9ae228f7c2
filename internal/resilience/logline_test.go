package resilience

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"chaoslab/internal/results"
)

// TestLogRecordsDecode runs the failing scenario with a JSON handler at debug level and reads
// every line back with results.DecodeLogLine, the lab's one decoder, so the attributes this
// package writes and the ones the lab reads cannot drift apart.
func TestLogRecordsDecode(t *testing.T) {
	var buf logBuffer
	failingScenario(t, debugLogger(&buf), prometheus.NewRegistry())
	const cause = "backend answered 500 Internal Server Error"
	attempt := func(n int) results.Event {
		return results.Event{Kind: results.KindAttempt, Attempt: n, Outcome: results.OutcomeFailure, Error: cause, RequestID: 42}
	}
	retry := func(n int, waitMS float64) results.Event {
		return results.Event{Kind: results.KindRetry, Attempt: n, WaitMS: waitMS, Error: cause, RequestID: 42}
	}
	want := []results.Event{
		attempt(1), retry(1, 10), attempt(2), retry(2, 20), attempt(3),
		{Kind: results.KindBreaker, From: "CLOSED", To: "OPEN"},
		{Kind: results.KindFallback, Error: cause, RequestID: 42},
	}
	got := buf.events(t)
	for i := range got {
		if got[i].Time.IsZero() || (got[i].Kind == results.KindAttempt) != (got[i].DurationMS > 0) {
			t.Errorf("event %d: time %v, duration %vms; want a time, and a duration on attempts only", i+1, got[i].Time, got[i].DurationMS)
		}
		got[i].Time, got[i].DurationMS = time.Time{}, 0
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded events:\n%+v\nwant\n%+v", got, want)
	}
}

// TestAttemptRecords: one attempt record per backend call, numbered from 1 within its request,
// with the outcome the breaker counted and the request's id; their number is Outcome.Attempts.
func TestAttemptRecords(t *testing.T) {
	tests := []struct {
		name     string
		enabled  bool
		mode     int32
		cancel   bool // the caller gives up at a third of the attempt timeout
		outcomes []string
	}{
		{"success", true, modeOK, false, []string{success}},
		{"5xx is retried", true, modeFail, false, []string{failure, failure, failure, failure}},
		{"404 counts as a success", true, mode404, false, []string{success}},
		{"attempt timeouts fail", true, modeHang, false, []string{failure, failure, failure, failure}},
		{"a cancelled caller is ignored", true, modeHang, true, []string{ignored}},
		{"baseline success", false, modeOK, false, []string{success}},
		{"baseline 5xx", false, modeFail, false, []string{failure}},
		{"baseline cancelled caller", false, modeHang, true, []string{ignored}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(tt.mode)
			cfg := testConfig()
			cfg.Enabled = tt.enabled
			p, logs, _ := newTestPipeline(t, cfg)
			id := uint64(100 + i)
			ctx := WithRequestID(context.Background(), id)
			var out Outcome
			if tt.cancel {
				out = executeCancelled(p, ctx, f.call, cfg.AttemptTimeout/3)
			} else {
				out = p.Execute(ctx, f.call)
			}
			got := attemptOutcomes(t, logs, id)
			if !slices.Equal(got, tt.outcomes) || out.Attempts != len(got) {
				t.Errorf("attempt records %v, Outcome.Attempts %d; want %v", got, out.Attempts, tt.outcomes)
			}
		})
	}
}

// TestRejectedCallIsNoAttempt: a call the breaker rejects makes no attempt record, and the
// fallback record still carries the request's id.
func TestRejectedCallIsNoAttempt(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cfg := testConfig()
	cfg.MaxRetries, cfg.SlidingWindow, cfg.MinimumCalls = 0, 1, 1
	p, logs, _ := newTestPipeline(t, cfg)
	p.Execute(WithRequestID(context.Background(), 1), f.call) // opens the breaker
	out := p.Execute(WithRequestID(context.Background(), 2), f.call)
	if got := attemptOutcomes(t, logs, 2); out.Attempts != 0 || len(got) != 0 {
		t.Errorf("rejected request: Outcome.Attempts %d, attempt records %v; want none", out.Attempts, got)
	}
	if got := attemptOutcomes(t, logs, 1); !slices.Equal(got, []string{failure}) {
		t.Errorf("request 1's attempt records = %v, want one failure", got)
	}
	var fallbacks []uint64
	for _, e := range logs.events(t) {
		if e.Kind == results.KindFallback {
			fallbacks = append(fallbacks, e.RequestID)
		}
	}
	if !slices.Equal(fallbacks, []uint64{1, 2}) {
		t.Errorf("fallback records carry request ids %v, want [1 2]", fallbacks)
	}
}

// attemptOutcomes returns the outcomes of request id's attempt records, checking that they are
// numbered 1, 2, ... and that every record of a request carries its id.
func attemptOutcomes(t *testing.T, logs *logBuffer, id uint64) []string {
	t.Helper()
	var out []string
	for _, e := range logs.events(t) {
		if e.Kind != results.KindBreaker && e.RequestID == 0 {
			t.Errorf("%s record without a request id: %+v", e.Kind, e)
		}
		if e.Kind != results.KindAttempt || e.RequestID != id {
			continue
		}
		out = append(out, e.Outcome)
		if e.Attempt != len(out) {
			t.Errorf("attempt record #%d numbered %d", len(out), e.Attempt)
		}
	}
	return out
}
