package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// TestStepRecovery checks the figure against hand-made runs: requests every 10 ms during a
// 1 s fault, the first k answered by the fallback.
func TestStepRecovery(t *testing.T) {
	on := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	off := on.Add(time.Second)
	run := func(fallbacks int, extra ...int) *report.Analysis {
		a := &report.Analysis{FaultOn: &on, FaultOff: &off}
		a.Records = append(a.Records, results.Record{Start: on.Add(-time.Millisecond), Source: results.SourceFallback}) // before: not counted
		for i := range 100 {
			src := results.SourceBackend
			if i < fallbacks {
				src = results.SourceFallback
			}
			for _, j := range extra {
				if i == j {
					src = results.SourceFallback
				}
			}
			a.Records = append(a.Records, results.Record{Start: on.Add(time.Duration(i) * 10 * time.Millisecond), Source: src})
		}
		a.Records = append(a.Records, results.Record{Start: off, Source: results.SourceFallback}) // after: not counted
		return a
	}
	tests := []struct {
		name string
		a    *report.Analysis
		want *time.Duration
	}{
		{"backend from the start", run(0), ptr(0)},
		{"30 fallbacks, then the backend", run(30), ptr(300 * time.Millisecond)},
		// After request 30, one fallback in the last 70 is 98.6 %: under 99 %, so the figure
		// starts after that fallback... unless the window from an earlier start holds 99 %.
		{"a late stray fallback", run(30, 90), ptr(910 * time.Millisecond)},
		{"never", run(100), nil},
		{"no fault removal", &report.Analysis{FaultOn: &on}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StepRecovery(tt.a, 0.99)
			switch {
			case (got == nil) != (tt.want == nil):
				t.Fatalf("StepRecovery = %v, want %v", got, tt.want)
			case got != nil && *got != *tt.want:
				t.Errorf("StepRecovery = %v, want %v", *got, *tt.want)
			}
		})
	}
}

func ptr(d time.Duration) *time.Duration { return &d }

// TestClosedLoopCounts: the loop's counts of backend and fallback answers add up to the
// requests the server counted itself, but for those cut in flight at the end (at most one per
// worker); a non-200 answer is an error.
func TestClosedLoopCounts(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		if n%4 == 0 {
			w.Header().Set("X-Fallback", "true")
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	const workers = 3
	backend, fallback, err := closedLoop(context.Background(), srv.Client(), srv.URL, workers, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	total := backend + fallback
	if s := served.Load(); total > s || total < s-workers || total == 0 {
		t.Errorf("loop counted %d answers (%d backend, %d fallback), the server served %d", total, backend, fallback, s)
	}
	if fallback < total/4-workers || fallback > total/4+workers {
		t.Errorf("%d fallbacks of %d answers, want a quarter", fallback, total)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer bad.Close()
	if _, _, err := closedLoop(context.Background(), bad.Client(), bad.URL, 1, time.Second); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("a 502 on a healthy backend: err %v, want one naming 502", err)
	}
}

func TestWriteTable(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	fig := func(p string, fallback time.Duration, tp float64) Figures {
		return Figures{Profile: p, FaultToFallback: d(fallback), HealToBackend: nil, HealthyCalls: 1000, HealthyTimeouts: 1,
			Amplification: 1.5, BackendShare: 0.5, Answered: 1, ErrorRequests: 100, StepRecovery: d(0), Throughput: tp}
	}
	runs := [][]Figures{
		{fig("on", time.Second, 1000), fig("adaptive", 100*time.Millisecond, 900)},
		{fig("on", 2*time.Second, 1000), fig("adaptive", 100*time.Millisecond, 1100)},
	}
	var b strings.Builder
	if err := WriteTable(&b, runs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"adaptive / on",
		"1.50 s [1.00 s - 2.00 s]",        // on's median and spread
		"0.075 [0.05 - 0.1]",              // ratios within each run: 0.1/1 and 0.1/2
		"0.10%",                           // 1 of 1000 healthy calls
		"1000/s  1000/s [900/s - 1100/s]", // throughput, and the ratio 0.9 and 1.1
		"1 [0.9 - 1.1]",
		"n/a", // heal -> first backend never seen
		"2 run(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
