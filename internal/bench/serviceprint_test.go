package bench

import (
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

func fakeRun(scale int64) ServiceRun {
	ms := func(n int64) results.Duration { return results.Duration(time.Duration(n) * time.Millisecond) }
	q := Quantiles{N: 10, P50: ms(scale), P99: ms(2 * scale), P999: ms(3 * scale), Max: ms(4 * scale)}
	return ServiceRun{
		Open: []OpenRow{
			{RPS: 200, State: StateHealthy, Requests: 1000, Backend: 1000, Latency: q, Lag: q, InState: ms(5000), Periods: 1},
			{RPS: 200, State: StateOpen, Requests: 990, Fallback: 990, Latency: q, Lag: q, InState: ms(4950), Periods: 5},
			{RPS: 200, State: StateHalfOpen, InState: ms(0), Periods: 0},
		},
		Closed: []ClosedTarget{
			{Name: TargetClient, Backend: 300 * scale, Slices: []int64{100 * scale, 200 * scale}, PerSecond: float64(30 * scale)},
			{Name: TargetReverseProxy, Backend: 400 * scale, Slices: []int64{200 * scale, 200 * scale}, PerSecond: float64(40 * scale)},
		},
		Counts: []CountCheck{{Part: "closed loop, every target", Served: 700 * scale, Counted: 700 * scale}},
	}
}

// Every column the table prints is defined in --help, and the figures are the runs'.
func TestServiceTable(t *testing.T) {
	var b strings.Builder
	if err := WriteServiceTable(&b, []ServiceRun{fakeRun(1)}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, c := range openColumns() {
		if !strings.Contains(ServiceDefinitions, c.name) {
			t.Errorf("column %q is not defined in ServiceDefinitions", c.name)
		}
	}
	for _, want := range []string{"answers/s", "x " + TargetReverseProxy, "fallback, errors", "Count checks"} {
		if !strings.Contains(ServiceDefinitions, strings.TrimSpace(strings.SplitN(want, " ", 2)[0])) {
			t.Errorf("%q is not defined", want)
		}
	}
	for _, want := range []string{
		"0.75 [0.50 - 1.00]",              // client-service / reverse-proxy: 300/400 in all, 100/200 and 200/200 per round
		"5.00 s (1)", "4.95 s (5)", "n/a", // HALF_OPEN had no request: no percentiles
		"backend served 700, bench got 700 backend answers + 0 failed calls that may have reached it: agree",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q", want)
		}
	}
}

// With several runs, a cell is the median and the spread.
func TestServiceTableRuns(t *testing.T) {
	var b strings.Builder
	bad := fakeRun(3)
	bad.Counts[0].Served++ // one more than its answers, and no failed call to explain it
	if err := WriteServiceTable(&b, []ServiceRun{fakeRun(1), fakeRun(2), bad}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"60 [30 - 90]",                // client-service answers/s
		"2.00 ms [1.00 ms - 3.00 ms]", // p50
		"DISAGREE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
	if r, ok := MedianRatio([]ServiceRun{fakeRun(1), fakeRun(2)}, TargetClient, TargetReverseProxy); !ok || r != 0.75 {
		t.Errorf("MedianRatio = %v, %v; want 0.75", r, ok)
	}
}
